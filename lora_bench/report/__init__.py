"""From run records to the paper's tables and figures, with the paper's numbers beside ours."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

PAPER_DIR = Path(__file__).resolve().parent.parent / "paper"


def load_runs(paths) -> pd.DataFrame:
    """One row per run record; failed runs stay in, with their reason, so tables can show them."""
    rows = []
    for path in paths:
        r = json.loads(Path(path).read_text())
        ok = r["status"] == "ok" and r["best"] is not None
        rows.append({
            **r["run"],
            "base_method": r["run"].get("base_method", r["run"]["method"]),
            "status": r["status"],
            "reason": r["reason"],
            "metric": r["headline_metric"].split("/")[-1],
            "best": r["best"]["headline"] if ok else None,
            "last": r["last"]["headline"] if ok else None,
            "baseline": r["baseline"][r["headline_metric"].split("/")[-1]],
            "hparams": r["spec"]["hparams"],
            "train_examples": r["train_examples"],
            "epochs": r["spec"]["train"]["epochs"],
            "trainable": r["params"]["trainable_excluding_head"],
            "head_params": r["params"]["head"],
            "total": r["params"]["total"],
            "wall_time_s": r["wall_time_s"],
            "train_tokens_per_s": r["train_tokens_per_s"],
            "peak_memory_mb": r["peak_memory_mb"],
            "path": str(path),
        })
    return pd.DataFrame(rows)


def paper_table(name: str) -> pd.DataFrame:
    return pd.read_csv(PAPER_DIR / f"{name}.csv")


def method_label(method: str, rank: int) -> str:
    return f"{method} r={rank}" if rank else method
