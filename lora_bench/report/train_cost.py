"""The training-cost table: per method, step time and tokens/s (interleaved timing), peak memory (one fresh
process per method), gradient and optimizer-state sizes, trainable parameters and checkpoint size, with ratios
to FT and, for LoRA, the paper's claims beside them."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from lora_bench.config import PEFT_SUFFIX
from lora_bench.report import paper_table
from lora_bench.report.table1 import machine_summary, timing_conditions


def _ratio(seconds: dict, a: str, b: str) -> tuple[float, float, float]:
    """Median, min and max over rounds of step(a) / step(b) timed in the same round."""
    r = np.array(seconds[a]) / np.array(seconds[b])
    return float(np.median(r)), float(r.min()), float(r.max())


def aggregate(memory_jsons, step_json) -> pd.DataFrame:
    step = json.loads(Path(step_json).read_text())
    memory = {r["label"]: r for r in (json.loads(Path(p).read_text()) for p in memory_jsons)}
    seconds = step["seconds"]
    ft = next((label for label, m in step["methods"].items() if m["method"] == "ft"), None)
    rows = []
    for label, m in step["methods"].items():
        mem = memory[label]
        s = np.array(seconds[label])
        vs_ft = _ratio(seconds, label, ft) if ft else (math.nan,) * 3
        rows.append({
            "model": step["spec"]["model"], **machine_summary(step),
            "batch_size": step["spec"]["batch_size"], "seq_len": step["spec"]["seq_len"],
            "label": label, "method": m["method"], "impl": m["impl"], "rank": m["rank"],
            "trainable_params": m["params"]["trainable"], "total_params": m["params"]["total"],
            "trials": len(s), "step_s": float(np.median(s)), "step_s_std": s.std(ddof=1) if len(s) > 1 else math.nan,
            "tokens_per_s": step["tokens_per_step"] / float(np.median(s)),
            "step_vs_ft": vs_ft[0], "step_vs_ft_min": vs_ft[1], "step_vs_ft_max": vs_ft[2],
            "peak_mib": mem["peak_mib"], "peak_kind": mem["peak_kind"],
            "peak_vs_ft": mem["peak_mib"] / memory[ft]["peak_mib"] if ft else math.nan,
            "weights_mib": mem["weights_mib"], "grads_mib": mem["grads_mib"], "optimizer_mib": mem["optimizer_mib"],
            "checkpoint_bytes": mem["checkpoint_bytes"],
            "checkpoint_vs_ft": mem["checkpoint_bytes"] / memory[ft]["checkpoint_bytes"] if ft else math.nan,
        })
    return pd.DataFrame(rows)


def claims(table: pd.DataFrame, step: dict) -> pd.DataFrame:
    """LoRA / FT beside the paper's GPT-3 claims, and our LoRA / peft's LoRA where both were measured."""
    t = table.set_index("label")
    paper = paper_table("train_cost_claims").set_index("quantity")
    peft = [label for label in t.index if label.endswith(PEFT_SUFFIX)]
    lora = peft[0].removesuffix(PEFT_SUFFIX) if peft else next((x for x in t.index if t.method[x] == "lora"), None)
    ft = next((x for x in t.index if t.method[x] == "ft"), None)
    rows = []
    if lora and ft:
        r = t.loc[lora]
        rows += [
            {"quantity": f"step time, {lora} / {ft}", "ours": r.step_vs_ft,
             "ours_range": f"{r.step_vs_ft_min:.3f}–{r.step_vs_ft_max:.3f}", "paper": paper.lora_over_ft["step_time"],
             "paper_source": paper.source["step_time"]},
            {"quantity": f"peak memory, {lora} / {ft}", "ours": r.peak_vs_ft, "ours_range": "",
             "paper": paper.lora_over_ft["peak_memory"], "paper_source": paper.source["peak_memory"]},
            {"quantity": f"checkpoint size, {lora} / {ft}", "ours": r.checkpoint_vs_ft, "ours_range": "",
             "paper": paper.lora_over_ft["checkpoint"], "paper_source": paper.source["checkpoint"]},
        ]
    if peft:
        med, lo, hi = _ratio(step["seconds"], lora, peft[0])
        rows += [
            {"quantity": f"step time, ours {lora} / {peft[0]}", "ours": med, "ours_range": f"{lo:.3f}–{hi:.3f}",
             "paper": math.nan, "paper_source": ""},
            {"quantity": f"peak memory, ours {lora} / {peft[0]}", "ours": t.peak_mib[lora] / t.peak_mib[peft[0]],
             "ours_range": "", "paper": math.nan, "paper_source": ""},
        ]
    return pd.DataFrame(rows)


def to_markdown(table: pd.DataFrame, claim_rows: pd.DataFrame, step: dict) -> str:
    rows = []
    for r in table.itertuples():
        rows.append({
            "method": r.label + (f" r={r.rank}" if r.rank else ""),
            "trainable": f"{r.trainable_params:,}",
            "step s": f"{r.step_s:.3f} ±{r.step_s_std:.3f}",
            "tokens/s": f"{r.tokens_per_s:,.0f}",
            "step / FT": f"{r.step_vs_ft:.3f} ({r.step_vs_ft_min:.3f}–{r.step_vs_ft_max:.3f})",
            "peak MiB": f"{r.peak_mib:,.0f}",
            "peak / FT": f"{r.peak_vs_ft:.3f}",
            "weights / grads / optimizer MiB": f"{r.weights_mib:,.0f} / {r.grads_mib:,.1f} / {r.optimizer_mib:,.1f}",
            "checkpoint": f"{r.checkpoint_bytes / 2**20:,.2f} MiB",
            "FT / checkpoint": f"{1 / r.checkpoint_vs_ft:,.0f}×",
        })
    c = claim_rows.assign(ours=claim_rows.ours.map(lambda v: f"{v:.4g}"),
                          paper=claim_rows.paper.map(lambda v: "" if math.isnan(v) else f"{v:.4g}"))
    m = machine_summary(step)
    spec = step["spec"]
    return "\n".join([
        "# Training cost per method",
        "",
        f"{spec['model']} as a causal LM (random weights), batch {spec['batch_size']} × {spec['seq_len']} random "
        f"tokens, AdamW, fp32, {timing_conditions(step)}. A step = forward, backward, optimizer step.",
        "",
        pd.DataFrame(rows).to_markdown(index=False),
        "",
        f"Step time: median over {spec['trials']} rounds after {spec['warmup']} warm-up step(s), all methods in one "
        "process, one step each per round in rotating order; `step / FT` is the median (range) over rounds of the "
        "ratio within a round. Peak memory: one fresh process per method, "
        + ("`torch.cuda.max_memory_allocated`." if m["gpu"] else
           "the process's peak resident memory during two training steps (reset after the model is built) minus "
           "the resident memory of the bare runtime before it, i.e. weights, gradients, optimizer state, "
           "activations and workspace.")
        + " Checkpoint: the trainable weights saved with safetensors. peft's LoRA on GPT-2 adapts all of c_attn "
          "(q, k, v) with one A and one B; ours adapts the q and v slices (same parameter count).",
        "",
        "## Against the paper's claims",
        "",
        c.to_markdown(index=False),
        "",
        "The paper's ratios are GPT-3 175B's. Memory: FT holds the weights, their gradients and AdamW's two moments "
        "(4× the weights), LoRA the weights; both hold activations, so LoRA / FT approaches 1/4 as the weights "
        "outgrow the activations (a larger batch raises it). Checkpoint: the adapted share of the parameters, "
        "2·L̂·d·r over all of them, which shrinks as the model grows.",
        "",
    ])


def write(memory_jsons, step_json, csv_out, md_out, claims_out) -> pd.DataFrame:
    step = json.loads(Path(step_json).read_text())
    table = aggregate(memory_jsons, step_json)
    claim_rows = claims(table, step)
    table.to_csv(csv_out, index=False)
    claim_rows.to_csv(claims_out, index=False)
    Path(md_out).write_text(to_markdown(table, claim_rows, step))
    return table
