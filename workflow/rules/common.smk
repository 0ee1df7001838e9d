# Validate the config before any job starts, and expand it into the run grid.
from snakemake.exceptions import WorkflowError

from lora_bench import config as lb_config

try:
    CFG = lb_config.validate(config)
except lb_config.ConfigError as e:
    raise WorkflowError(str(e)) from None

RESULTS = CFG["results_dir"]
RUNS = lb_config.runs(CFG)
RUN_OUTPUTS = [f"{lb_config.run_dir(CFG, k)}/metrics.json" for k in RUNS]
# A profile may hold only the NLG grid: then there is no GLUE table to make.
TABLES = [f"{RESULTS}/tables/table2_glue.csv", f"{RESULTS}/tables/table2_glue.md"] if RUNS else []
FIGURES = [f"{RESULTS}/figures/fig_glue_params.png"] if RUNS else []

RUN_PATTERN = "{model}/{task}/{method}/r{rank}/seed{seed}"


wildcard_constraints:
    rank=r"\d+",
    seed=r"\d+",


def run_key(wildcards):
    return lb_config.RunKey(
        wildcards.model, wildcards.task, wildcards.method, int(wildcards.rank), int(wildcards.seed)
    )
