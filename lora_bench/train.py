"""One run = (model, task, method, rank, seed) → one JSON record: the unit every table is built from.

The run picks its device itself: the first GPU it may see (CUDA_VISIBLE_DEVICES, as a scheduler sets it), else
the CPU. On a GPU it trains under bf16/fp16 autocast when `train.precision` asks; on the CPU it always trains in
fp32, deterministic for a fixed seed. The global batch is batch_size × devices × grad_accumulation: the recipe's
devices are taken one after another on this one device, accumulating gradients before each optimizer step.
"""

from __future__ import annotations

import math
import os
import random
import resource
import time
from pathlib import Path

import datasets
import numpy as np
import torch
from safetensors.torch import save_file
from torch.utils.data import DataLoader
from tqdm.auto import tqdm
from transformers import DataCollatorWithPadding, get_linear_schedule_with_warmup
from transformers.trainer_pt_utils import LengthGroupedSampler

from lora_bench.config import spec_hash
from lora_bench.data.glue import get_task, load_split, sha256_of
from lora_bench.methods import apply_method, count_parameters, get_method, load_plugins, plugin_source
from lora_bench.metrics import glue_metrics, trivial_baseline
from lora_bench.models import get_entry, load_for_classification, resolve
from lora_bench.provenance import code_version, git_state, machine, versions, write_json_atomic

# The training subset is drawn with this seed, not the run's: every method and seed sees the same examples,
# so differences between methods are paired, and seeds vary initialisation, dropout and order only.
DATA_SEED = 0
EVAL_BATCH = 64
AUTOCAST = {"bf16": torch.bfloat16, "fp16": torch.float16}

# cuBLAS is deterministic only with a fixed workspace; it must be set before CUDA starts.
os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
datasets.disable_progress_bars()  # one bar (training) per log is enough


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)


def pick_device(name: str = "auto") -> torch.device:
    """`auto`: the first GPU this process may see (CUDA_VISIBLE_DEVICES decides which), else the CPU."""
    if name == "auto":
        return torch.device("cuda", 0) if torch.cuda.is_available() else torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device 'cuda' asked for, but torch sees no CUDA device")
    return torch.device(name)


def autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype for `precision`, on a GPU only: CPU runs stay fp32 (deterministic, comparable)."""
    if device.type != "cuda" or precision == "fp32":
        return None
    if precision == "bf16" and not torch.cuda.is_bf16_supported():
        raise ValueError(f"train.precision: bf16 is not supported on {torch.cuda.get_device_name(device)}; "
                         "use fp16 or fp32")
    return AUTOCAST[precision]


def rng_states(gen: torch.Generator) -> dict:
    return {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
            "sampler": gen.get_state()}


def set_rng_states(states: dict, gen: torch.Generator) -> None:
    random.setstate(states["python"])
    np.random.set_state(states["numpy"])
    torch.set_rng_state(states["torch"])
    if states["cuda"] is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])
    gen.set_state(states["sampler"])


def save_checkpoint(path: Path, state: dict) -> None:
    """Write to a temporary file, then rename: an interruption mid-write leaves the previous checkpoint."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: Path, config_hash: str, code: str) -> dict | None:
    """The checkpoint at `path` if it belongs to this very run (same settings, same training code)."""
    if not path.exists():
        return None
    state = torch.load(path, map_location="cpu", weights_only=False)  # our own file: it holds RNG states
    if (state["config_hash"], state["code_version"]) != (config_hash, code):
        print(f"ignoring {path}: written for other settings or training code", flush=True)
        return None
    return state


def peak_memory_mb(device: torch.device) -> tuple[float, str]:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20, "cuda_max_allocated"
    # ru_maxrss is the process's high-water mark (KiB on Linux); each run is its own process.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "process_max_rss"


def _encode(ds, task, tok, max_length):
    k1, k2 = task.text_keys
    enc = ds.map(lambda b: tok(b[k1], b[k2] if k2 else None, truncation=True, max_length=max_length),
                 batched=True, remove_columns=[c for c in ds.column_names if c != "label"])
    if task.is_regression:
        enc = enc.cast_column("label", datasets.Value("float32"))
    return enc.rename_column("label", "labels")


def _by_length(ds):
    """Evaluation order does not change a metric; sorted by length, batches carry almost no padding."""
    return ds.select(np.argsort([len(ids) for ids in ds["input_ids"]], kind="stable"))


@torch.inference_mode()
def evaluate(model, loader, task, device, amp_dtype=None) -> dict[str, float]:
    model.eval()
    preds, refs = [], []
    for batch in loader:
        batch = {k: v.to(device) for k, v in batch.items()}
        with torch.autocast(device.type, dtype=amp_dtype, enabled=amp_dtype is not None):
            logits = model(**batch).logits
        preds.append(logits.squeeze(-1) if task.is_regression else logits.argmax(-1))
        refs.append(batch["labels"])
    return glue_metrics(task.name, torch.cat(preds).float().cpu().numpy(), torch.cat(refs).cpu().numpy())


def run(spec: dict, out: str | Path, threads: int = 1) -> dict:
    """Train and evaluate one configuration; write `out` (metrics.json) atomically and return the record."""
    start = time.perf_counter()
    load_plugins([spec["plugin"]] if spec.get("plugin") else [])  # this process registers the run's method too
    method = get_method(spec["base_method"])
    torch.set_num_threads(threads)
    seed_everything(spec["seed"])
    device = pick_device()
    task = get_task(spec["task"])
    t = spec["train"]
    amp_dtype = autocast_dtype(t["precision"], device)
    config_hash, code = spec_hash(spec), code_version()

    train_raw, train_src = load_split(task.name, "train", spec["data_dir"])
    if t["train_size"] and t["train_size"] < len(train_raw):
        train_raw = train_raw.shuffle(seed=DATA_SEED).select(range(t["train_size"]))
    eval_raw, sources = {}, {"train": train_src}
    for split in task.eval_splits:
        ds, sources[split] = load_split(task.name, split, spec["data_dir"])
        eval_raw[split] = ds.select(range(min(t["eval_size"], len(ds)))) if t["eval_size"] else ds

    model, tok = load_for_classification(spec["model"], task.num_labels, spec["model_dir"])
    model = apply_method(model, spec["base_method"], rank=spec["rank"], **spec["hparams"])
    model.to(device)
    params = count_parameters(model)

    collate = DataCollatorWithPadding(tok)
    train_ds = _encode(train_raw, task, tok, t["max_length"])
    gen = torch.Generator().manual_seed(spec["seed"])
    if t["group_by_length"]:  # batches of similar length pad less: the same examples for a fraction of the compute
        lengths = [len(ids) for ids in train_ds["input_ids"]]
        sampler = LengthGroupedSampler(t["batch_size"], lengths=lengths, generator=gen)
        train_loader = DataLoader(train_ds, batch_size=t["batch_size"], sampler=sampler, collate_fn=collate)
    else:
        train_loader = DataLoader(train_ds, batch_size=t["batch_size"], shuffle=True, generator=gen,
                                  collate_fn=collate)
    eval_loaders = {s: DataLoader(_by_length(_encode(d, task, tok, t["max_length"])), batch_size=EVAL_BATCH,
                                  collate_fn=collate) for s, d in eval_raw.items()}

    trainable = [p for p in model.parameters() if p.requires_grad]
    decay = [p for p in trainable if p.ndim >= 2]  # no weight decay on biases and norms, as usual
    rest = [p for p in trainable if p.ndim < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": t["weight_decay"]},
                             {"params": rest, "weight_decay": 0.0}], lr=t["lr"])
    micro = t["devices"] * t["grad_accumulation"]  # micro-batches per optimizer step
    batches = len(train_loader)
    total_steps = t["epochs"] * math.ceil(batches / micro)
    sched = get_linear_schedule_with_warmup(opt, math.ceil(t["warmup_ratio"] * total_steps), total_steps)
    scaler = torch.amp.GradScaler(device.type, enabled=amp_dtype == torch.float16)  # fp16 needs loss scaling

    epochs, status, reason = [], "ok", None
    train_tokens, train_time, optimizer_steps, elapsed_before = 0, 0.0, 0, 0.0
    ckpt_path = Path(out).with_name("checkpoint.pt")
    resumed = load_checkpoint(ckpt_path, config_hash, code) if t["checkpoint"] else None
    if resumed:
        missing, unexpected = model.load_state_dict(resumed["model"], strict=False)
        assert not unexpected and not set(resumed["model"]) & set(missing), "checkpoint does not fit the model"
        opt.load_state_dict(resumed["optimizer"])
        sched.load_state_dict(resumed["scheduler"])
        if resumed["scaler"]:  # empty when saved without fp16 loss scaling
            scaler.load_state_dict(resumed["scaler"])
        set_rng_states(resumed["rng"], gen)
        epochs, train_tokens, train_time = resumed["epochs"], resumed["train_tokens"], resumed["train_time"]
        optimizer_steps, elapsed_before = resumed["optimizer_steps"], resumed["elapsed"]
        print(f"resuming after epoch {resumed['epoch']} from {ckpt_path}", flush=True)
    headline_split, headline_metric = task.headline
    for epoch in range(len(epochs) + 1, t["epochs"] + 1):
        model.train()
        t0, losses = time.perf_counter(), []
        bar = tqdm(train_loader, desc=f"epoch {epoch}/{t['epochs']}", mininterval=5, leave=False)
        for i, batch in enumerate(bar):
            batch = {k: v.to(device) for k, v in batch.items()}
            with torch.autocast(device.type, dtype=amp_dtype, enabled=amp_dtype is not None):
                loss = model(**batch).loss
            if not torch.isfinite(loss):
                status, reason = "failed", f"non-finite loss ({loss.item()}) at epoch {epoch}, batch {i}"
                break
            # The step's gradient is the mean over its micro-batches; an epoch's last step may have fewer.
            in_step = min(micro, batches - i // micro * micro)
            scaler.scale(loss / in_step).backward()
            if (i + 1) % micro == 0 or i + 1 == batches:
                if t["max_grad_norm"]:
                    scaler.unscale_(opt)
                    torch.nn.utils.clip_grad_norm_(trainable, t["max_grad_norm"])
                scaler.step(opt)
                scaler.update()
                sched.step()
                optimizer_steps += 1
                if method.after_step:  # e.g. AdaLoRA's rank reallocation, which reads this step's gradients
                    method.after_step(model, optimizer_steps)
                opt.zero_grad(set_to_none=True)
            losses.append(loss.item())
            train_tokens += int(batch["attention_mask"].sum())
            bar.set_postfix(loss=f"{losses[-1]:.4f}", refresh=False)
        train_time += time.perf_counter() - t0
        if status != "ok":
            break
        metrics = {s: evaluate(model, loader, task, device, amp_dtype) for s, loader in eval_loaders.items()}
        epochs.append({"epoch": epoch, "train_loss": float(np.mean(losses)), "metrics": metrics,
                       "headline": metrics[headline_split][headline_metric],
                       "seconds": time.perf_counter() - t0})
        print(f"epoch {epoch}: loss {epochs[-1]['train_loss']:.4f} {headline_metric} {epochs[-1]['headline']:.4f}",
              flush=True)
        if t["checkpoint"] and epoch < t["epochs"]:
            save_checkpoint(ckpt_path, {
                "config_hash": config_hash, "code_version": code, "epoch": epoch,
                "model": {n: p.detach().cpu() for n, p in model.named_parameters() if p.requires_grad},
                "optimizer": opt.state_dict(), "scheduler": sched.state_dict(), "scaler": scaler.state_dict(),
                "rng": rng_states(gen), "epochs": epochs, "train_tokens": train_tokens, "train_time": train_time,
                "optimizer_steps": optimizer_steps, "elapsed": elapsed_before + time.perf_counter() - start,
            })

    peak, peak_kind = peak_memory_mb(device)
    record = {
        "run": {k: spec[k] for k in ("model", "task", "method", "base_method", "rank", "seed")},
        "status": status,
        "reason": reason,
        "headline_metric": f"{headline_split}/{headline_metric}",
        "best": max(epochs, key=lambda e: e["headline"]) if epochs else None,
        "last": epochs[-1] if epochs else None,
        "epochs": epochs,
        "baseline": trivial_baseline(task.name, train_raw["label"], eval_raw[headline_split]["label"]),
        "params": params,
        "train_examples": len(train_raw),
        "eval_examples": {s: len(d) for s, d in eval_raw.items()},
        "global_batch": t["batch_size"] * t["devices"] * t["grad_accumulation"],
        "optimizer_steps": optimizer_steps,
        "resumed_after_epoch": resumed["epoch"] if resumed else None,
        "wall_time_s": elapsed_before + time.perf_counter() - start,
        "train_time_s": train_time,
        "train_tokens": train_tokens,
        "train_tokens_per_s": train_tokens / train_time if train_time else None,
        "peak_memory_mb": peak,
        "peak_memory_kind": peak_kind,
        "device": str(device),
        "precision": t["precision"] if amp_dtype else "fp32",  # what it trained in: the CPU ignores bf16/fp16
        "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
        "threads": threads,
        "machine": machine(device),
        "spec": spec,
        "config_hash": config_hash,
        "code_version": code,
        "provenance": {
            "versions": versions(),
            "git": git_state(),
            "model_source": "random-init" if get_entry(spec["model"]).random_init
            else resolve(spec["model"], spec["model_dir"]),
            "tokenizer_source": resolve(get_entry(spec["model"]).tokenizer_from or spec["model"], spec["model_dir"]),
            "data": {split: {"source": src, "sha256": sha256_of(src)} for split, src in sources.items()},
            "hf_offline": os.environ.get("HF_HUB_OFFLINE") == "1",
            **({"plugin": {"entry": spec["plugin"], "sha256": sha256_of(plugin_source(spec["plugin"]))}}
               if spec.get("plugin") else {}),
        },
    }
    if t["save_weights"]:
        Path(out).parent.mkdir(parents=True, exist_ok=True)  # outside Snakemake nobody made it yet
        save_file({n: p.detach().contiguous().cpu() for n, p in model.named_parameters() if p.requires_grad},
                  Path(out).with_name("weights.safetensors"), metadata={"config_hash": record["config_hash"]})
    write_json_atomic(out, record)  # last: a metrics.json on disk means the run is complete
    ckpt_path.unlink(missing_ok=True)
    return record
