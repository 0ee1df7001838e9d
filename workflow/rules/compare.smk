# `snakemake compare`: the config's `compare:` methods against its baseline, seed by seed, with the paper beside
# them: a table and a Pareto figure (metric vs trainable parameters and vs peak training memory).
COMPARE_OUTPUTS = [
    f"{RESULTS}/tables/compare.csv",
    f"{RESULTS}/tables/compare.md",
    f"{RESULTS}/figures/fig_compare_pareto.png",
]
if "compare" in CFG:
    TABLES += COMPARE_OUTPUTS[:2]
    FIGURES += COMPARE_OUTPUTS[2:]


rule compare:
    """The comparison table and its Pareto figure, plus any run they are missing."""
    input:
        compare_runs,
        COMPARE_OUTPUTS,


rule aggregate_compare:
    input:
        compare_runs,
    output:
        csv=report(f"{RESULTS}/tables/compare.csv", caption="../report/compare.rst", category="Tables"),
        md=f"{RESULTS}/tables/compare.md",
    log:
        f"{RESULTS}/logs/compare.log",
    benchmark:
        f"{RESULTS}/benchmarks/compare.tsv"
    conda:
        ENV
    params:
        reference=CFG["paper_reference_model"],
        baseline=BASELINE,
    script:
        "../scripts/compare.py"


rule plot_fig_compare_pareto:
    input:
        f"{RESULTS}/tables/compare.csv",
    output:
        report(
            f"{RESULTS}/figures/fig_compare_pareto.png", caption="../report/fig_compare_pareto.rst", category="Figures"
        ),
    log:
        f"{RESULTS}/logs/fig_compare_pareto.log",
    conda:
        ENV
    script:
        "../scripts/fig_compare_pareto.py"
