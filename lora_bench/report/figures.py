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
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.tight_layout()
    fig.legend(handles, labels, loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8, frameon=False)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=130, bbox_inches="tight")
    plt.close(fig)
