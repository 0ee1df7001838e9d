# Each table and figure is a target rule named after it. Its inputs are the files *and* the runs behind them:
# Snakemake regenerates a deleted intermediate only when a target asks for it, so listing the runs here is what
# makes `snakemake table2_glue` recompute a run whose metrics.json was deleted (and then the table).


rule table2_glue:
    """Table 2: GLUE dev metrics, median over seeds, beside the paper's numbers."""
    input:
        RUN_OUTPUTS,
        f"{RESULTS}/tables/table2_glue.csv",
        f"{RESULTS}/tables/table2_glue.md",


rule fig_glue_params:
    """GLUE metric vs trainable parameters (log x), one panel per task."""
    input:
        RUN_OUTPUTS,
        f"{RESULTS}/figures/fig_glue_params.png",


rule aggregate_table2_glue:
    input:
        RUN_OUTPUTS,
    output:
        csv=report(f"{RESULTS}/tables/table2_glue.csv", caption="../report/table2_glue.rst", category="Tables"),
        md=f"{RESULTS}/tables/table2_glue.md",
    log:
        f"{RESULTS}/logs/table2_glue.log",
    conda:
        ENV
    params:
        reference=CFG["paper_reference_model"],
        baseline=BASELINE,
    script:
        "../scripts/table2_glue.py"


rule plot_fig_glue_params:
    input:
        f"{RESULTS}/tables/table2_glue.csv",
    output:
        report(f"{RESULTS}/figures/fig_glue_params.png", caption="../report/fig_glue_params.rst", category="Figures"),
    log:
        f"{RESULTS}/logs/fig_glue_params.log",
    conda:
        ENV
    script:
        "../scripts/fig_glue_params.py"
