# The paper's Section 7 (Tables 5-7, Figures 3-4) and two of its future directions, from the config's
# `analysis:` section. Their runs are ordinary runs of train_glue: method variants that lora_bench/analysis/grid.py
# adds to the grid, each trained once however many of these outputs read it.
from lora_bench.report.section7 import OUTPUTS as SECTION7

SECTION7_SETTINGS = {
    "reference": CFG["paper_reference_model"],
    "energy": (CFG.get("analysis") or {}).get("effective_rank", {}).get("energy"),
}


rule table5_weight_types:
    """Table 5: LoRA on {Wq}, {Wk}, {Wv}, {Wo}, {Wq,Wk}, {Wq,Wv}, all four, under one parameter budget."""
    input:
        lambda w: analysis_runs("table5_weight_types"),
        section7_files("table5_weight_types"),


rule table6_rank:
    """Table 6: accuracy by LoRA rank, per set of adapted matrices."""
    input:
        lambda w: analysis_runs("table6_rank"),
        section7_files("table6_rank"),


rule fig3_subspace:
    """Figure 3: subspace similarity φ between the learned A of two ranks, per layer and matrix."""
    input:
        lambda w: analysis_runs("fig3_subspace"),
        section7_files("fig3_subspace"),


rule fig4_subspace_seeds:
    """Figure 4: subspace similarity φ between the learned A of two seeds at the larger rank."""
    input:
        lambda w: analysis_runs("fig4_subspace_seeds"),
        section7_files("fig4_subspace_seeds"),


rule table7_amplification:
    """Table 7: ‖UᵀWVᵀ‖_F for U,V of ΔW, of W and random, and the amplification factor, per layer."""
    input:
        lambda w: analysis_runs("table7_amplification"),
        section7_files("table7_amplification"),


rule fig_low_data:
    """Beyond the paper: dev metric vs number of training examples, per method."""
    input:
        lambda w: analysis_runs("fig_low_data"),
        section7_files("fig_low_data"),


rule fig_effective_rank:
    """Beyond the paper: spectrum of the learned ΔW per layer, and its effective rank."""
    input:
        lambda w: analysis_runs("fig_effective_rank"),
        section7_files("fig_effective_rank"),


rule section7:
    """Any one of the outputs above: CSV, Markdown and PNG, by lora_bench.report.section7.<name>."""
    input:
        lambda w: analysis_runs(w.analysis),
    output:
        csv=f"{RESULTS}/tables/{{analysis}}.csv",
        md=f"{RESULTS}/tables/{{analysis}}.md",
        png=f"{RESULTS}/figures/{{analysis}}.png",
    log:
        f"{RESULTS}/logs/section7/{{analysis}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/section7/{{analysis}}.tsv"
    wildcard_constraints:
        analysis="|".join(SECTION7),
    conda:
        ENV
    resources:
        mem_mb=2000,
    params:
        settings=SECTION7_SETTINGS,
    script:
        "../scripts/section7.py"
