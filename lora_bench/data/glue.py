"""GLUE (hub ``nyu-mll/glue``): the eight tasks of Table 2, their columns, labels and the paper's metric.

Local layout (as ``../shared/data``): ``<data_dir>/glue/<task>/<split>.jsonl`` with the hub's columns.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import datasets

from lora_bench import hub
from lora_bench.data import data_dir as _data_dir

HUB_ID = "nyu-mll/glue"


@dataclass(frozen=True)
class GlueTask:
    name: str
    text_keys: tuple[str, str | None]
    num_labels: int  # 1 = regression (STS-B)
    eval_splits: tuple[str, ...]
    headline: tuple[str, str]  # (split, metric): the number Table 2 prints

    @property
    def is_regression(self) -> bool:
        return self.num_labels == 1


TASKS: dict[str, GlueTask] = {
    t.name: t
    for t in [
        GlueTask("mnli", ("premise", "hypothesis"), 3, ("validation_matched", "validation_mismatched"),
                 ("validation_matched", "accuracy")),
        GlueTask("sst2", ("sentence", None), 2, ("validation",), ("validation", "accuracy")),
        GlueTask("mrpc", ("sentence1", "sentence2"), 2, ("validation",), ("validation", "accuracy")),
        GlueTask("cola", ("sentence", None), 2, ("validation",), ("validation", "matthews_correlation")),
        GlueTask("qnli", ("question", "sentence"), 2, ("validation",), ("validation", "accuracy")),
        GlueTask("qqp", ("question1", "question2"), 2, ("validation",), ("validation", "accuracy")),
        GlueTask("rte", ("sentence1", "sentence2"), 2, ("validation",), ("validation", "accuracy")),
        GlueTask("stsb", ("sentence1", "sentence2"), 1, ("validation",), ("validation", "pearson")),
    ]
}


def get_task(name: str) -> GlueTask:
    if name not in TASKS:
        raise KeyError(f"unknown GLUE task {name!r}; known tasks: {', '.join(TASKS)}")
    return TASKS[name]


def local_file(task: str, split: str, data_dir: str | Path | None) -> Path | None:
    root = _data_dir(data_dir)
    path = root / "glue" / task / f"{split}.jsonl" if root else None
    return path if path is not None and path.exists() else None


def load_split(task: str, split: str, data_dir: str | Path | None = None) -> tuple[datasets.Dataset, str]:
    """(rows, source): the local JSONL if present, else the hub; a clear error naming what was tried."""
    get_task(task)
    path = local_file(task, split, data_dir)
    if path is not None:
        return datasets.load_dataset("json", data_files=str(path), split="train"), str(path)
    root = _data_dir(data_dir)
    looked = [str(root / "glue" / task / f"{split}.jsonl") if root else "no data directory configured"]
    if not hub.OFFLINE:
        try:
            return datasets.load_dataset(HUB_ID, task, split=split), f"hub:{HUB_ID}/{task}"
        except Exception as e:  # noqa: BLE001 - reported with the places looked in
            looked.append(f"hub {HUB_ID} ({type(e).__name__}: {e})")
    else:
        looked.append(f"hub {HUB_ID} (offline)")
    raise FileNotFoundError(f"GLUE task {task!r}, split {split!r} not found; looked in: {'; '.join(looked)}")


def sha256_of(source: str) -> str | None:
    path = Path(source)
    if not path.is_file():
        return None
    return hashlib.sha256(path.read_bytes()).hexdigest()
