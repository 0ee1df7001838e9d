"""The methods under comparison, found through one registry.

A method is a module that calls ``register`` with a function ``apply(model, rank, **hparams)``. That
function adds the method's modules and marks its own parameters trainable; everything else has already been
frozen, and the task head is unfrozen afterwards. Adding a method = one module here (or a plugin file) and
one entry under ``methods:`` in the config.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Callable

import torch.nn as nn

from lora_bench.architectures import is_head_param


@dataclass(frozen=True)
class Method:
    name: str
    apply: Callable[..., None]
    uses_rank: bool  # rank = LoRA rank or adapter bottleneck; methods without one run with rank 0
    description: str

    def hparam_names(self) -> set[str]:
        return {p for p in inspect.signature(self.apply).parameters if p not in ("model", "rank")}


METHODS: dict[str, Method] = {}


def register(name: str, *, uses_rank: bool, description: str):
    def deco(fn):
        if name in METHODS:
            raise ValueError(f"method {name!r} is registered twice")
        METHODS[name] = Method(name, fn, uses_rank, description)
        return fn

    return deco


def get_method(name: str) -> Method:
    if name not in METHODS:
        raise KeyError(f"unknown method {name!r}; known methods: {', '.join(sorted(METHODS))}")
    return METHODS[name]


def apply_method(model: nn.Module, name: str, rank: int = 0, **hparams) -> nn.Module:
    """Apply method `name` to `model` in place: afterwards only its parameters and the task head train."""
    method = get_method(name)
    unknown = set(hparams) - method.hparam_names()
    if unknown:
        raise TypeError(f"method {name!r} takes no hyper-parameter(s) {sorted(unknown)}; "
                        f"it takes {sorted(method.hparam_names())}")
    if method.uses_rank and rank < 1:
        raise ValueError(f"method {name!r} needs a rank >= 1, got {rank}")
    model.requires_grad_(False)
    method.apply(model, rank=rank, **hparams)
    for pname, p in model.named_parameters():
        if is_head_param(pname):
            p.requires_grad_(True)
    return model


def count_parameters(model: nn.Module) -> dict[str, int]:
    """Parameter counts; `trainable_excluding_head` is the number the paper prints."""
    total = trainable = head = 0
    for name, p in model.named_parameters():
        total += p.numel()
        if p.requires_grad:
            trainable += p.numel()
            head += p.numel() if is_head_param(name) else 0
    return {"trainable": trainable, "trainable_excluding_head": trainable - head, "head": head, "total": total}


# The built-in methods register themselves on import.
from lora_bench.methods import adapter_h, adapter_l, bitfit, ft, lora  # noqa: E402,F401
