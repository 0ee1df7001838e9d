"""Table 3 (E2E NLG test) and the WebNLG/DART table: mean ± std over seeds, as the paper reports, beside the paper.

Our numbers are put on the paper's scale (E2E BLEU, METEOR and ROUGE-L × 100; NIST and CIDEr as they are). The
paper row beside a method is the configured reference model's (GPT-2 M by default) or, for a run on one of the
paper's own models, that model's; where the paper has several rows for a method (AdapterL at two sizes) the one
closest in trainable parameters is used. WebNLG appears as three rows: all (A), seen (S) and unseen (U) categories.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from lora_bench.report import method_label, paper_table

METHOD_ORDER = ["ft", "bitfit", "adapter_l", "adapter_h", "lora"]
# Scale from the scripts' numbers to the paper's: E2E prints BLEU/METEOR/ROUGE-L in [0, 1]; sacrebleu's BLEU
# (WebNLG, DART) is already × 100, and the paper prints their METEOR and TER in [0, 1].
SCALE = {("e2e", "BLEU"): 100, ("e2e", "METEOR"): 100, ("e2e", "ROUGE_L"): 100}
TASK_LABEL = {"e2e": "E2E", "webnlg": "WebNLG (A)", "webnlg_seen": "WebNLG (S)", "webnlg_unseen": "WebNLG (U)",
              "dart": "DART"}


def load_nlg_runs(paths) -> pd.DataFrame:
    """One row per (run, evaluated subset, metric); failed runs keep one row with their reason."""
    rows = []
    for path in paths:
        r = json.loads(Path(path).read_text())
        base = {**r["run"], "status": r["status"], "reason": r["reason"],
                "trainable": r["params"]["trainable_excluding_head"], "total": r["params"]["total"],
                "steps": r["train"]["steps"], "eval_mrs": r["eval_mrs"], "wall_time_s": r["wall_time_s"],
                "path": str(path)}
        if r["status"] != "ok":
            rows.append({**base, "subset": r["run"]["task"], "metric": None, "value": np.nan})
            continue
        subsets = {r["run"]["task"]: r["scores"]} | {f"{r['run']['task']}_{k}": v
                                                      for k, v in r["scores_by_subset"].items()}
        for subset, scores in subsets.items():
            for metric, value in scores.items():
                rows.append({**base, "subset": subset, "metric": metric,
                             "value": value * SCALE.get((r["run"]["task"], metric), 1)})
    return pd.DataFrame(rows)


def _paper_row(paper: pd.DataFrame, model: str, method: str, reference: str, params: int) -> pd.DataFrame:
    rows = paper[paper.method == method]
    rows = rows[rows.model == (model if model in set(paper.model) else reference)]
    if rows.empty:
        return rows
    sizes = rows.params_m.unique()
    closest = sizes[np.argmin(np.abs(np.log(sizes) - np.log(max(params, 1) / 1e6)))]
    return rows[rows.params_m == closest]


def aggregate(paths, paper_name: str, reference: str = "gpt2-medium") -> pd.DataFrame:
    runs = load_nlg_runs(paths)
    paper = paper_table(paper_name)
    out = []
    for (model, method, rank), g in runs.groupby(["model", "method", "rank"], sort=False):
        base, trainable = g.base_method.iloc[0], int(g.trainable.iloc[0])
        p = _paper_row(paper, model, base, reference, trainable)
        for subset, s in g.groupby("subset", sort=False):
            failed = s[s.status != "ok"].drop_duplicates("seed")
            for metric, m in s[s.status == "ok"].groupby("metric", sort=False):
                vals = m.value.to_numpy(dtype=float)
                pm = p[(p.task == subset) & (p.metric == metric)]
                out.append({
                    "model": model, "method": method, "rank": rank, "task": subset, "metric": metric,
                    "trainable_params": trainable, "total_params": int(g.total.iloc[0]),
                    "n_seeds": len(vals), "n_failed": len(failed),
                    "failed_reasons": "; ".join(sorted(set(failed.reason.dropna()))) or None,
                    "mean": float(vals.mean()), "std": float(vals.std(ddof=1)) if len(vals) > 1 else np.nan,
                    "steps": int(m.steps.iloc[0]), "eval_mrs": int(m.eval_mrs.iloc[0]),
                    "paper_model": pm.model.iloc[0] if len(pm) else None,
                    "paper_label": pm.paper_label.iloc[0] if len(pm) else None,
                    "paper_params_m": float(pm.params_m.iloc[0]) if len(pm) else np.nan,
                    "paper": float(pm.value.iloc[0]) if len(pm) else np.nan,
                    "paper_spread": float(pm.spread.iloc[0]) if len(pm) and pd.notna(pm.spread.iloc[0]) else np.nan,
                })
            if s[s.status == "ok"].empty:  # every seed failed: one row says so
                out.append({"model": model, "method": method, "rank": rank, "task": subset, "metric": None,
                            "trainable_params": trainable, "total_params": int(g.total.iloc[0]), "n_seeds": 0,
                            "n_failed": len(failed), "failed_reasons": "; ".join(sorted(set(failed.reason.dropna())))})
    table = pd.DataFrame(out)
    table["delta"] = table["mean"] - table["paper"]
    order = {m: i for i, m in enumerate(METHOD_ORDER + sorted(set(table.method) - set(METHOD_ORDER)))}
    table["_order"] = table.method.map(order)
    return table.sort_values(["model", "task", "_order", "rank"], kind="stable").drop(columns="_order") \
        .reset_index(drop=True)


def _cell(r: dict, digits: int) -> str:
    if not r.get("n_seeds"):
        return f"failed ×{r['n_failed']}"
    ours = f"{r['mean']:.{digits}f}" + (f" ±{r['std']:.{digits}f}" if pd.notna(r["std"]) else "")
    flag = f" ({r['n_failed']} failed)" if r["n_failed"] else ""
    paper = f" [{r['paper']:.{digits}f}]" if pd.notna(r.get("paper")) else ""
    return ours + flag + paper


def to_markdown(table: pd.DataFrame, metrics: list[str]) -> str:
    """Methods as rows, metrics as columns: 'ours mean ±std [paper]'; one block per model and task."""
    digits = {"NIST": 2, "CIDEr": 2, "TER": 2}
    lines = []
    for (model, task), t in table.groupby(["model", "task"], sort=False):
        rows = []
        for (method, rank), g in t.groupby(["method", "rank"], sort=False):
            recs = {r["metric"]: r for r in g.to_dict("records")}
            first = g.iloc[0]
            paper = (f"{first.paper_label} {first.paper_model} {first.paper_params_m}M"
                     if isinstance(first.get("paper_label"), str) else "-")
            rows.append({"method": method_label(method, rank), "params": f"{first.trainable_params:,}",
                         "paper row": paper, "seeds": int(first.n_seeds),
                         **{m: _cell(recs[m], digits.get(m, 1)) if m in recs else
                            (_cell(first.to_dict(), 1) if not first.n_seeds else "") for m in metrics}})
        steps, mrs = t.steps.dropna(), t.eval_mrs.dropna()
        lines += [f"### {TASK_LABEL.get(task, task)} — {model}", "", pd.DataFrame(rows).to_markdown(index=False), "",
                  "Cells: our mean over seeds, ±std (over seeds), [paper]. Params: trainable, excluding the "
                  f"language-model head (as the paper counts). Training steps: {int(steps.max()) if len(steps) else '-'}; "
                  f"evaluated MRs: {int(mrs.max()) if len(mrs) else '-'}.", ""]
    return "\n".join(lines)


def write(paths, csv_out: str | Path, md_out: str | Path, paper_name: str, title: str, metrics: list[str],
          reference: str = "gpt2-medium") -> pd.DataFrame:
    table = aggregate(paths, paper_name, reference)
    table.to_csv(csv_out, index=False)
    Path(md_out).write_text(f"# {title}\n\n" + to_markdown(table, metrics))
    return table
