"""A finished run's learned LoRA matrices, each beside the frozen pretrained weight it adapts.

The run saved its trainable parameters (`train.save_weights`); the frozen weights are the model's own, so the
model is rebuilt exactly as the run built it (same seed, same method), the saved parameters are loaded into it,
and every LoRA slice is read out with its layer and role (q, k, v, o).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file

from lora_bench.architectures import arch_of
from lora_bench.data.glue import get_task
from lora_bench.methods import apply_method
from lora_bench.methods.lora import LoRALayer
from lora_bench.models import load_for_classification
from lora_bench.train import seed_everything


@dataclass(frozen=True)
class Update:
    layer: int
    role: str  # q, k, v or o
    A: torch.Tensor  # r × k
    B: torch.Tensor  # d × r
    scaling: float  # α / r
    W: torch.Tensor  # d × k, the frozen pretrained weight (for a fused projection: this role's slice)

    @property
    def delta(self) -> torch.Tensor:
        """ΔW = (α/r)·B·A, d × k like W."""
        return self.scaling * self.B @ self.A


def _roles(arch, module_name: str, layer: LoRALayer) -> list[str]:
    """The role of each of the layer's LoRA slices."""
    if layer.n_chunks > 1:  # a fused projection: the slice index says the role
        by_slice = {index: role for role, (index, _) in arch.fused.items()}
        return [by_slice[s] for s in layer.slices]
    return [next(r for r in ("q", "k", "v", "o") if re.search(getattr(arch, r), module_name))]


def load_updates(metrics_path: str | Path) -> list[Update]:
    """Every LoRA update of the run whose record is `metrics_path`, ordered by layer then role."""
    metrics_path = Path(metrics_path)
    spec = json.loads(metrics_path.read_text())["spec"]
    weights_path = metrics_path.with_name("weights.safetensors")
    if spec["base_method"] != "lora":
        raise ValueError(f"{metrics_path}: a {spec['base_method']!r} run has no LoRA matrices")
    if not weights_path.exists():
        raise FileNotFoundError(f"{weights_path} not found: the run was trained without train.save_weights")

    seed_everything(spec["seed"])  # random-init (test) models get the same frozen weights as in the run
    model, _ = load_for_classification(spec["model"], get_task(spec["task"]).num_labels, spec["model_dir"])
    apply_method(model, spec["base_method"], rank=spec["rank"], **spec["hparams"])
    saved = load_file(weights_path)
    missing, unexpected = model.load_state_dict(saved, strict=False)
    not_loaded = [n for n in missing if "lora_" in n]
    if unexpected or not_loaded:
        raise ValueError(f"{weights_path} does not fit the run's model: unexpected {unexpected[:3]}, "
                         f"LoRA parameters missing {not_loaded[:3]}")

    arch = arch_of(model)
    updates = []
    for name, layer in model.named_modules():
        if not isinstance(layer, LoRALayer):
            continue
        w = layer.base.weight.detach()
        w = w.T if layer.transposed else w  # always d_out × d_in
        for i, (slot, role) in enumerate(zip(layer.slices, _roles(arch, name, layer))):
            updates.append(Update(
                layer=int(re.search(r"\.(\d+)\.", name).group(1)), role=role,
                A=layer.lora_A[i].weight.detach().clone(), B=layer.lora_B[i].weight.detach().clone(),
                scaling=layer.scaling, W=w[slot * layer.chunk:(slot + 1) * layer.chunk].clone(),
            ))
    return sorted(updates, key=lambda u: (u.layer, "qkvo".index(u.role)))
