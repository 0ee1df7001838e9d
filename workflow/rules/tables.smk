rule table2_glue:
    """Table 2: GLUE dev metrics, median over seeds, beside the paper's numbers."""
    input:
        RUN_OUTPUTS,
    output:
        csv=f"{RESULTS}/tables/table2_glue.csv",
        md=f"{RESULTS}/tables/table2_glue.md",
    log:
        f"{RESULTS}/logs/table2_glue.log",
    params:
        reference=CFG["paper_reference_model"],
    script:
        "../scripts/table2_glue.py"


rule fig_glue_params:
    """GLUE metric vs trainable parameters (log x), one panel per task."""
    input:
        f"{RESULTS}/tables/table2_glue.csv",
    output:
        f"{RESULTS}/figures/fig_glue_params.png",
    log:
        f"{RESULTS}/logs/fig_glue_params.log",
    script:
        "../scripts/fig_glue_params.py"
