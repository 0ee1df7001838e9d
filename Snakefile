# lora-bench: reproduce Hu et al. 2021 (LoRA). `snakemake --cores all` runs config.yaml end to end;
# `snakemake table2_glue` rebuilds one table (and whatever runs it is missing).
from snakemake.utils import min_version

min_version("9.0")


# A profile given with --configfile is a whole config, not a patch on config.yaml
# (several --configfile files still merge, left to right).
if not workflow.overwrite_configfiles:

    configfile: "config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/tables.smk"
include: "workflow/rules/prefetch.smk"
include: "workflow/rules/compare.smk"


report: "workflow/report/workflow.rst"


include: "workflow/rules/efficiency.smk"
include: "workflow/rules/analysis.smk"
include: "workflow/rules/nlg.smk"


rule all:
    default_target: True
    input:
        RUN_OUTPUTS,
        E2E_RUN_OUTPUTS,
        WEBNLG_DART_RUN_OUTPUTS,
        TABLES,
        FIGURES,
