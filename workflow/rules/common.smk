# Validate the config before any job starts, and expand it into the run grid.
from snakemake.exceptions import WorkflowError

from lora_bench import config as lb_config
from lora_bench import prefetch as lb_prefetch
from lora_bench.provenance import code_version
from lora_bench.methods import plugin_source

try:
    CFG = lb_config.validate(config)
except lb_config.ConfigError as e:
    raise WorkflowError(str(e)) from None

RESULTS = CFG["results_dir"]
RUNS = lb_config.runs(CFG)
RUN_OUTPUTS = [f"{lb_config.run_dir(CFG, k)}/metrics.json" for k in RUNS]
TABLES = [f"{RESULTS}/tables/table2_glue.csv", f"{RESULTS}/tables/table2_glue.md"]
FIGURES = [f"{RESULTS}/figures/fig_glue_params.png"]
# The (method, rank) every table compares against per seed, when the config has a `compare:` section.
BASELINE = [CFG["compare"]["baseline"], CFG["compare"]["baseline_rank"]] if "compare" in CFG else None

RUN_PATTERN = "{model}/{task}/{method}/r{rank}/seed{seed}"

# The software every rule runs with, for `--sdm conda` (relative to the rule files, all in workflow/rules).
ENV = "../envs/lora-bench.yaml"

# A hash of the package's training code, a param of every training job: editing that code reruns the runs.
TRAINING_CODE = code_version()


wildcard_constraints:
    rank=r"\d+",
    seed=r"\d+",


def run_key(wildcards):
    return lb_config.RunKey(wildcards.model, wildcards.task, wildcards.method, int(wildcards.rank), int(wildcards.seed))


def plugin_input(wildcards):
    """A plugin method's runs depend on the plugin's file: editing the method reruns its runs, and only them."""
    spec = lb_config.run_spec(CFG, run_key(wildcards))
    return [str(plugin_source(spec["plugin"]))] if "plugin" in spec else []


def compare_runs(wildcards=None):
    if "compare" not in CFG:
        raise WorkflowError("`compare` needs a `compare:` section in the config (baseline: <a method under methods:>)")
    names = set(CFG["compare"]["methods"]) | {CFG["compare"]["baseline"]}
    return [f"{lb_config.run_dir(CFG, k)}/metrics.json" for k in RUNS if k.method in names]


# Section 7's runs, by table or figure (see workflow/rules/analysis.smk).
ANALYSIS_RUNS = CFG.get("analysis_runs") or {}


def analysis_runs(name):
    if name not in ANALYSIS_RUNS:
        raise WorkflowError(f"{name}: the config has no 'analysis:' section (config.yaml has one)")
    return [f"{lb_config.run_dir(CFG, k)}/metrics.json" for k in ANALYSIS_RUNS[name]]


def section7_files(name):
    return [f"{RESULTS}/tables/{name}.csv", f"{RESULTS}/tables/{name}.md", f"{RESULTS}/figures/{name}.png"]


for _name in ANALYSIS_RUNS:
    TABLES += section7_files(_name)[:2]
    FIGURES += section7_files(_name)[2:]
