"""The benchmark grid as data: validate a config, expand it into runs, resolve each run's settings.

Validation happens before any job starts (the Snakefile calls `validate` at parse time) and names the bad
value: a JSON-schema (Draft 2020-12) pass for shapes and ranges, then checks against the registries.
"""

from __future__ import annotations

import copy
import hashlib
import importlib.util
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import jsonschema
import yaml

from lora_bench.data.glue import TASKS
from lora_bench.data.nlg import TASKS as NLG_TASKS
from lora_bench.methods import ENTRY_POINT_GROUP, apply_method, count_parameters, get_method, load_plugins
from lora_bench.models import MODELS, build_random, config_of

DEFAULTS = {
    "data_dir": "../shared/data",
    "model_dir": None,
    "results_dir": "results",
    "resources_dir": "resources",
    "threads_per_run": 1,
    "mem_mb_per_run": 4000,
    "paper_reference_model": "roberta-base",
    "train": {
        "epochs": 3, "batch_size": 16, "max_length": 128, "lr": 1e-4, "warmup_ratio": 0.06,
        "weight_decay": 0.01, "max_grad_norm": 1.0, "train_size": None, "eval_size": None, "group_by_length": True,
        "save_weights": False, "devices": 1, "grad_accumulation": 1, "precision": "fp32", "checkpoint": False,
    },
}

# The NLG grid's defaults are the paper's GPT-2 recipe on E2E (PAPER.md, hyper-parameters); a profile overrides.
NLG_DEFAULTS = {
    "paper_reference_model": "gpt2-medium",
    "train": {
        "epochs": 5, "max_steps": None, "batch_size": 8, "max_length": 128, "lr": 2e-4, "warmup_steps": 500,
        "weight_decay": 0.01, "max_grad_norm": None, "label_smoothing": 0.1, "train_size": None,
        "group_by_length": True,
    },
    "decode": {"num_beams": 10, "length_penalty": 0.9, "no_repeat_ngram_size": 4, "max_new_tokens": 64,
               "batch_size": 16, "test_size": None},
}

EFFICIENCY_DEFAULTS = {
    "device": "auto",
    "latency": {"warmup": 1, "trials": 3},
    "train_cost": {"batch_size": 2, "seq_len": 128, "lr": 2.0e-4, "warmup": 1, "trials": 3, "compare_peft": None},
}


class ConfigError(ValueError):
    pass


@dataclass(frozen=True, order=True)
class RunKey:
    model: str
    task: str
    method: str  # a key of the config's `methods:` (a registered method, or a named variant of one)
    rank: int  # 0 for methods without a rank
    seed: int


def schema() -> dict:
    return yaml.safe_load((Path(__file__).parent / "schemas" / "config.schema.yaml").read_text())


def load(path: str | Path) -> dict:
    with open(path) as f:
        return validate(yaml.safe_load(f) or {})


def validate(config: dict) -> dict:
    """The config with defaults filled in, or ConfigError listing every problem."""
    errors = [f"{'.'.join(map(str, e.absolute_path)) or '<top>'}: {e.message}"
              for e in jsonschema.Draft202012Validator(schema()).iter_errors(config)]
    if errors:
        raise ConfigError("invalid config:\n  " + "\n  ".join(sorted(errors)))
    # Plugins first: the methods they register are checked below like the built-in ones.
    entry = f"the installed {ENTRY_POINT_GROUP!r} entry points"
    try:
        load_plugins()
        for entry in config.get("plugins") or []:
            load_plugins([entry])
    except Exception as e:  # whatever the plugin's code raised, named with the plugin
        raise ConfigError(f"invalid config:\n  plugins: cannot load {entry}: {type(e).__name__}: {e}") from e
    cfg = copy.deepcopy(DEFAULTS) | {"models": [], "tasks": {}, "methods": {}, "seeds": []} | copy.deepcopy(config)
    cfg["train"] = DEFAULTS["train"] | (config.get("train") or {})
    cfg["tasks"] = {t: s or {} for t, s in cfg["tasks"].items()}
    cfg["methods"] = {m: s or {} for m, s in cfg["methods"].items()}

    for m in cfg["models"]:
        if m not in MODELS:
            errors.append(f"models: unknown model {m!r}; known: {', '.join(sorted(MODELS))}")
    for t in cfg["tasks"]:
        if t not in TASKS:
            errors.append(f"tasks: unknown task {t!r}; known: {', '.join(TASKS)}")
    errors += _method_errors(cfg["methods"], cfg["tasks"], "methods")
    if "nlg" in config:
        cfg["nlg"] = _nlg(config["nlg"], errors)
    errors += _compare_errors(cfg)
    if cfg.get("efficiency"):
        eff = cfg["efficiency"] = _efficiency_defaults(cfg["efficiency"])
        errors += _efficiency_errors(eff)
    if "analysis" in cfg:
        a = cfg["analysis"]
        if a["model"] not in MODELS:
            errors.append(f"analysis.model: unknown model {a['model']!r}; known: {', '.join(sorted(MODELS))}")
        if a["task"] not in TASKS:
            errors.append(f"analysis.task: unknown task {a['task']!r}; known: {', '.join(TASKS)}")
    if errors:
        raise ConfigError("invalid config:\n  " + "\n  ".join(errors))
    if "analysis" in cfg:
        from lora_bench.analysis import grid  # imported here: the analysis grid is built on this module

        cfg["variants"], cfg["analysis_runs"] = grid.expand(cfg)
    return cfg


def _method_errors(methods: dict, tasks: dict, where: str) -> list[str]:
    """Each entry names a registered method (or is one), with the ranks and hyper-parameters it takes."""
    errors = []
    for name, m in methods.items():
        base = m.get("method", name)
        try:
            method = get_method(base)
        except KeyError as e:
            errors.append(f"{where}.{name}.method: {e.args[0]}" if "method" in m else f"{where}: {e.args[0]}")
            continue
        if method.uses_rank and not m.get("ranks"):
            errors.append(f"{where}.{name}: needs 'ranks' (a list of integers >= 1)")
        if not method.uses_rank and "ranks" in m:
            errors.append(f"{where}.{name}: takes no rank, remove 'ranks: {m['ranks']}'")
        per_task = [(m.get("hparams") or {}, f"{where}.{name}.hparams")]
        # A task's hparams override the method's; the check sees them as a run will.
        per_task += [((m.get("hparams") or {}) | s["hparams"], f"{where}.{name}.tasks.{t}.hparams")
                     for t, s in (m.get("tasks") or {}).items() if isinstance(s, dict) and s.get("hparams")]
        for hparams, at in per_task:
            if unknown := _unknown_hparams(method, hparams, at):
                errors.append(unknown)
            elif method.check:
                for rank in m.get("ranks") or [0]:
                    try:
                        method.check(rank, hparams)
                    except ValueError as e:
                        errors.append(f"{at}: {e}")
        for t in m.get("tasks") or {}:
            if t not in tasks:
                errors.append(f"{where}.{name}.tasks: {t!r} is not among the config's tasks")
    return errors


def _unknown_hparams(method, hparams: dict, at: str) -> str | None:
    unknown = set(hparams) - method.hparam_names()
    if unknown:
        return f"{at}: unknown {sorted(unknown)}; {method.name} takes {sorted(method.hparam_names()) or 'none'}"
    return None


def _nlg(section: dict, errors: list[str]) -> dict:
    nlg = copy.deepcopy(NLG_DEFAULTS) | copy.deepcopy(section)
    nlg["train"] = NLG_DEFAULTS["train"] | (section.get("train") or {})
    nlg["decode"] = NLG_DEFAULTS["decode"] | (section.get("decode") or {})
    nlg["tasks"] = {t: s or {} for t, s in nlg["tasks"].items()}
    nlg["methods"] = {m: s or {} for m, s in nlg["methods"].items()}
    for m in nlg["models"]:
        if m not in MODELS:
            errors.append(f"nlg.models: unknown model {m!r}; known: {', '.join(sorted(MODELS))}")
        elif not MODELS[m].is_decoder:
            errors.append(f"nlg.models: {m!r} is not a decoder; use one of "
                          f"{', '.join(n for n, e in MODELS.items() if e.is_decoder)}")
    for t in nlg["tasks"]:
        if t not in NLG_TASKS:
            errors.append(f"nlg.tasks: unknown task {t!r}; known: {', '.join(NLG_TASKS)}")
    method_errors = _method_errors(nlg["methods"], nlg["tasks"], "nlg.methods")
    errors += method_errors
    if not method_errors:
        errors += _nothing_to_train(nlg)
    return nlg


def _nothing_to_train(nlg: dict) -> list[str]:
    """A method that finds no parameter of its kind (BitFit on bias-free Llama) would train nothing at all; the
    architecture is built on the meta device, so this check costs no memory and no weights."""
    errors = []
    for model in nlg["models"]:
        if model not in MODELS or not MODELS[model].is_decoder:
            continue
        for name, m in nlg["methods"].items():
            base = m.get("method", name)
            net = build_random(model, device="meta", causal_lm=True)
            apply_method(net, base, rank=(m.get("ranks") or [0])[0], **(m.get("hparams") or {}))
            if count_parameters(net)["trainable"] == 0:
                errors.append(f"nlg.methods.{name}: {base} leaves nothing to train on {model!r}")
    return errors


def _compare_errors(cfg: dict) -> list[str]:
    """The `compare:` section names methods of the grid; its baseline is one (method, rank). Fills in the rank."""
    c = cfg.get("compare")
    if c is None:
        return []
    errors = [f"compare.methods: {m!r} is not under methods:" for m in c.get("methods") or [] if m not in cfg["methods"]]
    base = c["baseline"]
    if base not in cfg["methods"]:
        return errors + [f"compare.baseline: {base!r} is not under methods: ({', '.join(cfg['methods'])})"]
    ranks = cfg["methods"][base].get("ranks") or [0]
    rank = c.get("baseline_rank")
    if rank is None and len(ranks) > 1:
        errors.append(f"compare.baseline_rank: {base} runs ranks {ranks}; say which one is the baseline")
    elif rank is not None and rank not in ranks:
        errors.append(f"compare.baseline_rank: {rank} is not among {base}'s ranks {ranks}")
    c["baseline_rank"] = ranks[0] if rank is None else rank
    c["methods"] = c.get("methods") or list(cfg["methods"])
    return errors


def _efficiency_defaults(eff: dict) -> dict:
    out = EFFICIENCY_DEFAULTS | eff
    for part in ("latency", "train_cost"):
        out[part] = EFFICIENCY_DEFAULTS[part] | eff[part]
    out["train_cost"]["methods"] = {k: v or {} for k, v in out["train_cost"]["methods"].items()}
    return out


def _measured_method_errors(where: str, name: str, m: dict) -> list[str]:
    """A method entry of the efficiency section: registered, sized by `rank` or `params` iff it has a rank."""
    try:
        method, errors = get_method(m.get("method", name)), []
    except KeyError as e:
        return [f"{where}: {e.args[0]}"]
    base = method.name
    sizes = [k for k in ("rank", "params") if k in m]
    if method.uses_rank and len(sizes) != 1:
        errors.append(f"{where}: {base} needs exactly one of 'rank' or 'params', got {sizes or 'neither'}")
    if not method.uses_rank and sizes:
        errors.append(f"{where}: {base} takes no rank, remove {sizes}")
    if unknown := _unknown_hparams(method, m.get("hparams") or {}, f"{where}.hparams"):
        errors.append(unknown)
    return errors


def _efficiency_errors(eff: dict) -> list[str]:
    if eff["model"] not in MODELS:
        return [f"efficiency.model: unknown model {eff['model']!r}; known: {', '.join(sorted(MODELS))}"]
    errors = []
    max_len = config_of(eff["model"]).max_position_embeddings
    lat, tc = eff["latency"], eff["train_cost"]
    if lat["grid"] not in lat["grids"]:
        errors.append(f"efficiency.latency.grid: {lat['grid']!r} is not among grids {sorted(lat['grids'])}")
    for name, grid in lat["grids"].items():
        if too_long := [s for s in grid["seq"] if s > max_len]:
            errors.append(f"efficiency.latency.grids.{name}.seq: {too_long} exceed {eff['model']}'s {max_len} positions")
    lora = lat["lora"] or {}
    if lora.get("method", "lora") != "lora":
        errors.append(f"efficiency.latency.lora.method: must be lora, got {lora['method']!r}")
    else:
        errors += _measured_method_errors("efficiency.latency.lora", "lora", lora)
    if tc["seq_len"] > max_len:
        errors.append(f"efficiency.train_cost.seq_len: {tc['seq_len']} exceeds {eff['model']}'s {max_len} positions")
    for name, m in tc["methods"].items():
        errors += _measured_method_errors(f"efficiency.train_cost.methods.{name}", name, m)
    peft = tc["compare_peft"]
    if peft is not None:
        if tc["methods"].get(peft, {"method": None}).get("method", peft) != "lora":
            errors.append(f"efficiency.train_cost.compare_peft: {peft!r} is not a lora entry of train_cost.methods")
        elif importlib.util.find_spec("peft") is None:
            errors.append("efficiency.train_cost.compare_peft: needs the optional extra peft "
                          "(pip install 'lora-bench[peft]'), or set it to null")
    return errors


def runs(cfg: dict) -> list[RunKey]:
    return sorted(
        RunKey(model, task, method, rank, seed)
        for model in cfg["models"]
        for task in cfg["tasks"]
        for method, m in cfg["methods"].items()
        for rank in (m.get("ranks") or [0])
        for seed in cfg["seeds"]
    )


def run_dir(cfg: dict, key: RunKey) -> str:
    return f"{cfg['results_dir']}/runs/{key.model}/{key.task}/{key.method}/r{key.rank}/seed{key.seed}"


def analysis_runs(cfg: dict) -> list[RunKey]:
    """Every run the analysis section adds (each once, though several tables may read it)."""
    return sorted({k for keys in (cfg.get("analysis_runs") or {}).values() for k in keys})


def train_settings(cfg: dict, entry: dict, task: str) -> dict:
    """A method entry's training settings on `task`: train → tasks.<task> → entry.train → entry.tasks.<task>."""
    per_task = (entry.get("tasks") or {}).get(task) or {}
    return cfg["train"] | (cfg["tasks"].get(task) or {}) | (entry.get("train") or {}) | per_task


def run_spec(cfg: dict, key: RunKey) -> dict:
    """Everything one run needs, resolved; it is also what the run's config hash covers."""
    # a key of `methods:`, or a variant the analysis section added (see lora_bench/analysis/grid.py)
    m = cfg["methods"][key.method] if key.method in cfg["methods"] else cfg["variants"][key.method]
    plugin = get_method(m.get("method", key.method)).plugin
    return {
        **asdict(key),
        "base_method": m.get("method", key.method),
        # Only a plugin method's runs name their plugin: adding a plugin leaves every other run's spec as it was.
        **({"plugin": plugin} if plugin else {}),
        "hparams": m.get("hparams") or {},
        "train": train_settings(cfg, m, key.task),
        "data_dir": cfg["data_dir"],
        "model_dir": cfg["model_dir"],
    }


def nlg_runs(cfg: dict) -> list[RunKey]:
    nlg = cfg.get("nlg")
    if not nlg:
        return []
    return sorted(
        RunKey(model, task, method, rank, seed)
        for model in nlg["models"]
        for task in nlg["tasks"]
        for method, m in nlg["methods"].items()
        for rank in (m.get("ranks") or [0])
        for seed in nlg["seeds"]
    )


def nlg_run_dir(cfg: dict, key: RunKey) -> str:
    return f"{cfg['results_dir']}/runs_nlg/{key.model}/{key.task}/{key.method}/r{key.rank}/seed{key.seed}"


def nlg_run_spec(cfg: dict, key: RunKey) -> dict:
    """One NLG run's settings, resolved: train/decode → tasks.<task> → methods.<m> → methods.<m>.tasks.<task>."""
    nlg = cfg["nlg"]
    task, m = nlg["tasks"][key.task], nlg["methods"][key.method]
    per_task = (m.get("tasks") or {}).get(key.task) or {}
    return {
        **asdict(key),
        "base_method": m.get("method", key.method),
        "hparams": (m.get("hparams") or {}) | (per_task.get("hparams") or {}),
        "train": nlg["train"] | (task.get("train") or {}) | (m.get("train") or {}) | (per_task.get("train") or {}),
        "decode": nlg["decode"] | (task.get("decode") or {}),
        "data_dir": cfg["data_dir"],
        "model_dir": cfg["model_dir"],
    }


def spec_hash(spec: dict) -> str:
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]


# The efficiency section, resolved into what each benchmark job needs (also what its record stores).


def latency_spec(cfg: dict) -> dict:
    eff = cfg["efficiency"]
    lat = eff["latency"]
    lora = lat["lora"] or {}
    return {"model": eff["model"], "device": eff["device"], "grid": lat["grid"], **lat["grids"][lat["grid"]],
            "lora": {"method": "lora", **lora}, "warmup": lat["warmup"], "trials": lat["trials"]}


PEFT_SUFFIX = "_peft"


def train_cost_methods(cfg: dict) -> dict[str, dict]:
    """label → {method, rank | params, hparams, impl}; the compared peft LoRA is `<label>_peft`, impl "peft"."""
    tc = cfg["efficiency"]["train_cost"]
    out = {name: {"method": m.get("method", name), **{k: v for k, v in m.items() if k != "method"}, "impl": "ours"}
           for name, m in tc["methods"].items()}
    if tc["compare_peft"]:
        out[tc["compare_peft"] + PEFT_SUFFIX] = out[tc["compare_peft"]] | {"impl": "peft"}
    return out


def train_cost_spec(cfg: dict, labels: list[str] | None = None) -> dict:
    eff = cfg["efficiency"]
    methods = train_cost_methods(cfg)
    tc = {k: v for k, v in eff["train_cost"].items() if k not in ("methods", "compare_peft")}
    return {"model": eff["model"], "device": eff["device"], **tc,
            "methods": {k: v for k, v in methods.items() if labels is None or k in labels}}
