"""The benchmark grid as data: validate a config, expand it into runs, resolve each run's settings.

Validation happens before any job starts (the Snakefile calls `validate` at parse time) and names the bad
value: a JSON-schema (Draft 2020-12) pass for shapes and ranges, then checks against the registries.
"""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import jsonschema
import yaml

from lora_bench.data.glue import TASKS
from lora_bench.methods import METHODS
from lora_bench.models import MODELS

DEFAULTS = {
    "data_dir": "../shared/data",
    "model_dir": None,
    "results_dir": "results",
    "threads_per_run": 1,
    "paper_reference_model": "roberta-base",
    "train": {
        "epochs": 3, "batch_size": 16, "max_length": 128, "lr": 1e-4, "warmup_ratio": 0.06,
        "weight_decay": 0.01, "max_grad_norm": 1.0, "train_size": None, "eval_size": None, "group_by_length": True,
        "save_weights": False,
    },
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
    cfg = copy.deepcopy(DEFAULTS) | copy.deepcopy(config)
    cfg["train"] = DEFAULTS["train"] | (config.get("train") or {})
    cfg["tasks"] = {t: s or {} for t, s in cfg["tasks"].items()}
    cfg["methods"] = {m: s or {} for m, s in cfg["methods"].items()}

    for m in cfg["models"]:
        if m not in MODELS:
            errors.append(f"models: unknown model {m!r}; known: {', '.join(sorted(MODELS))}")
    for t in cfg["tasks"]:
        if t not in TASKS:
            errors.append(f"tasks: unknown task {t!r}; known: {', '.join(TASKS)}")
    for name, m in cfg["methods"].items():
        base = m.get("method", name)
        if base not in METHODS:
            where = f"methods.{name}.method" if "method" in m else "methods"
            errors.append(f"{where}: unknown method {base!r}; known: {', '.join(sorted(METHODS))}")
            continue
        method = METHODS[base]
        if method.uses_rank and not m.get("ranks"):
            errors.append(f"methods.{name}: needs 'ranks' (a list of integers >= 1)")
        if not method.uses_rank and "ranks" in m:
            errors.append(f"methods.{name}: takes no rank, remove 'ranks: {m['ranks']}'")
        unknown = set(m.get("hparams") or {}) - method.hparam_names()
        if unknown:
            errors.append(f"methods.{name}.hparams: unknown {sorted(unknown)}; "
                          f"{name} takes {sorted(method.hparam_names()) or 'none'}")
        for t in m.get("tasks") or {}:
            if t not in cfg["tasks"]:
                errors.append(f"methods.{name}.tasks: {t!r} is not among the config's tasks")
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
    return {
        **asdict(key),
        "base_method": m.get("method", key.method),
        "hparams": m.get("hparams") or {},
        "train": train_settings(cfg, m, key.task),
        "data_dir": cfg["data_dir"],
        "model_dir": cfg["model_dir"],
    }


def spec_hash(spec: dict) -> str:
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]
