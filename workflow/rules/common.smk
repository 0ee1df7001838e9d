# Validate the config before any job starts, and expand it into the run grid.
from snakemake.exceptions import WorkflowError

from lora_bench import config as lb_config
from lora_bench import prefetch as lb_prefetch
from lora_bench.provenance import NLG_CODE, code_version
from lora_bench.methods import plugin_source

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


# The NLG grid (see workflow/rules/nlg.smk): each run is train → decode → score in one folder.
NLG_PATTERN = "{model}/{task}/{method}/r{rank}/seed{seed}"
NLG_DIR = f"{RESULTS}/runs_nlg/{NLG_PATTERN}"
NLG_RUNS = lb_config.nlg_runs(CFG)
E2E_RUN_OUTPUTS = [f"{lb_config.nlg_run_dir(CFG, k)}/metrics.json" for k in NLG_RUNS if k.task == "e2e"]
WEBNLG_DART_RUN_OUTPUTS = [f"{lb_config.nlg_run_dir(CFG, k)}/metrics.json" for k in NLG_RUNS if k.task != "e2e"]

if E2E_RUN_OUTPUTS:
    TABLES += [f"{RESULTS}/tables/table3_e2e.csv", f"{RESULTS}/tables/table3_e2e.md"]
    FIGURES += [f"{RESULTS}/figures/fig_e2e_params.png"]
if WEBNLG_DART_RUN_OUTPUTS:
    TABLES += [f"{RESULTS}/tables/table_webnlg_dart.csv", f"{RESULTS}/tables/table_webnlg_dart.md"]


# Training also depends on the NLG training code (the GLUE runs' hash leaves nlg.py out).
NLG_TRAINING_CODE = code_version(NLG_CODE)


def nlg_spec(wildcards):
    return lb_config.nlg_run_spec(CFG, run_key(wildcards))


def nlg_train_spec(wildcards):
    """What training depends on: a decoding setting changed in the config must not retrain."""
    return {k: v for k, v in nlg_spec(wildcards).items() if k != "decode"}
