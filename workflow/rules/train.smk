rule train_glue:
    """One GLUE run: (model, task, method, rank, seed) → metrics.json."""
    input:
        plugin_input,
    output:
        f"{RESULTS}/runs/{RUN_PATTERN}/metrics.json",
    log:
        f"{RESULTS}/logs/train_glue/{RUN_PATTERN}.log",
    benchmark:
        f"{RESULTS}/benchmarks/train_glue/{RUN_PATTERN}.tsv"
    conda:
        ENV
    threads: CFG["threads_per_run"]
    resources:
        # A retry (the profiles' `retries`) asks for one more multiple: a job killed for memory comes back bigger.
        mem_mb=lambda wildcards, attempt: CFG["mem_mb_per_run"] * attempt,
    params:
        spec=lambda wildcards: lb_config.run_spec(CFG, run_key(wildcards)),
        code=TRAINING_CODE,
    script:
        "../scripts/train_glue.py"
