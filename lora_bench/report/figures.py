"""Paper-style figures, drawn from the aggregated tables (never from raw runs, so they redraw cheaply)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402


def _legend_and_save(fig, ax, out: str | Path) -> None:
    """One legend for all panels (the first panel's lines), outside them, then write the figure."""
    handles, labels = ax.get_legend_handles_labels()
    fig.tight_layout()
    fig.legend(handles, labels, loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8, frameon=False)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=130, bbox_inches="tight")
    plt.close(fig)


def glue_params(table_csv: str | Path, out: str | Path) -> None:
    """Metric vs trainable parameters (log x), one panel per task, one colour per method."""
    t = pd.read_csv(table_csv)
    tasks = list(dict.fromkeys(t.task))
    methods = sorted(set(t.method))
    colors = dict(zip(methods, plt.cm.tab10.colors))
    fig, axes = plt.subplots(1, len(tasks), figsize=(4.2 * len(tasks), 3.6), squeeze=False)
    for ax, task in zip(axes[0], tasks):
        sub = t[(t.task == task)]
        failed = sorted(set(sub.method[sub["median"].isna()]))  # every seed failed: no point to draw
        for model, ms in sub[sub["median"].notna()].groupby("model"):
            for method, g in ms.groupby("method"):
                g = g.sort_values("trainable_params")
                ax.errorbar(g.trainable_params, g["median"], yerr=g["std"].fillna(0), marker="o", capsize=3,
                            color=colors[method], label=f"{method} ({model})" if len(set(t.model)) > 1 else method)
                for r in g.itertuples():
                    if r.rank:
                        ax.annotate(f"r={r.rank}", (r.trainable_params, r.median), fontsize=7,
                                    textcoords="offset points", xytext=(3, 3))
        ax.axhline(sub.baseline.iloc[0], color="grey", ls="--", lw=1, label="trivial baseline")
        ax.set_xscale("log")
        ax.set_title(f"{task} ({sub.metric.iloc[0]})" + (f"\nfailed: {', '.join(failed)}" if failed else ""))
        ax.set_xlabel("trainable parameters (excl. head)")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("dev metric × 100 (median over seeds)")
    _legend_and_save(fig, axes[0][0], out)


def compare_pareto(compare_csv: str | Path, out: str | Path) -> None:
    """Per task (columns): metric vs trainable parameters (top, log x) and vs peak training memory (bottom).

    Points are medians over seeds, vertical lines the bootstrap 95% CI of the mean; the Pareto front (flags
    computed in `report.compare`) is drawn as a step line through the circled points."""
    t = pd.read_csv(compare_csv)
    t["label"] = [f"{m} r={r}" if r else m for m, r in zip(t.method, t["rank"])]
    if "vs_verdict" in t:
        t.loc[t.vs_verdict == "baseline", "label"] += " (baseline)"
    tasks = list(dict.fromkeys(t.task))
    labels = list(dict.fromkeys(t.label))
    colors = dict(zip(labels, plt.cm.tab10.colors * 3))
    markers = dict(zip(sorted(set(t.model)), "os^Dv"))
    rows = [("trainable_params", "pareto_params", "trainable parameters (excl. head, log)", "log"),
            ("peak_memory_mb", "pareto_memory", "peak training memory (MB)", "linear")]
    fig, axes = plt.subplots(2, len(tasks), figsize=(4.4 * len(tasks), 7.2), squeeze=False)
    for col, task in enumerate(tasks):
        sub = t[t.task == task]
        for row, (cost, flag, xlabel, scale) in enumerate(rows):
            ax = axes[row][col]
            for r in sub.itertuples():
                x = getattr(r, cost)
                ax.plot(x, r.median, marker=markers[r.model], color=colors[r.label], ls="none",
                        label=r.label if len(markers) == 1 else f"{r.label} ({r.model})")
                if pd.notna(r.ci_low):  # a CI of the mean need not contain the median: a line, not an error bar
                    ax.vlines(x, r.ci_low, r.ci_high, color=colors[r.label], lw=1.5, alpha=0.7)
            for _, g in sub.groupby("model"):
                front = g[g[flag]].sort_values(cost)
                ax.step(front[cost], front["median"], where="post", color="black", lw=1, alpha=0.6)
                ax.scatter(front[cost], front["median"], s=160, facecolors="none", edgecolors="black", lw=1)
            ax.set_xscale(scale)
            ax.set_xlabel(xlabel)
            ax.grid(alpha=0.3)
            if row == 0:  # the trivial baseline as a number: as a line it would squash the methods together
                ax.set_title(f"{task} ({sub.metric.iloc[0]}; trivial baseline {sub.baseline.iloc[0]:.1f})")
            if col == 0:
                ax.set_ylabel("dev metric × 100 (median over seeds)")
    handles, names = axes[0][0].get_legend_handles_labels()
    handles.append(plt.Line2D([], [], color="black", marker="o", markerfacecolor="none", lw=1))
    names.append("Pareto front")
    fig.tight_layout()
    fig.legend(handles, names, loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8, frameon=False)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=130, bbox_inches="tight")
    plt.close(fig)




def latency_slowdown(table_csv: str | Path, out: str | Path) -> None:
    """Figure 5: % slow-down over the base model vs batch size, one panel per sequence length; error bars span
    the rounds' ratios, hollow markers are the paper's Table 1 cells."""
    t = pd.read_csv(table_csv)
    t = t[t.variant != "base"]
    seqs = sorted(set(t.seq))
    variants = list(dict.fromkeys(t.variant))
    colors = dict(zip(variants, plt.cm.tab10.colors))
    fig, axes = plt.subplots(1, len(seqs), figsize=(4.2 * len(seqs), 3.6), squeeze=False, sharey=True)
    for ax, seq in zip(axes[0], seqs):
        for variant in variants:
            g = t[(t.seq == seq) & (t.variant == variant)].sort_values("batch")
            err = [(g.ratio - g.ratio_min) * 100, (g.ratio_max - g.ratio) * 100]
            size = g.adapter_size.iloc[0]
            label = f"{variant} ({size})" if isinstance(size, str) and not size.startswith("r=") else variant
            ax.errorbar(g.batch, g.pct_over_base, yerr=err, marker="o", capsize=3, color=colors[variant], label=label)
            p = g[g.paper_pct.notna()]
            ax.scatter(p.batch, p.paper_pct, marker="D", facecolors="none", edgecolors=colors[variant], s=60,
                       zorder=3)
        ax.axhline(0, color="grey", lw=1)
        ax.set_xscale("log", base=2)
        ax.set_xticks(sorted(set(t.batch)), [str(b) for b in sorted(set(t.batch))])
        ax.set_title(f"seq {seq}")
        ax.set_xlabel("batch size")
        ax.grid(alpha=0.3)
    first = t.iloc[0]
    where = first.gpu if isinstance(first.gpu, str) else f"{first.cpu}, {first.threads} threads, load {first.load_before:.1f}"
    axes[0][0].set_ylabel("slow-down over base (%)")
    fig.suptitle(f"Inference latency over the base model — {first.model}, {where} (◇ paper)", fontsize=10)
    _legend_and_save(fig, axes[0][0], out)


def e2e_params(table_csv: str | Path, out: str | Path) -> None:
    """E2E BLEU vs trainable parameters (log x): ours (mean ± std over seeds) and the paper's rows beside."""
    t = pd.read_csv(table_csv)
    t = t[(t.task == "e2e") & (t.metric == "BLEU")]
    methods = sorted(set(t.method))
    colors = dict(zip(methods, plt.cm.tab10.colors))
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for (model, method), g in t.groupby(["model", "method"]):
        g = g.sort_values("trainable_params")
        ax.errorbar(g.trainable_params, g["mean"], yerr=g["std"].fillna(0), marker="o", capsize=3,
                    color=colors[method], label=f"{method} ({model})")
        for r in g.itertuples():
            if r.rank:
                ax.annotate(f"r={r.rank}", (r.trainable_params, r.mean), fontsize=7, textcoords="offset points",
                            xytext=(3, 3))
    paper = t.dropna(subset=["paper"]).drop_duplicates(["paper_model", "paper_label", "paper_params_m"])
    for r in paper.itertuples():
        ax.scatter(r.paper_params_m * 1e6, r.paper, marker="s", facecolors="none", color=colors[r.method])
        ax.annotate(f"paper {r.paper_label} ({r.paper_model})", (r.paper_params_m * 1e6, r.paper), fontsize=7,
                    textcoords="offset points", xytext=(4, -9))
    ax.set_xscale("log")
    ax.set_xlabel("trainable parameters (excl. LM head)")
    ax.set_ylabel("E2E test BLEU (mean over seeds)")
    ax.set_title("E2E NLG: BLEU vs trainable parameters (hollow squares: the paper)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=130, bbox_inches="tight")
    plt.close(fig)
