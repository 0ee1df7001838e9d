"""Table 1 and Figure 5: the time of one forward pass of the base model (= FT), merged and unmerged LoRA,
AdapterL and AdapterH, over a grid of batch sizes and sequence lengths.

The paper times GPT-2 medium's forward pass (no LM head) in fp32, mean of 100 trials. Weights here are
random: a forward pass costs the same whatever the values. All variants share the base model's weights (merged
LoRA has its own copy of the matrices it folds into), so the grid runs in one process, interleaved.
"""

from __future__ import annotations

import torch
import torch.nn as nn
from transformers import AutoModel

from lora_bench.efficiency import load_average, rank_of, sharing_copy, time_interleaved
from lora_bench.methods import apply_method, count_parameters
from lora_bench.methods.lora import lora_layers, merge
from lora_bench.models import config_of
from lora_bench.provenance import git_state, machine, versions, write_json_atomic
from lora_bench.train import pick_device

ADAPTERS = ("adapter_l", "adapter_h")


def size_label(size: dict) -> str:
    return f"{size['params'] / 1e6:g}M params" if "params" in size else f"r={size['rank']}"


def build_variants(spec: dict, device: torch.device) -> tuple[dict[str, nn.Module], list[dict]]:
    """label → model, and a description of each: method, rank, size asked for (and the parameter budget, if
    that is how it was asked), trainable parameters."""
    base = AutoModel.from_config(config_of(spec["model"], use_cache=False)).to(device).eval()
    models = {"base": base}
    info = [{"variant": "base", "method": "ft", "rank": 0, "size": None, "budget": None, "params": 0}]

    lora = spec["lora"]
    rank = rank_of(spec["model"], lora)
    unmerged = apply_method(sharing_copy(base), "lora", rank=rank, **lora.get("hparams") or {})
    for layer in lora_layers(unmerged):  # B = 0 would make merging a no-op; the check below needs B ≠ 0
        for b in layer.lora_B:
            nn.init.normal_(b.weight, std=0.02)
    merged = merge(sharing_copy(unmerged, own=[layer.base.weight for layer in lora_layers(unmerged)]))
    params = count_parameters(unmerged)["trainable_excluding_head"]
    models |= {"lora_merged": merged, "lora_unmerged": unmerged}
    info += [{"variant": v, "method": "lora", "rank": rank, "size": None, "budget": None, "params": params}
             for v in ("lora_merged", "lora_unmerged")]

    for size in spec["adapters"]:
        for method in ADAPTERS:
            rank = rank_of(spec["model"], {"method": method, **size})
            label = f"{method} r={rank}"
            if label in models:  # two sizes may give one rank
                continue
            models[label] = apply_method(sharing_copy(base), method, rank=rank)
            info.append({"variant": label, "method": method, "rank": rank, "size": size_label(size),
                         "budget": size.get("params"),
                         "params": count_parameters(models[label])["trainable_excluding_head"]})
    return models, info


def measure(spec: dict, out: str, threads: int | None = None) -> dict:
    """Time the grid of `spec` (lora_bench.config.latency_spec) and write the record to `out`."""
    device = pick_device(spec["device"])
    if threads:
        torch.set_num_threads(threads)
    torch.manual_seed(0)
    models, info = build_variants(spec, device)
    vocab = models["base"].config.vocab_size

    cells, load_before = [], load_average()
    with torch.inference_mode():
        # Merged and unmerged LoRA must compute the same function, or timing one against the other means nothing.
        x = torch.randint(vocab, (1, min(spec["seq"])), device=device)
        hidden = {v: models[v](input_ids=x).last_hidden_state for v in ("base", "lora_merged", "lora_unmerged")}
        check = {"merged_vs_unmerged_max_abs": (hidden["lora_merged"] - hidden["lora_unmerged"]).abs().max().item(),
                 "lora_vs_base_max_abs": (hidden["lora_unmerged"] - hidden["base"]).abs().max().item()}
        for seq in spec["seq"]:
            for batch in spec["batch"]:
                x = torch.randint(vocab, (batch, seq), device=device)
                fns = {label: (lambda m=m: m(input_ids=x)) for label, m in models.items()}
                seconds = time_interleaved(fns, spec["trials"], spec["warmup"], device)
                cells.append({"batch": batch, "seq": seq, "seconds": seconds})
                print(f"batch {batch} seq {seq}: " + ", ".join(
                    f"{k} {1000 * sorted(v)[len(v) // 2]:.1f} ms" for k, v in seconds.items()), flush=True)

    record = {
        "benchmark": "latency",
        "spec": spec,
        "device": str(device),
        "threads": torch.get_num_threads(),
        "variants": info,
        "merge_check": check,
        "cells": cells,
        "load_average": {"before": load_before, "after": load_average()},
        "machine": machine(device),
        "versions": versions(),
        "git": git_state(),
    }
    write_json_atomic(out, record)
    return record
