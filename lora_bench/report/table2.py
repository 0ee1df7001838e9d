"""Table 2 (GLUE dev): the median over seeds of each run's best epoch, as the paper reports, beside the paper.

Our numbers are on the paper's scale (× 100). The paper row beside a method is the one for the configured
reference model (RoBERTa-base by default); where the paper has no such row (AdapterH/AdapterL exist only for
RoBERTa-large, in the Houlsby setup) the smallest such row of another model is used and named.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from lora_bench.report import load_runs, method_label, paper_table, stats

TASK_ORDER = ["mnli", "sst2", "mrpc", "cola", "qnli", "qqp", "rte", "stsb"]
METHOD_ORDER = ["ft", "bitfit", "adapter_h", "adapter_l", "lora"]  # the paper's; other methods follow by name


def paper_row(paper: pd.DataFrame, method: str, reference: str) -> pd.DataFrame:
    rows = paper[paper.method == method]
    if rows.empty:
        return rows
    same = rows[(rows.model == reference) & (rows.setup == "standard")]
    if not same.empty:
        return same[same.params_m == same.params_m.min()]
    return rows[rows.params_m == rows.params_m.min()].drop_duplicates("task")


def aggregate(paths, reference: str = "roberta-base", baseline: tuple[str, int] | None = None) -> pd.DataFrame:
    """One row per (model, method, rank, task): statistics over seeds (`stats.summarize`), the paper's number,
    and, given `baseline` = (method, rank), the paired comparison with it on the same model and task."""
    runs = load_runs(paths)
    paper = paper_table("table2_glue")
    groups = {key: g for key, g in runs.groupby(["model", "method", "rank", "task"], sort=False)}

    def by_seed(g):
        ok = g[g.status == "ok"]
        return dict(zip(ok.seed, ok.best.to_numpy(dtype=float) * 100))

    out = []
    for (model, method, rank, task), g in groups.items():
        ok = g[g.status == "ok"]
        scores = by_seed(g)
        p = paper_row(paper, g.base_method.iloc[0], reference)
        p = p[p.task == task]
        row = {
            "model": model, "method": method, "rank": rank, "task": task, "metric": g.metric.iloc[0],
            "trainable_params": int(g.trainable.iloc[0]), "head_params": int(g.head_params.iloc[0]),
            "n_seeds": len(ok), "n_failed": int((g.status != "ok").sum()),
            "failed_reasons": "; ".join(sorted(set(g.reason.dropna()))) or None,
            **{k: v for k, v in stats.summarize(list(scores.values())).items() if k != "n"},
            "min": min(scores.values(), default=np.nan),
            "max": max(scores.values(), default=np.nan),
            "peak_memory_mb": float(ok.peak_memory_mb.median()) if len(ok) else np.nan,
            "train_tokens_per_s": float(ok.train_tokens_per_s.median()) if len(ok) else np.nan,
            "baseline": float(g.baseline.iloc[0]) * 100,
            "paper_model": p.model.iloc[0] if len(p) else None,
            "paper_label": p.paper_label.iloc[0] if len(p) else None,
            "paper_params_m": float(p.params_m.iloc[0]) if len(p) else np.nan,
            "paper": float(p.value.iloc[0]) if len(p) else np.nan,
            "paper_spread": float(p.spread.iloc[0]) if len(p) and pd.notna(p.spread.iloc[0]) else np.nan,
        }
        base_key = (model, *baseline, task) if baseline else None
        if base_key in groups:
            vs = stats.paired(scores, by_seed(groups[base_key]))
            if base_key == (model, method, rank, task):  # itself: nothing to test
                vs = {k: np.nan for k in vs} | {"n_pairs": vs["n_pairs"], "verdict": "baseline"}
            row |= {"vs": method_label(*baseline)} | {f"vs_{k}": v for k, v in vs.items()}
        out.append(row)
    table = pd.DataFrame(out)
    table["delta"] = table["median"] - table["paper"]
    table["task"] = pd.Categorical(table.task, [t for t in TASK_ORDER if t in set(table.task)], ordered=True)
    order = {m: i for i, m in enumerate(METHOD_ORDER + sorted(set(table.method) - set(METHOD_ORDER)))}
    table["_order"] = table.method.map(order)
    return table.sort_values(["model", "_order", "rank", "task"]).drop(columns="_order").reset_index(drop=True)


# Not †: the paper's own rows use † for the Houlsby setup, and its label sits beside our cells.
FEW_SEEDS = "°"


def _cell(r: dict) -> str:
    if r["n_seeds"] == 0:
        return f"failed ×{r['n_failed']}"
    ours = f"{r['median']:.1f}" + (f" ±{r['std']:.1f}" if pd.notna(r["std"]) else "")
    ours += stats.marker(r.get("vs_verdict") or "") + (FEW_SEEDS if r["few_seeds"] else "")
    flag = f" ({r['n_failed']} failed)" if r["n_failed"] else ""
    paper = f" [{r['paper']:.1f}]" if pd.notna(r["paper"]) else ""
    return ours + flag + paper


def to_markdown(table: pd.DataFrame) -> str:
    """Methods as rows, tasks as columns: 'ours median ±std [paper]', plus a trivial-baseline row."""
    lines = []
    tasks = [t for t in TASK_ORDER if t in set(table.task)]
    for model, t in table.groupby("model", sort=False):
        records = t.to_dict("records")
        rows = []
        for (method, rank), _ in t.groupby(["method", "rank"], sort=False):
            sub = [r for r in records if r["method"] == method and r["rank"] == rank]
            cells = {r["task"]: _cell(r) for r in sub}
            avg_ours = np.mean([r["median"] for r in sub])
            papers = [r["paper"] for r in sub if pd.notna(r["paper"])]
            full = len(papers) == len(sub)
            avg = f"{avg_ours:.1f}" + (f" [{np.mean(papers):.1f}] Δ {avg_ours - np.mean(papers):+.1f}" if full else "")
            if np.isnan(avg_ours):  # a task with every seed failed: no average to show
                avg = "-"
            first = sub[0]
            paper_params = (f"{first['paper_label']} {first['paper_model']} {first['paper_params_m']}M"
                            if pd.notna(first["paper_label"]) else "-")
            rows.append({"method": method_label(method, rank), "params": f"{first['trainable_params']:,}",
                         "paper row": paper_params, **{task: cells.get(task, "") for task in tasks}, "avg": avg})
        base = {r["task"]: r["baseline"] for r in records}
        rows.append({"method": "trivial baseline", "params": "0", "paper row": "-",
                     **{task: f"{base[task]:.1f}" for task in tasks if task in base},
                     "avg": f"{np.mean(list(base.values())):.1f}"})
        metrics = ", ".join(f"{r['task']}: {r['metric']}" for r in {r["task"]: r for r in records}.values())
        vs = t["vs"].dropna().iloc[0] if "vs" in t and t["vs"].notna().any() else None
        lines += [f"### {model}", "", pd.DataFrame(rows).to_markdown(index=False), "",
                  f"Cells: our median over seeds of the best epoch, ±std (over seeds), [paper]; Δ = ours − paper. Metrics: {metrics}. "
                  "Params: trainable, excluding the task head (as the paper counts). The trivial baseline predicts "
                  "the training majority class (or the mean score). "
                  + (f"▲/▼: better/worse than {vs} in a paired t-test over seeds at 5%. " if vs else "")
                  + f"{FEW_SEEDS}: fewer than 3 seeds. In paper rows, * and † are the paper's marks (* copied from "
                  "earlier papers; † the Houlsby setup, no MNLI initialisation).", "",
                  f"#### Statistics over seeds ({model})", "", stats_frame(t).to_markdown(index=False), "",
                  STATS_LEGEND, ""]
    return "\n".join(lines)


STATS_LEGEND = ("n: seeds that finished. CI: percentile bootstrap 95% interval of the mean over seeds. "
                "Δ vs baseline: mean over seeds of (ours − baseline) on the same seed, with the paired t-test's 95% "
                "interval; p(t): paired t-test, p(flip): exact sign-flip test (its smallest p with 3 seeds is "
                "0.25). Verdict from p(t) at 5%; fewer than 3 seeds are not tested.")


def _num(x, fmt="{:.1f}") -> str:
    return fmt.format(x) if pd.notna(x) else "-"


def stats_frame(table: pd.DataFrame) -> pd.DataFrame:
    """The statistics of `aggregate` as text columns, one row per (method, rank, task)."""
    has_vs = "vs" in table
    rows = []
    for r in table.to_dict("records"):
        row = {"method": method_label(r["method"], r["rank"]), "task": r["task"],
               "n": f"{r['n_seeds']}" + (FEW_SEEDS if r["few_seeds"] else ""),
               "median": _num(r["median"]), "mean ± std": f"{_num(r['mean'])} ± {_num(r['std'])}",
               "95% CI": f"[{_num(r['ci_low'])}, {_num(r['ci_high'])}]" if pd.notna(r["ci_low"]) else "-",
               "paper": _num(r["paper"])}
        if has_vs and isinstance(r.get("vs"), str):
            row |= {f"Δ vs {r['vs']}": f"{_num(r['vs_diff_mean'], '{:+.2f}')} [{_num(r['vs_diff_ci_low'], '{:+.2f}')}, "
                                         f"{_num(r['vs_diff_ci_high'], '{:+.2f}')}]" if r["vs_verdict"] != "baseline" else "-",
                    "p(t)": _num(r["vs_p_t"], "{:.3f}"), "p(flip)": _num(r["vs_p_signflip"], "{:.3f}"),
                    "verdict": r["vs_verdict"]}
        rows.append(row)
    return pd.DataFrame(rows)


def write(paths, csv_out: str | Path, md_out: str | Path, reference: str = "roberta-base",
          baseline: tuple[str, int] | None = None) -> pd.DataFrame:
    table = aggregate(paths, reference, baseline)
    table.to_csv(csv_out, index=False)
    Path(md_out).write_text("# Table 2 — GLUE dev\n\n" + to_markdown(table))
    return table
