"""One NLG run = (model, task, method, rank, seed), in three steps that each leave a file behind:

  train  → ``train.json`` (the training record) + ``weights.safetensors`` (the trained parameters only)
  decode → ``predictions.txt`` (one output per MR) + ``references.txt`` (the official multi-reference format)
  score  → ``metrics.json`` (the run record every table is built from)

so a metric can be recomputed without decoding again, and decoding settings changed without training again.
Training follows the paper's GPT-2 recipe: (MR, EOS, reference, EOS) sequences with the loss on the reference
only, label smoothing, AdamW with linear warm-up and decay. Decoding is beam search through `generate`.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch.utils.data import DataLoader
from tqdm.auto import tqdm
from transformers import DataCollatorForSeq2Seq, get_linear_schedule_with_warmup
from transformers.trainer_pt_utils import LengthGroupedSampler

from lora_bench.config import spec_hash
from lora_bench.data.glue import sha256_of
from lora_bench.data.nlg import WEBNLG_SEEN, encode_pair, get_task, load_split, training_pairs
from lora_bench.methods import apply_method, count_parameters
from lora_bench.methods.lora import merge
from lora_bench.metrics_nlg import e2e_scores, read_predictions, read_references, webnlg_scores, write_references
from lora_bench.models import get_entry, load_causal_lm, resolve
from lora_bench.provenance import NLG_CODE, code_version, git_state, machine, versions, write_json_atomic
from lora_bench.train import DATA_SEED, peak_memory_mb, pick_device, seed_everything

LOSS_POINTS = 50  # the loss curve is kept as this many window means, whatever the number of steps


def _model(spec: dict):
    model, tok = load_causal_lm(spec["model"], spec["model_dir"])
    apply_method(model, spec["base_method"], rank=spec["rank"], **spec["hparams"])
    return model, tok


def _provenance(spec: dict, sources: dict[str, str]) -> dict:
    return {
        "versions": versions(),
        "git": git_state(),
        "model_source": "random-init" if get_entry(spec["model"]).random_init
        else resolve(spec["model"], spec["model_dir"]),
        "data": {split: {"source": src, "sha256": sha256_of(src)} for split, src in sources.items()},
        "hf_offline": os.environ.get("HF_HUB_OFFLINE") == "1",
    }


def lm_loss(model, batch: dict, label_smoothing: float) -> torch.Tensor:
    """Next-token cross-entropy on the labelled (reference) positions, with label smoothing as the paper's code
    (1 − ε)·NLL + ε·mean over the vocabulary of −log p."""
    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    return F.cross_entropy(logits[:, :-1].flatten(0, 1).float(), batch["labels"][:, 1:].flatten(),
                           ignore_index=-100, label_smoothing=label_smoothing)


# ---------------------------------------------------------------------------------------------------- train


def train(spec: dict, run_dir: str | Path, threads: int = 1) -> dict:
    """Train one configuration; write weights.safetensors and train.json (last, atomically) into `run_dir`."""
    start = time.perf_counter()
    run_dir = Path(run_dir)
    torch.set_num_threads(threads)
    seed_everything(spec["seed"])
    device = pick_device()
    t = spec["train"]

    entries, train_src = load_split(spec["task"], "train", spec["data_dir"])
    pairs = training_pairs(entries)
    if t["train_size"] and t["train_size"] < len(pairs):  # the same subset for every method and seed
        pairs = [pairs[i] for i in np.random.RandomState(DATA_SEED).permutation(len(pairs))[: t["train_size"]]]

    model, tok = _model(spec)
    model.to(device)
    params = count_parameters(model)
    tok.padding_side = "right"
    examples = [encode_pair(tok, source, ref, t["max_length"]) for source, ref in pairs]
    collate = DataCollatorForSeq2Seq(tok, padding=True, label_pad_token_id=-100, return_tensors="pt")
    gen = torch.Generator().manual_seed(spec["seed"])
    if t["group_by_length"]:
        sampler = LengthGroupedSampler(t["batch_size"], lengths=[len(e["input_ids"]) for e in examples],
                                       generator=gen)
        loader = DataLoader(examples, batch_size=t["batch_size"], sampler=sampler, collate_fn=collate)
    else:
        loader = DataLoader(examples, batch_size=t["batch_size"], shuffle=True, generator=gen, collate_fn=collate)

    trainable = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW([{"params": [p for p in trainable if p.ndim >= 2], "weight_decay": t["weight_decay"]},
                             {"params": [p for p in trainable if p.ndim < 2], "weight_decay": 0.0}], lr=t["lr"])
    total_steps = t["max_steps"] or t["epochs"] * len(loader)
    sched = get_linear_schedule_with_warmup(opt, min(t["warmup_steps"], total_steps), total_steps)

    status, reason = "ok", None
    step, train_tokens, window, curve = 0, 0, [], []
    log_every = max(1, total_steps // LOSS_POINTS)
    t0 = time.perf_counter()
    bar = tqdm(total=total_steps, desc="train", mininterval=10)
    model.train()
    while step < total_steps and status == "ok":
        for batch in loader:
            batch = {k: v.to(device) for k, v in batch.items()}
            loss = lm_loss(model, batch, t["label_smoothing"])
            if not torch.isfinite(loss):
                status, reason = "failed", f"non-finite loss ({loss.item()}) at step {step}"
                break
            loss.backward()
            if t["max_grad_norm"]:
                torch.nn.utils.clip_grad_norm_(trainable, t["max_grad_norm"])
            opt.step()
            sched.step()
            opt.zero_grad(set_to_none=True)
            step += 1
            train_tokens += int(batch["attention_mask"].sum())
            window.append(loss.item())
            if step % log_every == 0 or step == total_steps:
                curve.append({"step": step, "loss": float(np.mean(window))})
                print(f"step {step}/{total_steps}: loss {curve[-1]['loss']:.4f}", flush=True)
                window = []
            bar.update()
            if step == total_steps:
                break
    bar.close()
    train_time = time.perf_counter() - t0

    if status == "ok":
        save_file({n: p.detach().contiguous().cpu() for n, p in model.named_parameters() if p.requires_grad},
                  run_dir / "weights.safetensors", metadata={"config_hash": spec_hash(spec)})
    peak, peak_kind = peak_memory_mb(device)
    record = {
        "run": {k: spec[k] for k in ("model", "task", "method", "base_method", "rank", "seed")},
        "status": status,
        "reason": reason,
        "steps": step,
        "epochs": step / len(loader),
        "loss_curve": curve,
        "final_loss": curve[-1]["loss"] if curve else None,
        "params": params,
        "train_examples": len(pairs),
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
        "code_version": code_version(NLG_CODE),
        "provenance": _provenance(spec, {"train": train_src}),
    }
    write_json_atomic(run_dir / "train.json", record)
    return record


# ---------------------------------------------------------------------------------------------------- decode


@torch.inference_mode()
def generate(model, tok, sources: list[str], d: dict, max_length: int) -> list[str]:
    """Beam search on each MR, batched; batches are formed by prompt length so they carry little padding."""
    tok.padding_side = "left"  # decoder-only generation continues from the right end of every row
    prompts = [encode_pair(tok, s, None, max_length) for s in sources]
    order = np.argsort([len(p["input_ids"]) for p in prompts], kind="stable")
    outputs: list[str] = [""] * len(prompts)
    device = next(model.parameters()).device
    for i in tqdm(range(0, len(order), d["batch_size"]), desc="decode", mininterval=10):
        idx = order[i:i + d["batch_size"]]
        batch = tok.pad([prompts[j] for j in idx], return_tensors="pt").to(device)
        out = model.generate(**batch, num_beams=d["num_beams"], length_penalty=d["length_penalty"],
                             no_repeat_ngram_size=d["no_repeat_ngram_size"], max_new_tokens=d["max_new_tokens"],
                             early_stopping=True, do_sample=False, eos_token_id=tok.eos_token_id,
                             pad_token_id=tok.pad_token_id)
        for j, seq in zip(idx, out[:, batch["input_ids"].shape[1]:]):
            outputs[j] = " ".join(tok.decode(seq, skip_special_tokens=True).split())  # one line per output
    return outputs


def eval_entries(spec: dict) -> tuple[list[dict], str]:
    """The evaluation MRs of a run: the task's test split, or `decode.test_size` of them drawn with the data seed
    (the same MRs for every run; the split is sorted by restaurant name, so its first MRs would not be typical)."""
    entries, src = load_split(spec["task"], get_task(spec["task"]).eval_split, spec["data_dir"])
    n = spec["decode"]["test_size"]
    if n and n < len(entries):
        entries = [entries[i] for i in sorted(np.random.RandomState(DATA_SEED).permutation(len(entries))[:n])]
    return entries, src


def decode(spec: dict, run_dir: str | Path, threads: int = 1) -> dict:
    """Decode the evaluation MRs with the trained run; write predictions.txt, references.txt and decode.json."""
    start = time.perf_counter()
    run_dir = Path(run_dir)
    torch.set_num_threads(threads)
    seed_everything(spec["seed"])
    trained = json.loads((run_dir / "train.json").read_text())
    entries, src = eval_entries(spec)
    write_references(run_dir / "references.txt", [e["references"] for e in entries])
    record = {"status": trained["status"], "reason": trained["reason"], "mrs": len(entries),
              "categories": [e["category"] for e in entries], "decode": spec["decode"], "source": src}
    predictions: list[str] = []
    if trained["status"] == "ok":
        model, tok = _model(spec)
        weights = load_file(run_dir / "weights.safetensors")
        missing, unexpected = model.load_state_dict(weights, strict=False)
        if unexpected or set(weights) - {n for n, _ in model.named_parameters()}:
            raise ValueError(f"{run_dir / 'weights.safetensors'} does not fit {spec['model']} + {spec['method']}: "
                             f"unexpected {unexpected[:5]}")
        merge(model)  # LoRA folded into W: decoding costs what the base model costs
        model.to(pick_device()).eval()
        t0 = time.perf_counter()
        predictions = generate(model, tok, [e["source"] for e in entries], spec["decode"], spec["train"]["max_length"])
        record["decode_time_s"] = time.perf_counter() - t0
        record["examples"] = [{"source": e["source"], "prediction": p, "reference": e["references"][0]}
                              for e, p in list(zip(entries, predictions))[:5]]
    (run_dir / "predictions.txt").write_text("".join(p + "\n" for p in predictions), encoding="utf-8")
    record["wall_time_s"] = time.perf_counter() - start
    write_json_atomic(run_dir / "decode.json", record)
    return record


# ---------------------------------------------------------------------------------------------------- score


def task_scores(task: str, predictions: list[str], references: list[list[str]]) -> dict[str, float]:
    return e2e_scores(predictions, references) if task == "e2e" else webnlg_scores(predictions, references)


def score(spec: dict, run_dir: str | Path, out: str | Path | None = None) -> dict:
    """Score the saved predictions; write the run record metrics.json (atomically, last)."""
    run_dir = Path(run_dir)
    trained = json.loads((run_dir / "train.json").read_text())
    decoded = json.loads((run_dir / "decode.json").read_text())
    scores, by_subset = None, {}
    if decoded["status"] == "ok":
        preds, refs = read_predictions(run_dir / "predictions.txt"), read_references(run_dir / "references.txt")
        if len(preds) != len(refs):
            raise ValueError(f"{run_dir}: {len(preds)} predictions but {len(refs)} MRs in references.txt")
        scores = task_scores(spec["task"], preds, refs)
        if spec["task"] == "webnlg":  # the paper reports WebNLG on seen (S), unseen (U) and all (A) categories
            for name, keep in (("seen", True), ("unseen", False)):
                idx = [i for i, c in enumerate(decoded["categories"]) if (c in WEBNLG_SEEN) == keep]
                if idx:
                    by_subset[name] = task_scores("webnlg", [preds[i] for i in idx], [refs[i] for i in idx])
    record = {
        "run": trained["run"],
        "status": decoded["status"],
        "reason": decoded["reason"],
        "headline_metric": "BLEU",
        "scores": scores,
        "scores_by_subset": by_subset,
        "metric_scale": "official script: BLEU, METEOR, ROUGE_L in [0, 1] (the paper prints them × 100)",
        "params": trained["params"],
        "eval_mrs": decoded["mrs"],
        "train": {k: trained[k] for k in ("steps", "epochs", "final_loss", "loss_curve", "train_examples",
                                          "train_time_s", "train_tokens", "train_tokens_per_s", "peak_memory_mb",
                                          "peak_memory_kind", "wall_time_s")},
        "decode": {k: decoded.get(k) for k in ("decode", "decode_time_s", "wall_time_s", "examples")},
        "wall_time_s": trained["wall_time_s"] + decoded["wall_time_s"],
        "device": trained["device"],
        "threads": trained["threads"],
        "machine": trained["machine"],
        "spec": spec,
        "config_hash": spec_hash(spec),
        "provenance": trained["provenance"] | {"eval_data": decoded["source"]},
    }
    write_json_atomic(out or run_dir / "metrics.json", record)
    return record


def run(spec: dict, run_dir: str | Path, threads: int = 1) -> dict:
    """All three steps (outside the DAG, e.g. `lora-bench train-nlg`)."""
    Path(run_dir).mkdir(parents=True, exist_ok=True)
    train(spec, run_dir, threads)
    decode(spec, run_dir, threads)
    return score(spec, run_dir)
