"""The runs behind the Section 7 analyses, as more entries of the one run grid.

The config's `analysis:` section names a model, a task and what each analysis varies; `expand` turns it into
method variants (entries like those under `methods:`, with their training settings fully resolved) and, per
table or figure, the runs it reads. A variant is identified by its settings: two analyses that need the same
training (Table 5's {Wq, Wv} at r = 4 is also Table 6's; the low-data LoRA run on the ablations' subset is an
ablation run) get one label, hence one run.
"""

from __future__ import annotations

import json
import math

from lora_bench.config import ConfigError, RunKey, train_settings
from lora_bench.methods import METHODS

ROLES = "qkvo"


def _check(cfg: dict) -> list[str]:
    a, errors = cfg["analysis"], []
    lora = cfg["methods"].get(a["lora"])
    if lora is None or lora.get("method", a["lora"]) != "lora":
        errors.append(f"analysis.lora: {a['lora']!r} is not a LoRA entry of methods: "
                      f"({', '.join(n for n, m in cfg['methods'].items() if m.get('method', n) == 'lora') or 'none'})")
    for targets in a["weight_types"]["targets"]:
        if a["weight_types"]["rank"] % len(targets):
            errors.append(f"analysis.weight_types: rank {a['weight_types']['rank']} does not split evenly over "
                          f"the {len(targets)} matrices of {targets} (equal parameter budgets need rank / n)")
    for name, rank in a["low_data"]["methods"].items():
        if name not in cfg["methods"]:
            errors.append(f"analysis.low_data.methods: {name!r} is not under methods:")
            continue
        uses_rank = METHODS[cfg["methods"][name].get("method", name)].uses_rank
        if uses_rank != (rank > 0):
            errors.append(f"analysis.low_data.methods.{name}: rank {rank} "
                          + ("must be >= 1" if uses_rank else "must be 0 (the method has no rank)"))
    return errors


def expand(cfg: dict) -> tuple[dict[str, dict], dict[str, list[RunKey]]]:
    """(variants: label → method entry, runs: output name → the RunKeys it reads) for a validated config."""
    errors = _check(cfg)
    if errors:
        raise ConfigError("invalid config:\n  " + "\n  ".join(errors))
    a = cfg["analysis"]
    model, task, seeds = a["model"], a["task"], a["seeds"]
    variants: dict[str, dict] = {}
    label_of: dict[str, str] = {}  # settings (as JSON) → the label that trains them

    def variant(label: str, method: str, hparams: dict, train: dict) -> str:
        # LoRA runs keep their weights: the subspace analyses read them (other methods' would only take space).
        entry = {"method": method, "hparams": hparams, "train": train | {"save_weights": method == "lora"}}
        label = label_of.setdefault(json.dumps(entry, sort_keys=True), label)
        if label in cfg["methods"]:
            raise ConfigError(f"invalid config:\n  methods: {label!r} is a name the analysis section uses; rename it")
        variants.setdefault(label, entry)
        return label

    lora = cfg["methods"][a["lora"]]
    lora_train = train_settings(cfg, lora, task) | (a.get("train") or {})

    def lora_run(targets, rank: int, seed: int) -> RunKey:
        targets = sorted(set(targets), key=ROLES.index)  # {v, q} and {q, v} are one run
        label = variant(f"s7_lora_{''.join(targets)}", "lora", (lora.get("hparams") or {}) | {"targets": targets},
                        lora_train)
        return RunKey(model, task, label, rank, seed)

    wt, rk, sub = a["weight_types"], a["ranks"], a["subspace"]
    (low, high), (seed_a, seed_b) = sub["ranks"], sub["seeds"]
    runs = {
        # equal budgets: n matrices of one shape at rank/n train as many parameters as one at `rank`
        "table5_weight_types": [lora_run(t, wt["rank"] // len(t), s) for t in wt["targets"] for s in seeds],
        "table6_rank": [lora_run(t, r, s) for t in rk["targets"] for r in rk["ranks"] for s in seeds],
        "fig3_subspace": [lora_run(sub["targets"], r, seed_a) for r in (low, high)],
        "fig4_subspace_seeds": [lora_run(sub["targets"], high, s) for s in (seed_a, seed_b)],
        "table7_amplification": [lora_run(sub["targets"], r, seeds[0]) for r in a["amplification"]["ranks"]],
        "fig_effective_rank": [lora_run(sub["targets"], r, seeds[0]) for r in a["effective_rank"]["ranks"]],
        "fig_low_data": [],
    }
    low_data = a["low_data"]
    for name, rank in low_data["methods"].items():
        m = cfg["methods"][name]
        base = train_settings(cfg, m, task) | (a.get("train") or {})
        for n in low_data["train_sizes"]:
            # small subsets train more epochs, so that no point of the curve is short of optimiser steps
            epochs = max(base["epochs"], math.ceil(low_data["min_steps"] / math.ceil(n / base["batch_size"])))
            label = variant(f"lowdata_{name}_n{n}", m.get("method", name), m.get("hparams") or {},
                            base | {"train_size": n, "epochs": epochs})
            runs["fig_low_data"] += [RunKey(model, task, label, rank, s) for s in seeds]
    return variants, runs
