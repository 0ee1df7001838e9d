"""The bottleneck adapter and how it is spliced in; shared by AdapterH and AdapterL."""

from __future__ import annotations

import torch
import torch.nn as nn

from transformers.pytorch_utils import Conv1D

from lora_bench.architectures import find_modules, replace_module


class Adapter(nn.Module):
    """x + up(act(down(norm(x)))), with `up` zero-initialised so a new adapter is the identity."""

    def __init__(self, d: int, r: int, act: str, own_norm: bool, like: torch.Tensor):
        super().__init__()
        kw = dict(device=like.device, dtype=like.dtype)
        self.norm = nn.LayerNorm(d, **kw) if own_norm else nn.Identity()
        self.down = nn.Linear(d, r, **kw)
        self.act = {"relu": nn.ReLU(), "gelu": nn.GELU(), "tanh": nn.Tanh()}[act]
        self.up = nn.Linear(r, d, **kw)
        nn.init.zeros_(self.up.weight)
        nn.init.zeros_(self.up.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.up(self.act(self.down(self.norm(x))))


class Adapted(nn.Module):
    """A projection followed by an adapter: the adapter sits after the sub-layer, before its residual + norm."""

    def __init__(self, base: nn.Module, adapter: Adapter):
        super().__init__()
        self.base = base
        self.adapter = adapter

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.adapter(self.base(x))


def insert_adapters(model: nn.Module, pattern: str, rank: int, act: str, own_norm: bool) -> None:
    for name, base in find_modules(model, pattern):
        w = base.weight
        d = w.shape[1] if isinstance(base, Conv1D) else w.shape[0]  # output width
        adapter = Adapter(d, rank, act, own_norm, like=w)
        replace_module(model, name, Adapted(base, adapter))
        adapter.requires_grad_(True)
