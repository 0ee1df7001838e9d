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


def compare_runs(wildcards=None):
    if "compare" not in CFG:
        raise WorkflowError("`compare` needs a `compare:` section in the config (baseline: <a method under methods:>)")
    names = set(CFG["compare"]["methods"]) | {CFG["compare"]["baseline"]}
    return [f"{lb_config.run_dir(CFG, k)}/metrics.json" for k in RUNS if k.method in names]


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
    params:
        reference=CFG["paper_reference_model"],
        baseline=BASELINE,
    script:
        "../scripts/compare.py"


rule plot_fig_compare_pareto:
    input:
        f"{RESULTS}/tables/compare.csv",
    output:
        report(f"{RESULTS}/figures/fig_compare_pareto.png", caption="../report/fig_compare_pareto.rst",
               category="Figures"),
    log:
        f"{RESULTS}/logs/fig_compare_pareto.log",
    script:
        "../scripts/fig_compare_pareto.py"
