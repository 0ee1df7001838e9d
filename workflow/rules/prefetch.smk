# Air-gapped clusters: `snakemake prefetch` where there is internet puts every model and dataset the config
# needs under resources_dir; runs then read only from there (README, "Air-gapped clusters"). These are local
# rules: under a cluster executor they run on the submitting host, which has the network the nodes lack.
RESOURCES = CFG["resources_dir"]
PREFETCHED = [str(lb_prefetch.model_path(RESOURCES, m)) for m in lb_prefetch.models_needed(CFG)] + [
    str(lb_prefetch.split_path(RESOURCES, t, s)) for t, s in lb_prefetch.splits_needed(CFG)
]


localrules:
    prefetch,
    prefetch_model,
    prefetch_glue,


rule prefetch:
    """Every model and GLUE split of the config, under resources_dir."""
    input:
        PREFETCHED,


rule prefetch_model:
    output:
        directory(f"{RESOURCES}/models/{{model}}"),
    log:
        f"{RESULTS}/logs/prefetch/models/{{model}}.log",
    conda:
        ENV
    params:
        model_dir=CFG["model_dir"],
    script:
        "../scripts/prefetch_model.py"


rule prefetch_glue:
    output:
        f"{RESOURCES}/data/glue/{{task}}/{{split}}.jsonl",
    log:
        f"{RESULTS}/logs/prefetch/glue/{{task}}/{{split}}.log",
    conda:
        ENV
    params:
        data_dir=CFG["data_dir"],
    script:
        "../scripts/prefetch_glue.py"
