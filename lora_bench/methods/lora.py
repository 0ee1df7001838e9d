"""LoRA (Hu et al. 2021): h = W0·x + (α/r)·B·A·x, with W0 frozen, B = 0 at start and dropout on the branch input.

One wrapper serves plain projections and fused ones: `slices` says which equal output chunks of the wrapped
layer get a low-rank update. GPT-2's c_attn (q, k, v in one Conv1D) with targets q, v gets chunks 0 and 2 of
3, as loralib's ``MergedLinear(enable_lora=[True, False, True])``.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
from transformers.pytorch_utils import Conv1D

from lora_bench.architectures import arch_of, find_modules, replace_module
from lora_bench.methods import register


class LoRALayer(nn.Module):
    def __init__(self, base: nn.Module, rank: int, alpha: float, dropout: float, slices: tuple[int, ...],
                 n_chunks: int, init: str):
        super().__init__()
        self.base = base
        self.transposed = isinstance(base, Conv1D)  # Conv1D stores its weight as (in, out)
        in_f, out_f = base.weight.shape[::-1] if not self.transposed else base.weight.shape
        if out_f % n_chunks:
            raise ValueError(f"output size {out_f} does not split into {n_chunks} chunks")
        self.chunk = out_f // n_chunks
        self.n_chunks = n_chunks
        self.slices = tuple(slices)
        self.scaling = alpha / rank
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        kw = dict(bias=False, device=base.weight.device, dtype=base.weight.dtype)
        self.lora_A = nn.ModuleList(nn.Linear(in_f, rank, **kw) for _ in self.slices)
        self.lora_B = nn.ModuleList(nn.Linear(rank, self.chunk, **kw) for _ in self.slices)
        for a, b in zip(self.lora_A, self.lora_B):
            if init == "gaussian":
                nn.init.normal_(a.weight, std=1 / rank)
            elif init == "kaiming":  # loralib's choice
                nn.init.kaiming_uniform_(a.weight, a=math.sqrt(5))
            else:
                raise ValueError(f"unknown LoRA init {init!r}; use 'kaiming' or 'gaussian'")
            nn.init.zeros_(b.weight)
        self.merged = False

    def delta_weight(self, i: int) -> torch.Tensor:
        """(α/r)·B·A for slice i, shaped (out_chunk, in)."""
        return self.lora_B[i].weight @ self.lora_A[i].weight * self.scaling

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.base(x)
        if self.merged:
            return y
        h = self.dropout(x)
        parts = list(y.split(self.chunk, dim=-1))
        for i, s in enumerate(self.slices):
            parts[s] = parts[s] + self.lora_B[i](self.lora_A[i](h)) * self.scaling
        return torch.cat(parts, dim=-1) if len(parts) > 1 else parts[0]

    @torch.no_grad()
    def _shift(self, sign: int) -> None:
        w = self.base.weight
        for i, s in enumerate(self.slices):
            rows = slice(s * self.chunk, (s + 1) * self.chunk)
            d = self.delta_weight(i).to(w.dtype)
            if self.transposed:
                w[:, rows] += sign * d.T
            else:
                w[rows] += sign * d

    def merge(self) -> None:
        if not self.merged:
            self._shift(+1)
            self.merged = True

    def unmerge(self) -> None:
        if self.merged:
            self._shift(-1)
            self.merged = False


@register("lora", uses_rank=True, description="low-rank update on chosen attention matrices")
def apply(model, rank, alpha=None, dropout=0.0, targets=("q", "v"), init="kaiming"):
    """`alpha` defaults to `rank` (scaling 1); `targets` are roles among q, k, v, o."""
    arch = arch_of(model)
    alpha = rank if alpha is None else alpha
    by_module: dict[str, list[str]] = {}
    for role in targets:
        if role not in ("q", "k", "v", "o"):
            raise ValueError(f"unknown LoRA target {role!r}; use q, k, v or o")
        for name, _ in find_modules(model, getattr(arch, role)):
            by_module.setdefault(name, []).append(role)
    for name, roles in by_module.items():
        fused = [arch.fused[r] for r in roles if r in arch.fused]
        slices, n_chunks = (tuple(sorted(i for i, _ in fused)), fused[0][1]) if fused else ((0,), 1)
        layer = LoRALayer(model.get_submodule(name), rank, alpha, dropout, slices, n_chunks, init)
        replace_module(model, name, layer)


def lora_layers(model: nn.Module) -> list[LoRALayer]:
    return [m for m in model.modules() if isinstance(m, LoRALayer)]


def merge(model: nn.Module) -> nn.Module:
    """Fold every LoRA update into its frozen weight: inference then costs what the base model costs."""
    for m in lora_layers(model):
        m.merge()
    return model


def unmerge(model: nn.Module) -> nn.Module:
    for m in lora_layers(model):
        m.unmerge()
    return model
