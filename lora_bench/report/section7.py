"""Section 7 of the paper on our runs: Tables 5-7, Figures 3-4, and two of its future directions (the low-data
regime, the effective rank of ΔW).

Each function takes the run records it reads and writes three files: a CSV with every number, a Markdown table
with ours beside the paper's, and a figure drawn from that CSV. The paper's Section 7 numbers are GPT-3 175B on
WikiSQL and MNLI, so every table names both settings and never implies they are the same experiment.
"""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from lora_bench.analysis import subspace  # noqa: E402
from lora_bench.analysis.updates import load_updates  # noqa: E402
from lora_bench.report import load_runs, method_label, paper_table  # noqa: E402
from lora_bench.report.table2 import paper_row  # noqa: E402

PAPER_TASKS = {"wikisql": "WikiSQL acc", "mnli": "MNLI-m acc"}
PAPER_SETTING = "GPT-3 175B"


def _weight_types(targets: str) -> str:
    return "{" + ", ".join(f"W{t}" for t in targets) + "}"


def _targets(hparams: dict) -> str:
    return "".join(hparams.get("targets", ["q", "v"]))  # LoRA's default targets are q, v


def _setting(runs: pd.DataFrame) -> str:
    r = runs.iloc[0]
    epochs = sorted(set(runs.epochs))
    return (f"{r.model} on {r.task} ({r.metric}, dev, × 100), {r.train_examples:,} training examples, "
            f"{'/'.join(map(str, epochs))} epoch(s), seeds {sorted(set(runs.seed))}")


def _seed_summary(runs: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """One row per group: the median over seeds of each run's best epoch (× 100), as Table 2 reports."""
    rows = []
    for key, g in runs.groupby(by, sort=False):
        scores = g[g.status == "ok"].best.to_numpy(dtype=float) * 100
        rows.append({**dict(zip(by, key)), "trainable_params": int(g.trainable.iloc[0]), "n_seeds": len(scores),
                     "n_failed": len(g) - len(scores),
                     "median": float(np.median(scores)) if len(scores) else np.nan,
                     "std": float(scores.std(ddof=1)) if len(scores) > 1 else np.nan,
                     "baseline": float(g.baseline.iloc[0]) * 100})
    return pd.DataFrame(rows)


def _ours(r) -> str:
    if not r["n_seeds"]:
        return f"failed ×{r['n_failed']}"
    return f"{r['median']:.1f}" + (f" ±{r['std']:.1f}" if pd.notna(r["std"]) else "")


def _save(fig, out) -> None:
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=130, bbox_inches="tight")
    plt.close(fig)


def _write_md(md, title: str, body: list[str]) -> None:
    Path(md).write_text(f"# {title}\n\n" + "\n".join(body) + "\n")


# ---------------------------------------------------------------- Tables 5 and 6: which matrices, which rank


def table5_weight_types(paths, csv, md, png, settings=None) -> pd.DataFrame:
    """Table 5: LoRA on different sets of attention matrices under one parameter budget."""
    runs = load_runs(paths)
    runs["targets"] = runs.hparams.map(_targets)
    t = _seed_summary(runs, ["targets", "rank"])
    paper = paper_table("table5_weight_types")
    for task in PAPER_TASKS:  # the paper's row for the same set of matrices (at its own budget, 18M on GPT-3)
        t[f"paper_{task}"] = t.targets.map(paper[paper.task == task].set_index("targets").value)
    t["paper_rank"] = t.targets.map(paper.drop_duplicates("targets").set_index("targets")["rank"])
    t.to_csv(csv, index=False)

    rows = [{"weight type": _weight_types(r["targets"]), "r": r["rank"], "params": f"{r['trainable_params']:,}",
             "ours": _ours(r), **{f"paper {name}": f"{r[f'paper_{task}']:.1f} (r={r['paper_rank']:.0f})"
                                  if pd.notna(r[f"paper_{task}"]) else "—" for task, name in PAPER_TASKS.items()}}
            for r in t.to_dict("records")]
    _write_md(md, "Table 5 — which weight matrices to adapt, under one parameter budget", [
        pd.DataFrame(rows).to_markdown(index=False), "",
        f"Ours: {_setting(runs)}; median over seeds of the best epoch, ±std over seeds. Trivial baseline "
        f"{t.baseline.iloc[0]:.1f}. Params: trainable, excluding the task head.",
        f"Paper: {PAPER_SETTING} on WikiSQL and MNLI-matched, budget 18M parameters — a different model and "
        "task; shown for the ordering of weight types, not for the numbers."])

    fig, axes = plt.subplots(1, 3, figsize=(12, 3.2), sharey=True)
    labels = [_weight_types(x) for x in t.targets]
    y = np.arange(len(t))
    for ax, col, title in zip(axes, ["median", "paper_wikisql", "paper_mnli"],
                              [f"ours: {runs.model.iloc[0]}, {runs.task.iloc[0]}",
                               f"paper: {PAPER_SETTING}, WikiSQL", f"paper: {PAPER_SETTING}, MNLI-m"]):
        ax.barh(y, t[col], xerr=t["std"].fillna(0) if col == "median" else None, color="tab:blue" if
                col == "median" else "tab:grey")
        lo, hi = np.nanmin(t[col]), np.nanmax(t[col])
        ax.set_xlim(lo - 2 * max(hi - lo, 0.5), hi + max(hi - lo, 0.5))
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("accuracy × 100")
    axes[0].set_yticks(y, [f"{lab} r={r}" for lab, r in zip(labels, t["rank"])])
    axes[0].invert_yaxis()
    fig.tight_layout()
    _save(fig, png)
    return t


def table6_rank(paths, csv, md, png, settings=None) -> pd.DataFrame:
    """Table 6: every rank on every set of matrices."""
    runs = load_runs(paths)
    runs["targets"] = runs.hparams.map(_targets)
    t = _seed_summary(runs, ["targets", "rank"])
    paper = paper_table("table6_rank")
    for task in PAPER_TASKS:
        p = paper[paper.task == task].set_index(["targets", "rank"]).value
        t[f"paper_{task}"] = [p.get((x, r), np.nan) for x, r in zip(t.targets, t["rank"])]
    t.to_csv(csv, index=False)

    ranks = sorted(set(t["rank"]))
    rows = []
    for targets, g in t.groupby("targets", sort=False):
        cells = {}
        for r in g.to_dict("records"):
            papers = [f"{r[f'paper_{task}']:.1f}" for task in PAPER_TASKS if pd.notna(r[f"paper_{task}"])]
            cells[f"r={r['rank']}"] = _ours(r) + (f" [{' / '.join(papers)}]" if papers else "")
        rows.append({"weight type": _weight_types(targets), **{f"r={k}": cells.get(f"r={k}", "") for k in ranks}})
    _write_md(md, "Table 6 — accuracy by LoRA rank r", [
        pd.DataFrame(rows).to_markdown(index=False), "",
        f"Cells: ours [paper WikiSQL / MNLI-m]. Ours: {_setting(runs)}; median over seeds of the best epoch. "
        f"Trivial baseline {t.baseline.iloc[0]:.1f}.",
        f"Paper: {PAPER_SETTING} on WikiSQL and MNLI-matched — a different model and task; what carries over is "
        "the shape (a small r already does about as well as a large one), not the numbers."])

    fig, axes = plt.subplots(1, 3, figsize=(12, 3.4))
    for ax, col, title in zip(axes, ["median", "paper_wikisql", "paper_mnli"],
                              [f"ours: {runs.model.iloc[0]}, {runs.task.iloc[0]}",
                               f"paper: {PAPER_SETTING}, WikiSQL", f"paper: {PAPER_SETTING}, MNLI-m"]):
        for targets, g in t.groupby("targets", sort=False):
            g = g.dropna(subset=[col])
            ax.plot(g["rank"], g[col], marker="o", label=_weight_types(targets))
        ax.set_xscale("log", base=2)
        ax.set_xticks(ranks, [str(r) for r in ranks])
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("rank r")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("accuracy × 100")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    _save(fig, png)
    return t


# ---------------------------------------------------------------- Figures 3 and 4: subspace similarity


def _record(path) -> dict:
    return json.loads(Path(path).read_text())["run"]


def subspace_similarity(paths, csv, md, png, settings=None) -> pd.DataFrame:
    """φ(A1, A2, i, j) per layer and matrix between two runs, for A (as the paper) and for ΔW, beside φ between
    two random Gaussian matrices of the same shapes. Figure 3 when the runs differ in rank, Figure 4 in seed."""
    path1, path2 = paths
    run1, run2 = _record(path1), _record(path2)
    updates1, updates2 = load_updates(path1), load_updates(path2)
    rows = []

    def add(source, layer, role, grid):
        i, j = np.indices(grid.shape) + 1
        rows.append(pd.DataFrame({"source": source, "layer": layer, "role": role, "i": i.ravel(), "j": j.ravel(),
                                  "phi": grid.ravel()}))

    for u1, u2 in zip(updates1, updates2):
        assert (u1.layer, u1.role) == (u2.layer, u2.role), "both runs adapt the same matrices"
        r1, r2 = u1.A.shape[0], u2.A.shape[0]
        add("A", u1.layer, u1.role, subspace.phi_grid(u1.A, u2.A))
        add("dW", u1.layer, u1.role, subspace.phi_grid(u1.delta, u2.delta, r1, r2))  # ΔW has rank ≤ r
    add("random", -1, "", subspace.random_phi_grid(tuple(updates1[0].A.shape), tuple(updates2[0].A.shape)))
    t = pd.concat(rows, ignore_index=True)
    t.to_csv(csv, index=False)

    by_seed = run1["rank"] == run2["rank"]
    what = (f"seed {run1['seed']} vs seed {run2['seed']}, both r={run1['rank']}" if by_seed
            else f"r={run1['rank']} vs r={run2['rank']}, seed {run1['seed']}")
    name = "Figure 4 — subspace similarity between two seeds" if by_seed else \
        "Figure 3 — subspace similarity between two ranks"
    r1, r2 = updates1[0].A.shape[0], updates2[0].A.shape[0]
    at = t.set_index(["source", "layer", "role", "i", "j"]).phi
    rand = t[t.source == "random"].set_index(["i", "j"]).phi
    rows = [{"layer": u.layer, "matrix": f"W_{u.role}",
             "φ(1,1) A": f"{at['A', u.layer, u.role, 1, 1]:.3f}",
             "φ(1,1) ΔW": f"{at['dW', u.layer, u.role, 1, 1]:.3f}",
             "φ(1,1) random": f"{rand[1, 1]:.3f}",
             f"φ({r1},{r2}) A": f"{at['A', u.layer, u.role, r1, r2]:.3f}",
             f"φ({r1},{r2}) ΔW": f"{at['dW', u.layer, u.role, r1, r2]:.3f}",
             f"φ({r1},{r2}) random": f"{rand[r1, r2]:.3f}"} for u in updates1]
    _write_md(md, name, [
        pd.DataFrame(rows).to_markdown(index=False), "",
        f"φ(A1, A2, i, j) = ‖U_iᵀU_j‖²_F / min(i, j) ∈ [0, 1] between the top-i and top-j right-singular directions "
        f"of two learned LoRA matrices, {what}; {run1['model']} on {run1['task']}. 'A' as the paper (LoRA's "
        "down-projection), 'ΔW' the same for the learned update (α/r)·BA. φ(1,1): the top direction; "
        f"φ({r1},{r2}): the whole subspaces. Random: two Gaussian matrices of the same shapes (≈ max(i, j) / k).",
        f"Paper ({PAPER_SETTING}, layer 48 of 96, W_q and W_v): the top direction overlaps strongly (φ > 0.5), "
        "most other directions barely more than the random baseline."])

    layers = sorted(set(u.layer for u in updates1))
    roles = list(dict.fromkeys(u.role for u in updates1))
    panels = [(role, source) for role in roles for source in ("A", "dW")] + [("", "random")]
    wide = r2 / r1
    fig, axes = plt.subplots(len(layers), len(panels), squeeze=False,
                             figsize=(len(panels) * min(3.2, 1.4 * wide + 0.6), len(layers) * 1.3 + 0.8))
    for row, layer in enumerate(layers):
        for col, (role, source) in enumerate(panels):
            g = t[(t.source == source) & (t.role == role) & (t.layer == (layer if source != "random" else -1))]
            grid = g.pivot(index="i", columns="j", values="phi").to_numpy()
            ax = axes[row][col]
            im = ax.imshow(grid, vmin=0, vmax=1, cmap="viridis", aspect="auto", interpolation="nearest",
                           extent=(0.5, grid.shape[1] + 0.5, grid.shape[0] + 0.5, 0.5))
            ax.tick_params(labelsize=6)
            ax.xaxis.set_major_locator(MaxNLocator(8, integer=True))
            ax.yaxis.set_major_locator(MaxNLocator(4, integer=True))
            if row == 0:
                ax.set_title("random Gaussian" if source == "random" else
                             f"W_{role}: {'A' if source == 'A' else 'ΔW'}", fontsize=8)
            if row == len(layers) - 1:
                ax.set_xlabel("j", fontsize=7)
            if col == 0:
                ax.set_ylabel(f"layer {layer}\ni", fontsize=7)
    fig.suptitle(f"φ(i, j), {what} — {run1['model']} on {run1['task']}", fontsize=9)
    fig.tight_layout()
    fig.colorbar(im, ax=axes, shrink=0.6, label="φ")
    _save(fig, png)
    return t


fig3_subspace = subspace_similarity
fig4_subspace_seeds = subspace_similarity


# ---------------------------------------------------------------- Table 7: amplification


QUANTITIES = {"proj_delta": "‖UᵀWVᵀ‖ U,V of ΔW", "proj_w": "U,V of W", "proj_random": "U,V random",
              "w_norm": "‖W‖_F", "delta_norm": "‖ΔW‖_F", "amplification": "amplification ‖ΔW‖/‖UᵀWVᵀ‖"}


def table7_amplification(paths, csv, md, png, settings=None) -> pd.DataFrame:
    """Table 7: how much of W lies in ΔW's top-r subspace, against W's own and a random one, per layer."""
    rows = []
    for path in paths:
        rank = _record(path)["rank"]
        for u in load_updates(path):
            rows.append({"rank": rank, "layer": u.layer, "role": u.role,
                         **subspace.amplification(u.W, u.delta, rank, seed=u.layer)})
    t = pd.DataFrame(rows)
    t.to_csv(csv, index=False)

    run = _record(paths[0])
    paper = paper_table("table7_amplification").set_index(["rank", "quantity"]).value
    body = []
    for rank, g in t.groupby("rank"):
        table = [{"layer": r["layer"], "matrix": f"W_{r['role']}", **{name: f"{r[q]:.4g}" for q, name in
                                                                       QUANTITIES.items()}}
                 for r in g.to_dict("records")]
        table.append({"layer": "paper: 48 of 96", "matrix": "W_q",
                      **{name: f"{paper[rank, q]:.4g}" if (rank, q) in paper.index else "—"
                         for q, name in QUANTITIES.items()}})
        body += [f"## r = {rank}", "", pd.DataFrame(table).to_markdown(index=False), ""]
    body += [f"Ours: {run['model']} on {run['task']}, LoRA on {len(set(t.role))} matrices, r = "
             f"{', '.join(map(str, sorted(set(t['rank']))))}, seed {run['seed']}. U, V: the top-r left and right "
             "singular vectors of ΔW, of the pretrained W, or a random r-dimensional subspace. Amplification = "
             "‖ΔW‖_F / ‖UᵀWVᵀ‖_F with U, V of ΔW: large when ΔW boosts directions W barely uses.",
             f"Paper row: {PAPER_SETTING}, W_q of layer 48 of 96 (the paper prints the r = 64 factor as ≈ 2)."]
    _write_md(md, "Table 7 — ‖UᵀWVᵀ‖_F and the amplification factor, per layer", body)

    fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
    for ((rank, role), g), color in zip(t.groupby(["rank", "role"], sort=False), plt.cm.tab10.colors):
        axes[0].plot(g.layer, g.amplification, marker="o", color=color, label=f"W_{role}, r={rank}")
        for q, ls in (("proj_delta", "-"), ("proj_w", "--"), ("proj_random", ":")):
            axes[1].plot(g.layer, g[q], ls=ls, marker=".", color=color)
    for rank in sorted(set(t["rank"])):
        if (rank, "amplification") in paper.index:
            axes[0].axhline(paper[rank, "amplification"], color="grey", lw=0.8, ls="--")
            axes[0].annotate(f"paper r={rank} ({PAPER_SETTING} L48 W_q)", (t.layer.min(), paper[rank, "amplification"]),
                             fontsize=7, color="grey", xytext=(0, 2), textcoords="offset points")
    axes[0].set_title("amplification factor ‖ΔW‖_F / ‖UᵀWVᵀ‖_F", fontsize=9)
    axes[1].set_title("‖UᵀWVᵀ‖_F: U,V of ΔW (—), of W (--), random (:); colours as left", fontsize=9)
    for ax in axes:
        ax.set_yscale("log")
        ax.set_xlabel("layer")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    _save(fig, png)
    return t


# ---------------------------------------------------------------- beyond the paper: low data, effective rank


def fig_low_data(paths, csv, md, png, settings=None) -> pd.DataFrame:
    """Dev metric against the number of training examples, per method."""
    settings = settings or {}
    runs = load_runs(paths)
    runs["label"] = [method_label(m, r) for m, r in zip(runs.base_method, runs["rank"])]
    t = _seed_summary(runs, ["label", "base_method", "rank", "train_examples", "epochs"])
    paper = paper_table("table2_glue")
    task = runs.task.iloc[0]
    for base in set(t.base_method):
        p = paper_row(paper, base, settings.get("reference", "roberta-base"))
        p = p[p.task == task]
        t.loc[t.base_method == base, "paper_full_data"] = p.value.iloc[0] if len(p) else np.nan
        t.loc[t.base_method == base, "paper_row"] = f"{p.paper_label.iloc[0]} {p.model.iloc[0]}" if len(p) else ""
    t.to_csv(csv, index=False)

    rows = []
    for label, g in t.groupby("label", sort=False):
        cells = {f"n={r['train_examples']:,}": _ours(r) for r in g.to_dict("records")}
        first = g.iloc[0]
        rows.append({"method": label, "params": f"{first.trainable_params:,}", **cells,
                     "paper, full data (Table 2)": f"{first.paper_full_data:.1f} ({first.paper_row})"
                     if pd.notna(first.paper_full_data) else "—"})
    baseline = t.groupby("train_examples").baseline.first()
    rows.append({"method": "trivial baseline", "params": "0", "paper, full data (Table 2)": "—",
                 **{f"n={n:,}": f"{b:.1f}" for n, b in baseline.items()}})
    by_size = t.groupby("train_examples").epochs.unique()
    epochs = ", ".join(f"{n:,}: {'/'.join(map(str, e))}" for n, e in by_size.items())
    _write_md(md, f"Low-data regime — {task} dev {runs.metric.iloc[0]} vs training examples", [
        pd.DataFrame(rows).to_markdown(index=False), "",
        f"Ours: {runs.model.iloc[0]}, training subsets of n examples (the first n of one fixed shuffle, so each "
        "subset contains the smaller ones); small subsets train more epochs so that every run gets a similar number "
        f"of optimiser steps (epochs by n: {epochs}); seeds {sorted(set(runs.seed))}, median of the best epoch. "
        "The trivial baseline predicts the majority class of the training subset.",
        "The paper has no low-data experiment (it names it as future work); the last column is its full-data "
        "Table 2 number for the method, for scale only."])

    fig, ax = plt.subplots(figsize=(5.8, 3.8))
    for (label, g), color in zip(t.groupby("label", sort=False), plt.cm.tab10.colors):
        ax.errorbar(g.train_examples, g["median"], yerr=g["std"].fillna(0), marker="o", capsize=3, color=color,
                    label=label)
    ax.plot(baseline.index, baseline, color="grey", ls="--", lw=1, label="trivial baseline")
    ax.set_xscale("log")
    ax.set_xlabel("training examples")
    ax.set_ylabel(f"{task} dev {runs.metric.iloc[0]} × 100")
    ax.set_title(f"{runs.model.iloc[0]} on {task}: low-data regime", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    _save(fig, png)
    return t


def fig_effective_rank(paths, csv, md, png, settings=None) -> pd.DataFrame:
    """The spectrum of each learned ΔW, and the number of directions that hold `energy` of it."""
    energy = (settings or {}).get("energy", 0.9)
    rows = []
    for path in paths:
        rank = _record(path)["rank"]
        for u in load_updates(path):
            profile = subspace.energy_profile(u.delta)[:rank]  # beyond rank r the singular values are 0
            sigma = np.linalg.svd(u.delta.double().numpy(), compute_uv=False)[:rank]
            rows.append(pd.DataFrame({"rank": rank, "layer": u.layer, "role": u.role, "index": np.arange(1, rank + 1),
                                      "sigma": sigma, "cumulative_energy": profile,
                                      "effective_rank": subspace.effective_rank(u.delta, energy)}))
    t = pd.concat(rows, ignore_index=True)
    t.to_csv(csv, index=False)

    eff = t.drop_duplicates(["rank", "layer", "role"]).pivot(index="layer", columns=["role", "rank"],
                                                              values="effective_rank")
    eff.columns = [f"W_{role}, r={rank}" for role, rank in eff.columns]
    run = _record(paths[0])
    _write_md(md, f"Effective rank of ΔW — directions holding {energy:.0%} of ‖ΔW‖²_F", [
        eff.reset_index().to_markdown(index=False), "",
        f"Ours: {run['model']} on {run['task']}, seed {run['seed']}: the fewest singular directions of the learned "
        f"ΔW = (α/r)·BA that hold {energy:.0%} of its squared Frobenius norm, per layer, out of r. A layer whose "
        "effective rank stays far below r at a large r could be given a smaller one (an adaptive-rank hint).",
        "The paper gives no such number; its Section 7.2 finds the top directions of ΔW carry most of what is "
        "shared across ranks and seeds, and names rank selection as future work."])

    ranks, roles = sorted(set(t["rank"])), list(dict.fromkeys(t.role))
    fig, axes = plt.subplots(len(ranks), len(roles), figsize=(4.4 * len(roles), 2.8 * len(ranks)), squeeze=False)
    for row, rank in enumerate(ranks):
        for col, role in enumerate(roles):
            ax = axes[row][col]
            for layer, g in t[(t["rank"] == rank) & (t.role == role)].groupby("layer"):
                ax.plot(g["index"], g.cumulative_energy, marker="." if rank <= 16 else None,
                        label=f"layer {layer} (eff. {g.effective_rank.iloc[0]})")
            ax.axhline(energy, color="grey", ls="--", lw=1)
            ax.set_title(f"ΔW_{role}, r={rank}", fontsize=9)
            ax.set_xlabel("singular direction")
            ax.set_ylabel("cumulative energy")
            if rank > 16:
                ax.set_xscale("log")
            ax.grid(alpha=0.3)
            ax.legend(fontsize=6, loc="lower right")
    fig.suptitle(f"{run['model']} on {run['task']}: spectrum of the learned ΔW per layer", fontsize=9)
    fig.tight_layout()
    _save(fig, png)
    return t


OUTPUTS = {"table5_weight_types": table5_weight_types, "table6_rank": table6_rank, "fig3_subspace": fig3_subspace,
           "fig4_subspace_seeds": fig4_subspace_seeds, "table7_amplification": table7_amplification,
           "fig_low_data": fig_low_data, "fig_effective_rank": fig_effective_rank}
