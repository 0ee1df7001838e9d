"""What the methods cost: inference latency (Table 1, Figure 5) and training time and memory.

Shared by both measurements: a method sized by rank or by a parameter budget, variants of one model that
share its frozen weights (so every variant fits in memory at once), and interleaved timing. Machines drift by
±15% within minutes, so variants timed one after another differ by the drift, not by what they compute. Here
each round times every variant once, starting one place later in the list each round, and the tables report
the ratio to the reference *within* a round: a drift then falls on both sides of the ratio.
"""

from __future__ import annotations

import copy
import os
import time
from typing import Callable

import torch
import torch.nn as nn

from lora_bench.methods import apply_method, count_parameters
from lora_bench.models import build_random


def rank_of(model_name: str, spec: dict) -> int:
    """The spec's rank, or the rank whose trainable parameters (excluding the head) come closest to
    `spec["params"]`. The count is affine in the rank, so two counts on the meta device give it."""
    if "rank" in spec:
        return spec["rank"]
    if "params" not in spec:
        return 0

    def count(rank: int) -> int:
        model = build_random(model_name, device="meta")
        apply_method(model, spec["method"], rank=rank, **spec.get("hparams") or {})
        return count_parameters(model)["trainable_excluding_head"]

    c1, c2 = count(1), count(2)
    return max(1, round(1 + (spec["params"] - c1) / (c2 - c1)))


def sharing_copy(model: nn.Module, own: list[torch.Tensor] = ()) -> nn.Module:
    """A deep copy whose parameters are the original's (except those in `own`, which are copied)."""
    memo = {id(p): p for p in model.parameters() if not any(p is o for o in own)}
    return copy.deepcopy(model, memo)


def timer(device: torch.device) -> Callable[[Callable[[], object]], float]:
    """Seconds one call takes: CUDA events around the call and a synchronisation on GPU, a wall clock on CPU."""
    if device.type == "cuda":
        def measure(fn):
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            torch.cuda.synchronize(device)
            start.record()
            fn()
            end.record()
            torch.cuda.synchronize(device)
            return start.elapsed_time(end) / 1000
    else:
        def measure(fn):
            t0 = time.perf_counter()
            fn()
            return time.perf_counter() - t0
    return measure


def load_average() -> list[float]:
    """The machine's 1-, 5- and 15-minute load. Above the number of cores, other processes shared the cores with
    the timing: with several threads per process a parallel op then waits for a descheduled thread, and times
    grow with the number of ops rather than the work."""
    return [round(x, 2) for x in os.getloadavg()]


def time_interleaved(fns: dict[str, Callable[[], object]], trials: int, warmup: int,
                     device: torch.device) -> dict[str, list[float]]:
    """Seconds per call of each fn, one per round: the i-th entries of two lists were timed in the same round."""
    names = list(fns)
    for _ in range(warmup):
        for name in names:
            fns[name]()
    measure = timer(device)
    seconds: dict[str, list[float]] = {name: [] for name in names}
    for r in range(trials):
        k = r % len(names)
        for name in names[k:] + names[:k]:
            seconds[name].append(measure(fns[name]))
    return seconds

