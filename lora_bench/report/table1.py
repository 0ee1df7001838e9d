"""Table 1 (inference latency) from a latency record, with the paper's numbers beside ours.

Per cell (batch, seq) and variant: mean ± std and median of the timed forward passes in ms, and the slow-down
over the base model as the median over rounds of (variant / base, timed in the same round) − 1. The ratio
within a round is what cancels the machine's drift; the absolute ms carry it.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from lora_bench.report import paper_table

COLUMNS = [("base", "base (= FT)"), ("lora_merged", "LoRA merged"), ("lora_unmerged", "LoRA unmerged"),
           ("adapter_l", "AdapterL"), ("adapter_h", "AdapterH")]


def machine_summary(record: dict) -> dict:
    m, load = record["machine"], record["load_average"]
    return {"device": record["device"], "cpu": m["cpu"], "cores": m["cpu_count"], "threads": record["threads"],
            "gpu": m.get("gpu"), "torch": record["versions"]["torch"],
            "load_before": load["before"][0], "load_after": load["after"][0]}


def timing_conditions(record: dict) -> str:
    """Where the timing ran, and how busy the machine was (1-minute load average before and after)."""
    m = machine_summary(record)
    where = (f"{m['gpu']} (CUDA events)" if m["gpu"] else
             f"{m['cpu']}, {m['threads']} threads on {m['cores']} cores")
    return f"{where}, torch {m['torch']}; load average {m['load_before']:.1f} before, {m['load_after']:.1f} after"


def _paper_row(paper: pd.DataFrame, batch: int, seq: int, kind: str, budget: float | None) -> dict | None:
    p = paper[(paper.batch == batch) & (paper.seq == seq) & (paper.variant == kind)]
    if kind.startswith("adapter"):
        if budget is None:
            return None
        p = p[np.isclose(p.adapter_params_m * 1e6, budget)]
    return p.iloc[0].to_dict() if len(p) else None


def aggregate(latency_json: str | Path) -> pd.DataFrame:
    record = json.loads(Path(latency_json).read_text())
    variants = {v["variant"]: v for v in record["variants"]}
    paper = paper_table("table1_latency")
    rows = []
    for cell in record["cells"]:
        base = np.array(cell["seconds"]["base"])
        for label, seconds in cell["seconds"].items():
            v = variants[label]
            ms = np.array(seconds) * 1000
            ratio = np.array(seconds) / base
            kind = v["method"] if v["method"].startswith("adapter") else label
            p = _paper_row(paper, cell["batch"], cell["seq"], kind, v["budget"])
            rows.append({
                "model": record["spec"]["model"], **machine_summary(record),
                "batch": cell["batch"], "seq": cell["seq"], "variant": label, "kind": kind, "method": v["method"],
                "rank": v["rank"], "adapter_size": v["size"], "params": v["params"], "trials": len(ms),
                "mean_ms": ms.mean(), "std_ms": ms.std(ddof=1) if len(ms) > 1 else math.nan,
                "median_ms": float(np.median(ms)),
                "ratio": float(np.median(ratio)), "ratio_min": ratio.min(), "ratio_max": ratio.max(),
                "pct_over_base": (float(np.median(ratio)) - 1) * 100,
                "paper_label": p and p["paper_label"], "paper_ms": p and p["mean_ms"],
                "paper_std_ms": p and p["std_ms"], "paper_pct": p and p["pct_over_base"],
            })
    return pd.DataFrame(rows)


def _cell(r) -> str:
    ours = f"{r.mean_ms:.1f} ±{r.std_ms:.1f}" if not math.isnan(r.std_ms) else f"{r.mean_ms:.1f}"
    if r.variant != "base":
        ours += f" ({r.pct_over_base:+.1f}%)"
    if isinstance(r.paper_label, str):
        ours += f" [{r.paper_ms:.1f} ±{r.paper_std_ms:.1f}" + (f" ({r.paper_pct:+.1f}%)]" if r.variant != "base" else "]")
    return ours


def pooled_ratios(record: dict) -> dict[str, np.ndarray]:
    """variant → its ratio to base in every round of every cell."""
    cells = record["cells"]
    return {label: np.concatenate([np.array(c["seconds"][label]) / np.array(c["seconds"]["base"]) for c in cells])
            for label in cells[0]["seconds"] if label != "base"}


def to_markdown(table: pd.DataFrame, record: dict) -> str:
    """One row per (batch, seq, adapter size): the paper's Table 1 turned on its side, so any grid fits."""
    rows = []
    shared = table[table.adapter_size.isna()]
    sizes = list(dict.fromkeys(table.adapter_size.dropna())) or [None]
    for (seq, batch), cell in table.groupby(["seq", "batch"], sort=True):
        for size in sizes:
            adapters = cell[cell.adapter_size == size]
            ranks = ", ".join(f"{'L' if r.method == 'adapter_l' else 'H'} r={r.rank}" for r in adapters.itertuples())
            row = {"batch / seq / adapters": f"{batch} / {seq} / {size} ({ranks})" if size else f"{batch} / {seq}"}
            for kind, title in COLUMNS:
                hit = pd.concat([shared[(shared.batch == batch) & (shared.seq == seq)], adapters])
                hit = hit[hit.kind == kind]
                row[title] = _cell(next(hit.itertuples())) if len(hit) else ""
            rows.append(row)
    check = record["merge_check"]
    pooled = "; ".join(f"{label} {np.median(r):.3f} ({np.percentile(r, 25):.3f}–{np.percentile(r, 75):.3f})"
                       for label, r in pooled_ratios(record).items())
    lora = next(v for v in record["variants"] if v["variant"] == "lora_merged")
    return "\n".join([
        "# Table 1 — inference latency of one forward pass",
        "",
        f"{record['spec']['model']} (random weights, no LM head), fp32, {timing_conditions(record)}. "
        f"{record['spec']['trials']} timed rounds after {record['spec']['warmup']} warm-up pass(es); each round times "
        "every variant once, in rotating order. Paper: GPT-2 medium on a Quadro RTX 8000, mean of 100 trials.",
        "",
        pd.DataFrame(rows).to_markdown(index=False),
        "",
        "Cells: ours, ms mean ±std over rounds (% over base: median over rounds of variant / base timed in the "
        "same round, − 1) [paper, same layout]. The paper's row 'FT / LoRA (merged)' stands beside both. "
        f"LoRA: r = {lora['rank']}, {lora['params']:,} parameters. Adapter sizes are parameter budgets, as the "
        "paper gives them, turned into the bottleneck r on this architecture, or r itself.",
        "",
        f"Over all cells and rounds, variant / base (median, interquartile range): {pooled}.",
        "",
        f"Check: merged and unmerged LoRA outputs differ by at most {check['merged_vs_unmerged_max_abs']:.2e} "
        f"(LoRA against base: {check['lora_vs_base_max_abs']:.2e}), so the merged model times the same function.",
        "",
    ])


def write(latency_json, csv_out, md_out) -> pd.DataFrame:
    table = aggregate(latency_json)
    table.to_csv(csv_out, index=False)
    Path(md_out).write_text(to_markdown(table, json.loads(Path(latency_json).read_text())))
    return table
