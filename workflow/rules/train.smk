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
    params:
        spec=lambda wildcards: lb_config.run_spec(CFG, run_key(wildcards)),
    threads: CFG["threads_per_run"]
    resources:
        mem_mb=4000,
    script:
        "../scripts/train_glue.py"
