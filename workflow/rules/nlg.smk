# NLG (Table 3: E2E; and the WebNLG/DART table): each run is train → decode → score in one folder, so a metric
# is recomputed from saved predictions and decoding settings change without retraining.


rule train_nlg:
    """One NLG run's training: (model, task, method, rank, seed) → trained parameters + training record."""
    output:
        record=f"{NLG_DIR}/train.json",
        weights=f"{NLG_DIR}/weights.safetensors",
    log:
        f"{RESULTS}/logs/train_nlg/{NLG_PATTERN}.log",
    benchmark:
        f"{RESULTS}/benchmarks/train_nlg/{NLG_PATTERN}.tsv"
    conda:
        ENV
    threads: CFG["threads_per_run"]
    resources:
        mem_mb=lambda wildcards, attempt: 6000 * attempt,
    params:
        spec=nlg_train_spec,
        code=NLG_TRAINING_CODE,
    script:
        "../scripts/train_nlg.py"


rule decode_nlg:
    """Beam search on the evaluation MRs with the trained run → predictions.txt + references.txt."""
    input:
        record=f"{NLG_DIR}/train.json",
        weights=f"{NLG_DIR}/weights.safetensors",
    output:
        predictions=f"{NLG_DIR}/predictions.txt",
        references=f"{NLG_DIR}/references.txt",
        record=f"{NLG_DIR}/decode.json",
    log:
        f"{RESULTS}/logs/decode_nlg/{NLG_PATTERN}.log",
    benchmark:
        f"{RESULTS}/benchmarks/decode_nlg/{NLG_PATTERN}.tsv"
    conda:
        ENV
    threads: CFG["threads_per_run"]
    resources:
        mem_mb=lambda wildcards, attempt: 6000 * attempt,
    params:
        spec=nlg_spec,
    script:
        "../scripts/decode_nlg.py"


rule score_nlg:
    """The task's official metrics on the saved predictions → the run record metrics.json."""
    input:
        f"{NLG_DIR}/train.json",
        f"{NLG_DIR}/decode.json",
        f"{NLG_DIR}/predictions.txt",
        f"{NLG_DIR}/references.txt",
    output:
        f"{NLG_DIR}/metrics.json",
    log:
        f"{RESULTS}/logs/score_nlg/{NLG_PATTERN}.log",
    benchmark:
        f"{RESULTS}/benchmarks/score_nlg/{NLG_PATTERN}.tsv"
    conda:
        ENV
    params:
        spec=nlg_spec,
    script:
        "../scripts/score_nlg.py"


rule table3_e2e:
    """Table 3: E2E NLG test, five official metrics, mean ± std over seeds, beside the paper's numbers."""
    input:
        E2E_RUN_OUTPUTS,
        f"{RESULTS}/tables/table3_e2e.csv",
        f"{RESULTS}/tables/table3_e2e.md",


rule fig_e2e_params:
    """E2E BLEU vs trainable parameters (log x), ours and the paper's."""
    input:
        E2E_RUN_OUTPUTS,
        f"{RESULTS}/figures/fig_e2e_params.png",


rule table_webnlg_dart:
    """WebNLG (all/seen/unseen) and DART: BLEU, METEOR, TER beside the paper's BLEU."""
    input:
        WEBNLG_DART_RUN_OUTPUTS,
        f"{RESULTS}/tables/table_webnlg_dart.csv",
        f"{RESULTS}/tables/table_webnlg_dart.md",


rule aggregate_table3_e2e:
    input:
        E2E_RUN_OUTPUTS,
    output:
        csv=f"{RESULTS}/tables/table3_e2e.csv",
        md=f"{RESULTS}/tables/table3_e2e.md",
    log:
        f"{RESULTS}/logs/table3_e2e.log",
    conda:
        ENV
    params:
        paper="table3_e2e",
        title="Table 3 — E2E NLG test",
        metrics=["BLEU", "NIST", "METEOR", "ROUGE_L", "CIDEr"],
        reference=CFG["nlg"]["paper_reference_model"] if NLG_RUNS else None,
    script:
        "../scripts/table_nlg.py"


rule aggregate_table_webnlg_dart:
    input:
        WEBNLG_DART_RUN_OUTPUTS,
    output:
        csv=f"{RESULTS}/tables/table_webnlg_dart.csv",
        md=f"{RESULTS}/tables/table_webnlg_dart.md",
    log:
        f"{RESULTS}/logs/table_webnlg_dart.log",
    conda:
        ENV
    params:
        paper="table_webnlg_dart",
        title="WebNLG and DART test",
        metrics=["BLEU", "METEOR", "TER"],
        reference=CFG["nlg"]["paper_reference_model"] if NLG_RUNS else None,
    script:
        "../scripts/table_nlg.py"


rule plot_fig_e2e_params:
    input:
        f"{RESULTS}/tables/table3_e2e.csv",
    output:
        f"{RESULTS}/figures/fig_e2e_params.png",
    log:
        f"{RESULTS}/logs/fig_e2e_params.log",
    conda:
        ENV
    script:
        "../scripts/fig_e2e_params.py"
