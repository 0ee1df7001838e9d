"""The methods under comparison, found through one registry.

A method is a module that calls ``register`` with a function ``apply(model, rank, **hparams)``. That
function adds the method's modules and marks its own parameters trainable; everything else has already been
frozen, and the task head is unfrozen afterwards. Adding a method = one module here, or a plugin outside the
package (a file or module named under ``plugins:`` in the config, or a ``lora_bench.methods`` entry point), and
one entry under ``methods:`` in the config.

A *family* makes methods on demand from a prefixed name: ``peft:ia3`` asks the ``peft`` family for ``ia3``
(``methods/peft_bridge.py``), so an optional library is imported only when one of its methods is asked for.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import importlib.util
import inspect
import sys
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from typing import Callable

import torch.nn as nn

from lora_bench.architectures import is_head_param


@dataclass(frozen=True)
class Method:
    name: str
    apply: Callable[..., nn.Module | None]  # returns the module to train when it wraps the model, else None
    uses_rank: bool  # rank = LoRA rank or adapter bottleneck; methods without one run with rank 0
    description: str
    hparams: frozenset[str] | None = None  # the hyper-parameters, where `apply` takes them as **kwargs
    check: Callable[[int, dict], None] | None = None  # raises ValueError on bad values, before any run starts
    after_step: Callable[[nn.Module, int], None] | None = None  # called after each optimiser step (AdaLoRA)
    plugin: str | None = None  # the config's `plugins:` entry that registered it; a run loads it again

    def hparam_names(self) -> set[str]:
        if self.hparams is not None:
            return set(self.hparams)
        return {p for p in inspect.signature(self.apply).parameters if p not in ("model", "rank")}


METHODS: dict[str, Method] = {}
FAMILIES: dict[str, Callable[[str], Method]] = {}  # prefix → make(suffix) -> Method named "prefix:suffix"


def register(name: str, *, uses_rank: bool, description: str):
    def deco(fn):
        if name in METHODS:
            raise ValueError(f"method {name!r} is registered twice")
        METHODS[name] = Method(name, fn, uses_rank, description)
        return fn

    return deco


def register_family(prefix: str, make: Callable[[str], Method]) -> None:
    FAMILIES[prefix] = make


def get_method(name: str) -> Method:
    prefix, sep, kind = name.partition(":")
    if name not in METHODS and sep and prefix in FAMILIES:
        METHODS[name] = FAMILIES[prefix](kind)  # raises KeyError with the reason when it cannot
    if name not in METHODS:
        raise KeyError(f"unknown method {name!r}; known methods: {', '.join(sorted(METHODS))}"
                       f" and {', '.join(p + ':<type>' for p in FAMILIES)}")
    return METHODS[name]


def apply_method(model: nn.Module, name: str, rank: int = 0, **hparams) -> nn.Module:
    """Apply method `name` to `model` in place; afterwards only its parameters and the task head train.

    Returns the module to train: `model` itself, or a method's wrapper around it (peft's tuners)."""
    method = get_method(name)
    unknown = set(hparams) - method.hparam_names()
    if unknown:
        raise TypeError(f"method {name!r} takes no hyper-parameter(s) {sorted(unknown)}; "
                        f"it takes {sorted(method.hparam_names())}")
    if method.uses_rank and rank < 1:
        raise ValueError(f"method {name!r} needs a rank >= 1, got {rank}")
    model.requires_grad_(False)
    wrapped = method.apply(model, rank=rank, **hparams)
    for pname, p in model.named_parameters():
        if is_head_param(pname):
            p.requires_grad_(True)
    return model if wrapped is None else wrapped


def count_parameters(model: nn.Module) -> dict[str, int]:
    """Parameter counts; `trainable_excluding_head` is the number the paper prints."""
    total = trainable = head = 0
    for name, p in model.named_parameters():
        total += p.numel()
        if p.requires_grad:
            trainable += p.numel()
            head += p.numel() if is_head_param(name) else 0
    return {"trainable": trainable, "trainable_excluding_head": trainable - head, "head": head, "total": total}


ENTRY_POINT_GROUP = "lora_bench.methods"
_entry_points_loaded = False


def load_plugins(entries=()) -> None:
    """Register the methods of every installed `lora_bench.methods` entry point and of each plugin in `entries`.

    An entry is a Python file (ends in .py; a relative path is from the working directory, as `data_dir`) or an
    importable module. Loading is idempotent: a plugin already loaded is not executed again."""
    global _entry_points_loaded
    if not _entry_points_loaded:
        _entry_points_loaded = True
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            ep.load()
    for entry in entries:
        before = set(METHODS)
        _import_plugin(entry)
        for name in set(METHODS) - before:
            METHODS[name] = dataclasses.replace(METHODS[name], plugin=entry)


def plugin_source(entry: str) -> Path:
    """The file a plugin's code is in (for provenance, and as the input of its runs in the DAG)."""
    if entry.endswith(".py"):
        return Path(entry).resolve()
    spec = importlib.util.find_spec(entry)
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError(f"plugin module {entry!r} is not importable")
    return Path(spec.origin)


def _import_plugin(entry: str) -> None:
    if not entry.endswith(".py"):
        importlib.import_module(entry)
        return
    path = plugin_source(entry)
    if not path.is_file():
        raise FileNotFoundError(f"plugin file {entry!r} not found (looked at {path})")
    # One module name per file, so a second load (another validation, the run's process) finds it in sys.modules.
    module_name = f"lora_bench_plugin_{path.stem}_{hashlib.sha1(str(path).encode()).hexdigest()[:8]}"
    if module_name in sys.modules:
        return
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[module_name]
        raise


# The built-in methods register themselves on import.
from lora_bench.methods import adapter_h, adapter_l, bitfit, ft, lora, peft_bridge  # noqa: E402,F401
