"""A trained LoRA in peft's layout, so peft users can load it: ``adapter_config.json`` +
``adapter_model.safetensors``, loadable with ``PeftModel.from_pretrained(base_model, folder)``.

Written without peft (the layout is a JSON file and safetensors names), read only through safetensors: nothing
here or in peft's loading of it unpickles. Names map as ``<module path>.lora_A[i].weight`` (our one A/B pair per
output slice) → ``base_model.model.<module path>.lora_A.weight``. GPT-2's fused ``c_attn`` with LoRA on the q and
v slices only has no peft form as such; it is written as one full-width LoRA of rank (number of slices × r):
A stacks the slices' A matrices and B is block-diagonal, with zero rows for k — exactly the same update. The
trained task head goes into ``modules_to_save``, so the loaded model is the trained one, head included.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from lora_bench.architectures import HEAD_PATTERN
from lora_bench.methods import apply_method
from lora_bench.methods.lora import LoRALayer

PREFIX = "base_model.model."


def _merged_ab(layer: LoRALayer) -> tuple[torch.Tensor, torch.Tensor]:
    """(A, B) of one full-width LoRA equal to the layer's per-slice ones: A (k·r, in), B (out, k·r)."""
    r = layer.lora_A[0].weight.shape[0]
    a = torch.cat([m.weight for m in layer.lora_A])
    b = torch.zeros(layer.chunk * layer.n_chunks, r * len(layer.slices), dtype=a.dtype, device=a.device)
    for i, s in enumerate(layer.slices):
        b[s * layer.chunk:(s + 1) * layer.chunk, i * r:(i + 1) * r] = layer.lora_B[i].weight
    return a, b


def save_peft_lora(model: torch.nn.Module, out_dir: str | Path, base_model: str | None = None) -> Path:
    """Write `model`'s LoRA layers and trained task head in peft's LoRA layout into `out_dir`."""
    layers = {n: m for n, m in model.named_modules() if isinstance(m, LoRALayer)}
    if not layers:
        raise ValueError("the model has no LoRA layers to export")
    if any(m.merged for m in layers.values()):
        raise ValueError("unmerge the LoRA layers before exporting: merged weights are not the base model's")
    tensors, ranks, alphas = {}, {}, {}
    for name, layer in layers.items():
        a, b = _merged_ab(layer)
        tensors[f"{PREFIX}{name}.lora_A.weight"], tensors[f"{PREFIX}{name}.lora_B.weight"] = a, b
        ranks[name] = a.shape[0]
        alphas[name] = layer.scaling * a.shape[0]  # peft's scaling is lora_alpha / r
    # The head: the outermost modules whose name is a head name (BERT: `classifier` and `bert.pooler`).
    heads = [n for n, _ in model.named_modules() if HEAD_PATTERN.search(n) and not HEAD_PATTERN.search(n.rpartition(".")[0])]
    trained = {n for n, p in model.named_parameters() if p.requires_grad}
    outside = sorted(n for n in trained if ".lora_" not in n and not any(n.startswith(h + ".") for h in heads))
    if outside:
        raise ValueError(f"trainable parameters outside LoRA and the task head cannot go into peft's LoRA layout: "
                         f"{outside[:5]}{' ...' if len(outside) > 5 else ''}")
    for h in heads:
        for pname, p in model.get_submodule(h).named_parameters():
            tensors[f"{PREFIX}{h}.{pname}"] = p
    dropouts = {m.dropout.p if isinstance(m.dropout, torch.nn.Dropout) else 0.0 for m in layers.values()}
    transposed = {m.transposed for m in layers.values()}
    if len(dropouts) > 1 or len(transposed) > 1:
        raise ValueError("peft's LoRA config holds one dropout and one fan_in_fan_out for all layers")
    r = Counter(ranks.values()).most_common(1)[0][0]
    alpha = Counter(alphas.values()).most_common(1)[0][0]
    config = {
        "peft_type": "LORA", "task_type": None, "base_model_name_or_path": base_model, "inference_mode": True,
        "r": r, "lora_alpha": alpha, "lora_dropout": dropouts.pop(), "fan_in_fan_out": transposed.pop(),
        "bias": "none", "target_modules": sorted(layers), "modules_to_save": sorted({h.rpartition(".")[2] for h in heads}),
        # Full module names; peft matches a pattern key against the end of a module's name.
        "rank_pattern": {n: v for n, v in ranks.items() if v != r},
        "alpha_pattern": {n: v for n, v in alphas.items() if v != alpha},
        "init_lora_weights": True, "use_rslora": False, "use_dora": False,
    }
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "adapter_config.json").write_text(json.dumps(config, indent=2) + "\n")
    save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, out / "adapter_model.safetensors",
              metadata={"format": "pt"})
    return out


def rebuild(run_dir: str | Path) -> torch.nn.Module:
    """The trained model of a finished run saved with `train.save_weights`: base model + method + its weights."""
    from lora_bench.data.glue import get_task
    from lora_bench.methods import load_plugins
    from lora_bench.models import load_for_classification

    run_dir = Path(run_dir)
    spec = json.loads((run_dir / "metrics.json").read_text())["spec"]
    weights_file = run_dir / "weights.safetensors"
    if not weights_file.exists():
        raise FileNotFoundError(f"{weights_file} not found: the run was made without train.save_weights: true")
    load_plugins([spec["plugin"]] if spec.get("plugin") else [])
    torch.manual_seed(spec["seed"])  # as in training: a random-init test model comes back identical
    model, _ = load_for_classification(spec["model"], get_task(spec["task"]).num_labels, spec["model_dir"])
    model = apply_method(model, spec["base_method"], rank=spec["rank"], **spec["hparams"])
    weights = load_file(weights_file)
    missing = {n for n, p in model.named_parameters() if p.requires_grad} - set(weights)
    if missing:
        raise ValueError(f"{weights_file} lacks trained parameters {sorted(missing)[:5]}")
    model.load_state_dict(weights, strict=False)
    return model.eval()
