"""One run = (model, task, method, rank, seed) → one JSON record: the unit every table is built from."""

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
from lora_bench.methods import apply_method, count_parameters
from lora_bench.metrics import glue_metrics, trivial_baseline
from lora_bench.models import get_entry, load_for_classification, resolve
from lora_bench.provenance import git_state, machine, versions, write_json_atomic

# The training subset is drawn with this seed, not the run's: every method and seed sees the same examples,
# so differences between methods are paired, and seeds vary initialisation, dropout and order only.
DATA_SEED = 0
EVAL_BATCH = 64

datasets.disable_progress_bars()  # one bar (training) per log is enough


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)


def pick_device() -> torch.device:
    return torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")


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
def evaluate(model, loader, task, device) -> dict[str, float]:
    model.eval()
    preds, refs = [], []
    for batch in loader:
        batch = {k: v.to(device) for k, v in batch.items()}
        logits = model(**batch).logits
        preds.append(logits.squeeze(-1) if task.is_regression else logits.argmax(-1))
        refs.append(batch["labels"])
    return glue_metrics(task.name, torch.cat(preds).float().cpu().numpy(), torch.cat(refs).cpu().numpy())


def run(spec: dict, out: str | Path, threads: int = 1) -> dict:
    """Train and evaluate one configuration; write `out` (metrics.json) atomically and return the record."""
    start = time.perf_counter()
    torch.set_num_threads(threads)
    seed_everything(spec["seed"])
    device = pick_device()
    task = get_task(spec["task"])
    t = spec["train"]

    train_raw, train_src = load_split(task.name, "train", spec["data_dir"])
    if t["train_size"] and t["train_size"] < len(train_raw):
        train_raw = train_raw.shuffle(seed=DATA_SEED).select(range(t["train_size"]))
    eval_raw, sources = {}, {"train": train_src}
    for split in task.eval_splits:
        ds, sources[split] = load_split(task.name, split, spec["data_dir"])
        eval_raw[split] = ds.select(range(min(t["eval_size"], len(ds)))) if t["eval_size"] else ds

    model, tok = load_for_classification(spec["model"], task.num_labels, spec["model_dir"])
    apply_method(model, spec["base_method"], rank=spec["rank"], **spec["hparams"])
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
    total_steps = t["epochs"] * len(train_loader)
    sched = get_linear_schedule_with_warmup(opt, math.ceil(t["warmup_ratio"] * total_steps), total_steps)

    epochs, status, reason = [], "ok", None
    train_tokens, train_time = 0, 0.0
    headline_split, headline_metric = task.headline
    for epoch in range(1, t["epochs"] + 1):
        model.train()
        t0, losses = time.perf_counter(), []
        bar = tqdm(train_loader, desc=f"epoch {epoch}/{t['epochs']}", mininterval=5, leave=False)
        for step, batch in enumerate(bar):
            batch = {k: v.to(device) for k, v in batch.items()}
            loss = model(**batch).loss
            if not torch.isfinite(loss):
                status, reason = "failed", f"non-finite loss ({loss.item()}) at epoch {epoch}, step {step}"
                break
            loss.backward()
            if t["max_grad_norm"]:
                torch.nn.utils.clip_grad_norm_(trainable, t["max_grad_norm"])
            opt.step()
            sched.step()
            opt.zero_grad(set_to_none=True)
            losses.append(loss.item())
            train_tokens += int(batch["attention_mask"].sum())
            bar.set_postfix(loss=f"{losses[-1]:.4f}", refresh=False)
        train_time += time.perf_counter() - t0
        if status != "ok":
            break
        metrics = {s: evaluate(model, loader, task, device) for s, loader in eval_loaders.items()}
        epochs.append({"epoch": epoch, "train_loss": float(np.mean(losses)), "metrics": metrics,
                       "headline": metrics[headline_split][headline_metric],
                       "seconds": time.perf_counter() - t0})
        print(f"epoch {epoch}: loss {epochs[-1]['train_loss']:.4f} {headline_metric} {epochs[-1]['headline']:.4f}",
              flush=True)

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
        "wall_time_s": time.perf_counter() - start,
        "train_time_s": train_time,
        "train_tokens": train_tokens,
        "train_tokens_per_s": train_tokens / train_time if train_time else None,
        "peak_memory_mb": peak,
        "peak_memory_kind": peak_kind,
        "device": str(device),
        "threads": threads,
        "machine": machine(device),
        "spec": spec,
        "config_hash": spec_hash(spec),
        "provenance": {
            "versions": versions(),
            "git": git_state(),
            "model_source": "random-init" if get_entry(spec["model"]).random_init
            else resolve(spec["model"], spec["model_dir"]),
            "data": {split: {"source": src, "sha256": sha256_of(src)} for split, src in sources.items()},
            "hf_offline": os.environ.get("HF_HUB_OFFLINE") == "1",
        },
    }
    if t["save_weights"]:
        Path(out).parent.mkdir(parents=True, exist_ok=True)  # outside Snakemake nobody made it yet
        save_file({n: p.detach().contiguous().cpu() for n, p in model.named_parameters() if p.requires_grad},
                  Path(out).with_name("weights.safetensors"), metadata={"config_hash": record["config_hash"]})
    write_json_atomic(out, record)  # last: a metrics.json on disk means the run is complete
    return record
