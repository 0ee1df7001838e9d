"""Paper-style figures, drawn from the aggregated tables (never from raw runs, so they redraw cheaply)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402


def glue_params(table_csv: str | Path, out: str | Path) -> None:
    """Metric vs trainable parameters (log x), one panel per task, one colour per method."""
    t = pd.read_csv(table_csv)
    tasks = list(dict.fromkeys(t.task))
    methods = sorted(set(t.method))
    colors = dict(zip(methods, plt.cm.tab10.colors))
    fig, axes = plt.subplots(1, len(tasks), figsize=(4.2 * len(tasks), 3.6), squeeze=False)
    for ax, task in zip(axes[0], tasks):
        sub = t[(t.task == task)]
        for model, ms in sub.groupby("model"):
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
        ax.set_title(f"{task} ({sub.metric.iloc[0]})")
        ax.set_xlabel("trainable parameters (excl. head)")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("dev metric × 100 (median over seeds)")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.tight_layout()
    fig.legend(handles, labels, loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8, frameon=False)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=130, bbox_inches="tight")
    plt.close(fig)


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
