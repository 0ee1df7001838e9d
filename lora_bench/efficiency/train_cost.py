"""The training-cost table: per method, on one model and one batch of random tokens, the time of a training
step (forward, backward, AdamW step), peak memory, the sizes of gradients and optimizer state, trainable
parameters, and the size of the saved checkpoint (the trainable weights only, as safetensors).

Two measurements, because each needs what the other cannot have:
- memory, one fresh process per method (`memory`). Peak resident memory can only rise within a process, and
  glibc keeps freed memory, so methods measured one after another in one process would inherit each other's peak.
- step time, every method in one process (`step_times`), interleaved, so a drift of the machine's speed falls
  on all of them alike. The methods share the frozen weights of one model to fit in memory together.

The model is the catalogued architecture as a causal LM (the paper's GPT-2 and GPT-3 are trained that way), with
random weights: a step costs the same whatever the values.
"""

from __future__ import annotations

import os
import re
import tempfile
from functools import partial
from pathlib import Path

import torch
import torch.nn as nn
from safetensors.torch import save_file
from transformers import AutoModelForCausalLM
from transformers.pytorch_utils import Conv1D

from lora_bench.architectures import arch_of, find_modules
from lora_bench.efficiency import load_average, rank_of, sharing_copy, time_interleaved
from lora_bench.methods import METHODS, apply_method, count_parameters
from lora_bench.models import MODELS, config_of
from lora_bench.provenance import git_state, machine, versions, write_json_atomic
from lora_bench.train import pick_device

# Step 1 allocates the optimizer state after backward; step 2 holds that state, the gradients and the
# activations together. Later steps repeat step 2.
MEMORY_STEPS = 2


def build_lm(model_name: str, device: torch.device) -> nn.Module:
    return AutoModelForCausalLM.from_config(config_of(model_name, use_cache=False)).to(device)


def apply_peft_lora(model: nn.Module, rank: int, alpha=None, dropout=0.0, targets=("q", "v"), init="kaiming"):
    """peft's LoRA on the modules our LoRA adapts. On a fused projection (GPT-2's c_attn) peft adapts the whole
    output (q, k and v) where ours adapts the q and v slices only: the same parameter count on GPT-2, since
    peft's single A (r×d) and B (3d×r) hold as many numbers as our two A (r×d) and two B (d×r)."""
    from peft import LoraConfig, get_peft_model

    arch = arch_of(model)
    names = sorted({name for role in targets for name, _ in find_modules(model, getattr(arch, role))})
    config = LoraConfig(r=rank, lora_alpha=rank if alpha is None else alpha, lora_dropout=dropout,
                        target_modules=names, fan_in_fan_out=isinstance(model.get_submodule(names[0]), Conv1D),
                        init_lora_weights=True if init == "kaiming" else init)
    return get_peft_model(model, config)


def prepare(model: nn.Module, model_name: str, m: dict) -> tuple[nn.Module, int]:
    """Apply method entry `m` (lora_bench.config.train_cost_methods) to `model`; returns (model, rank)."""
    rank = rank_of(model_name, m)
    hparams = m.get("hparams") or {}
    if m["impl"] == "peft":
        model = apply_peft_lora(model, rank, **hparams)
    else:
        apply_method(model, m["method"], rank=rank, **hparams)
    return model.train(), rank


def train_step(model: nn.Module, opt: torch.optim.Optimizer, ids: torch.Tensor) -> None:
    model(input_ids=ids, labels=ids).loss.backward()
    opt.step()
    opt.zero_grad(set_to_none=True)


def random_batch(model: nn.Module, spec: dict, device: torch.device) -> torch.Tensor:
    gen = torch.Generator().manual_seed(0)
    return torch.randint(model.config.vocab_size, (spec["batch_size"], spec["seq_len"]), generator=gen).to(device)


def _mib(tensors) -> float:
    return sum(t.numel() * t.element_size() for t in tensors) / 2**20


def _proc_status_mib(field: str) -> float:
    return int(re.search(rf"^{field}:\s+(\d+) kB", Path("/proc/self/status").read_text(), re.M).group(1)) / 1024


def current_mib(device: torch.device) -> float:
    """What this process holds now: allocated tensors on GPU; resident memory on CPU."""
    if device.type == "cuda":
        return torch.cuda.memory_allocated(device) / 2**20
    return _proc_status_mib("VmRSS")


def reset_peak(device: torch.device) -> None:
    """Start the high-water mark afresh (Linux: writing 5 to clear_refs resets the process's peak RSS)."""
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    else:
        Path("/proc/self/clear_refs").write_text("5")


def peak_mib(device: torch.device) -> tuple[float, str]:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20, "cuda_max_allocated"
    return _proc_status_mib("VmHWM"), "process_peak_rss_minus_runtime"


def warm_up_runtime(model_name: str, m: dict, device: torch.device) -> str | None:
    """One training step of method entry `m` on the catalog's tiny model of the same architecture: it loads the
    libraries, thread pools and kernels a step touches, so that the runtime's own resident memory can be
    measured before the real model exists. Returns the tiny model's name."""
    model_type = config_of(model_name).model_type
    tiny = next((e.name for e in MODELS.values() if e.random_init and e.config["model_type"] == model_type), None)
    if tiny is None:
        return None
    small = {k: v for k, v in m.items() if k not in ("rank", "params")}
    model, _ = prepare(build_lm(tiny, device), tiny, small | ({"rank": 2} if METHODS[m["method"]].uses_rank else {}))
    train_step(model, torch.optim.AdamW([p for p in model.parameters() if p.requires_grad]),
               torch.randint(model.config.vocab_size, (1, 8), device=device))
    return tiny


def memory(spec: dict, label: str, out: str, threads: int | None = None) -> dict:
    """Peak memory of training method `label` of `spec` (lora_bench.config.train_cost_spec), in this process.

    On CPU the peak is the process's resident high-water mark (it sees every allocator: torch's, oneDNN's and
    MKL's scratch buffers, glibc's arenas; tracemalloc sees only Python objects). It is reset once the model is
    built, so transient buffers of construction do not count, and the resident size of the runtime (interpreter
    and libraries, after a step on a tiny model has loaded what a step needs) is subtracted: what is left is
    the weights, gradients, optimizer state, activations and workspace, as `max_memory_allocated` counts them on
    GPU.
    """
    device = pick_device(spec["device"])
    if threads:
        torch.set_num_threads(threads)
    torch.manual_seed(0)
    m = spec["methods"][label]
    warmed_on = warm_up_runtime(spec["model"], m, device)
    runtime = 0.0 if device.type == "cuda" else current_mib(device)
    model, rank = prepare(build_lm(spec["model"], device), spec["model"], m)
    trainable = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(trainable, lr=spec["lr"])
    ids = random_batch(model, spec, device)
    built = current_mib(device) - runtime
    reset_peak(device)
    for _ in range(MEMORY_STEPS):
        train_step(model, opt, ids)
    peak, kind = peak_mib(device)

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "checkpoint.safetensors"
        save_file({n: p.detach().contiguous().cpu() for n, p in model.named_parameters() if p.requires_grad}, path)
        checkpoint_bytes = os.path.getsize(path)

    record = {
        "benchmark": "train_memory",
        "label": label,
        **m,
        "rank": rank,
        "params": count_parameters(model),
        "spec": {k: v for k, v in spec.items() if k != "methods"},
        "device": str(device),
        "threads": torch.get_num_threads(),
        "runtime_mib": runtime,
        "runtime_warmed_on": warmed_on,
        "after_build_mib": built,
        "peak_mib": peak - runtime,
        "peak_kind": kind,
        "weights_mib": _mib([*model.parameters(), *model.buffers()]),
        "grads_mib": _mib(trainable),
        "optimizer_mib": _mib(t for s in opt.state.values() for t in s.values() if torch.is_tensor(t)),
        "checkpoint_bytes": checkpoint_bytes,
        "machine": machine(device),
        "versions": versions(),
        "git": git_state(),
    }
    write_json_atomic(out, record)
    return record


def step_times(spec: dict, out: str, threads: int | None = None) -> dict:
    """Seconds per training step of every method of `spec`, interleaved in one process."""
    device = pick_device(spec["device"])
    if threads:
        torch.set_num_threads(threads)
    torch.manual_seed(0)
    base = build_lm(spec["model"], device)
    ids = random_batch(base, spec, device)
    runs, info = {}, {}
    for label, m in spec["methods"].items():
        model, rank = prepare(sharing_copy(base), spec["model"], m)
        trainable = [p for p in model.parameters() if p.requires_grad]
        runs[label] = model, trainable, torch.optim.AdamW(trainable, lr=spec["lr"])
        info[label] = {**m, "rank": rank, "params": count_parameters(model)}

    def step(label):
        model, trainable, opt = runs[label]
        # The methods share the frozen weights, and requires_grad lives on the shared tensor: set this
        # method's choice before its step. (FT's updates change the shared values; a step's time does not
        # depend on them.)
        model.requires_grad_(False)
        for p in trainable:
            p.requires_grad_(True)
        train_step(model, opt, ids)

    load_before = load_average()
    seconds = time_interleaved({label: partial(step, label) for label in runs}, spec["trials"], spec["warmup"],
                               device)
    record = {
        "benchmark": "train_step_time",
        "spec": {k: v for k, v in spec.items() if k != "methods"},
        "methods": info,
        "tokens_per_step": spec["batch_size"] * spec["seq_len"],
        "seconds": seconds,
        "load_average": {"before": load_before, "after": load_average()},
        "device": str(device),
        "threads": torch.get_num_threads(),
        "machine": machine(device),
        "versions": versions(),
        "git": git_state(),
    }
    write_json_atomic(out, record)
    return record
