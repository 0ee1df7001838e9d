"""The comparison a new method needs: it, the baselines and the paper, per task, with paired statistics against
one baseline and the Pareto fronts of metric vs trainable parameters and vs peak training memory."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from lora_bench.report import method_label, table2

COSTS = {"trainable_params": "pareto_params", "peak_memory_mb": "pareto_memory"}


def pareto_front(cost, value) -> np.ndarray:
    """True where no other point costs no more and scores no less, and is strictly better in one of the two
    (lower cost is better, higher value is better). Points with a missing number are never on the front."""
    cost, value = np.asarray(cost, dtype=float), np.asarray(value, dtype=float)
    ok = ~(np.isnan(cost) | np.isnan(value))
    front = np.zeros(len(cost), dtype=bool)
    for i in np.flatnonzero(ok):
        no_worse = ok & (cost <= cost[i]) & (value >= value[i])
        strictly = (cost < cost[i]) | (value > value[i])
        front[i] = not np.any(no_worse & strictly)
    return front


def aggregate(paths, reference: str, baseline: tuple[str, int]) -> pd.DataFrame:
    """`table2.aggregate` of the compared runs, with Pareto flags per (model, task) on the median."""
    table = table2.aggregate(paths, reference, tuple(baseline))
    for cost, flag in COSTS.items():
        table[flag] = False
        for _, g in table.groupby(["model", "task"], observed=True):
            table.loc[g.index, flag] = pareto_front(g[cost], g["median"])
    return table


def to_markdown(table: pd.DataFrame, baseline: tuple[str, int]) -> str:
    vs = method_label(*baseline)
    lines = []
    for model, t in table.groupby("model", sort=False):
        detail = table2.stats_frame(t)
        detail.insert(2, "params", [f"{p:,}" for p in t.trainable_params])
        detail.insert(3, "peak MB", [f"{m:,.0f}" if pd.notna(m) else "-" for m in t.peak_memory_mb])
        detail.insert(4, "Pareto", [("P" if p else "") + ("M" if m else "")
                                    for p, m in zip(t.pareto_params, t.pareto_memory)])
        lines += [f"## {model}", "", f"### Against {vs}, per method", ""]
        for (method, rank), g in t.groupby(["method", "rank"], sort=False):
            if (method, rank) == tuple(baseline):
                continue
            tally = {v: [str(x) for x in g.task[g.vs_verdict == v]] for v in
                     ("better", "worse", "no significant difference", "too few seeds")}
            said = "; ".join(f"{v} on {', '.join(ts)}" for v, ts in tally.items() if ts)
            lines.append(f"- **{method_label(method, rank)}** ({int(g.trainable_params.iloc[0]):,} params): {said}")
        lines += ["", "### Per task", "", detail.to_markdown(index=False), "",
                  table2.STATS_LEGEND + " params: trainable, excluding the task head. peak MB: median over seeds of "
                  "the training process's peak memory. Pareto: on the front of metric (median) vs trainable "
                  "parameters (P) or vs peak memory (M) among the methods of this table, per task. paper: the "
                  "paper's number for the method's paper row (RoBERTa-base where it has one), where it has the method.",
                  ""]
    return "\n".join(lines)


def write(paths, csv_out: str | Path, md_out: str | Path, reference: str, baseline) -> pd.DataFrame:
    table = aggregate(paths, reference, baseline)
    table.to_csv(csv_out, index=False)
    Path(md_out).write_text(f"# Comparison against {method_label(*baseline)}\n\n" + to_markdown(table, baseline))
    return table
