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
from lora_bench.data.nlg import TASKS as NLG_TASKS
from lora_bench.methods import METHODS, apply_method, count_parameters
from lora_bench.models import MODELS, build_random

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
    if errors:
        raise ConfigError("invalid config:\n  " + "\n  ".join(errors))
    return cfg


def _method_errors(methods: dict, tasks: dict, where: str) -> list[str]:
    """Each entry names a registered method (or is one), with the ranks and hyper-parameters it takes."""
    errors = []
    for name, m in methods.items():
        base = m.get("method", name)
        if base not in METHODS:
            at = f"{where}.{name}.method" if "method" in m else where
            errors.append(f"{at}: unknown method {base!r}; known: {', '.join(sorted(METHODS))}")
            continue
        method = METHODS[base]
        if method.uses_rank and not m.get("ranks"):
            errors.append(f"{where}.{name}: needs 'ranks' (a list of integers >= 1)")
        if not method.uses_rank and "ranks" in m:
            errors.append(f"{where}.{name}: takes no rank, remove 'ranks: {m['ranks']}'")
        per_task = [(m.get("hparams") or {}, f"{where}.{name}.hparams")]
        per_task += [((s or {}).get("hparams") or {}, f"{where}.{name}.tasks.{t}.hparams")
                     for t, s in (m.get("tasks") or {}).items() if isinstance(s, dict) and "hparams" in s]
        for hparams, at in per_task:
            unknown = set(hparams) - method.hparam_names()
            if unknown:
                errors.append(f"{at}: unknown {sorted(unknown)}; {name} takes {sorted(method.hparam_names()) or 'none'}")
        for t in m.get("tasks") or {}:
            if t not in tasks:
                errors.append(f"{where}.{name}.tasks: {t!r} is not among the config's tasks")
    return errors


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


def run_spec(cfg: dict, key: RunKey) -> dict:
    """Everything one run needs, resolved; it is also what the run's config hash covers."""
    m = cfg["methods"][key.method]
    per_task = (m.get("tasks") or {}).get(key.task) or {}
    train = cfg["train"] | cfg["tasks"][key.task] | (m.get("train") or {}) | per_task
    return {
        **asdict(key),
        "base_method": m.get("method", key.method),
        "hparams": m.get("hparams") or {},
        "train": train,
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
