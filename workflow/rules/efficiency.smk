# Efficiency: Table 1 / Figure 5 (inference latency) and the training-cost table, from the config's optional
# `efficiency:` section. Benchmarks, not runs: each measuring job takes every core Snakemake was given, so
# nothing runs beside it and its timings measure the method, not the neighbours.

if CFG.get("efficiency"):
    EFFICIENCY = f"{RESULTS}/efficiency"
    TRAIN_COST_METHODS = list(lb_config.train_cost_methods(CFG))
    TRAIN_COST_MEMORY = expand(f"{EFFICIENCY}/train_memory/{{label}}.json", label=TRAIN_COST_METHODS)
    TABLES += [
        f"{RESULTS}/tables/table1_latency.csv",
        f"{RESULTS}/tables/table1_latency.md",
        f"{RESULTS}/tables/train_cost.csv",
        f"{RESULTS}/tables/train_cost.md",
    ]
    FIGURES += [f"{RESULTS}/figures/fig5_latency.png"]

    rule table1_latency:
        """Table 1: forward-pass latency of base, merged/unmerged LoRA, AdapterL, AdapterH, beside the paper; also
        Figure 5, which draws the same measurement."""
        input:
            f"{EFFICIENCY}/latency.json",
            f"{RESULTS}/tables/table1_latency.csv",
            f"{RESULTS}/tables/table1_latency.md",
            f"{RESULTS}/figures/fig5_latency.png",

    rule fig5_latency:
        """Figure 5: slow-down over the base model vs batch size, one panel per sequence length."""
        input:
            f"{EFFICIENCY}/latency.json",
            f"{RESULTS}/figures/fig5_latency.png",

    rule table_train_cost:
        """Training step time, peak memory, optimizer state and checkpoint size per method, ratios to FT."""
        input:
            TRAIN_COST_MEMORY,
            f"{EFFICIENCY}/train_step_time.json",
            f"{RESULTS}/tables/train_cost.csv",
            f"{RESULTS}/tables/train_cost.md",

    rule measure_latency:
        output:
            f"{EFFICIENCY}/latency.json",
        log:
            f"{RESULTS}/logs/efficiency/latency.log",
        benchmark:
            f"{RESULTS}/benchmarks/efficiency/latency.tsv"
        conda:
            ENV
        threads: workflow.cores
        params:
            spec=lb_config.latency_spec(CFG),
        script:
            "../scripts/measure_latency.py"

    rule measure_train_memory:
        """Peak memory of one method's training, in a process of its own."""
        output:
            f"{EFFICIENCY}/train_memory/{{label}}.json",
        log:
            f"{RESULTS}/logs/efficiency/train_memory/{{label}}.log",
        benchmark:
            f"{RESULTS}/benchmarks/efficiency/train_memory/{{label}}.tsv"
        wildcard_constraints:
            label="|".join(TRAIN_COST_METHODS),
        conda:
            ENV
        threads: workflow.cores
        params:
            spec=lambda wildcards: lb_config.train_cost_spec(CFG, [wildcards.label]),
        script:
            "../scripts/measure_train_memory.py"

    rule measure_train_step_time:
        """Training step time of every method, interleaved in one process."""
        output:
            f"{EFFICIENCY}/train_step_time.json",
        log:
            f"{RESULTS}/logs/efficiency/train_step_time.log",
        benchmark:
            f"{RESULTS}/benchmarks/efficiency/train_step_time.tsv"
        conda:
            ENV
        threads: workflow.cores
        params:
            spec=lb_config.train_cost_spec(CFG),
        script:
            "../scripts/measure_train_step_time.py"

    rule aggregate_table1_latency:
        input:
            f"{EFFICIENCY}/latency.json",
        output:
            csv=f"{RESULTS}/tables/table1_latency.csv",
            md=f"{RESULTS}/tables/table1_latency.md",
        log:
            f"{RESULTS}/logs/table1_latency.log",
        conda:
            ENV
        script:
            "../scripts/table1_latency.py"

    rule plot_fig5_latency:
        input:
            f"{RESULTS}/tables/table1_latency.csv",
        output:
            f"{RESULTS}/figures/fig5_latency.png",
        log:
            f"{RESULTS}/logs/fig5_latency.log",
        conda:
            ENV
        script:
            "../scripts/fig5_latency.py"

    rule aggregate_table_train_cost:
        input:
            memory=TRAIN_COST_MEMORY,
            step=f"{EFFICIENCY}/train_step_time.json",
        output:
            csv=f"{RESULTS}/tables/train_cost.csv",
            md=f"{RESULTS}/tables/train_cost.md",
            claims=f"{RESULTS}/tables/train_cost_claims.csv",
        log:
            f"{RESULTS}/logs/train_cost.log",
        conda:
            ENV
        script:
            "../scripts/table_train_cost.py"
