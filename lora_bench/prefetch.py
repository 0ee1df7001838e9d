"""Air-gapped runs: put every model and dataset a config needs into one folder, then train from it alone.

Compute nodes of a cluster often have no internet. `prefetch` runs where there is (a login node) and fills
`resources_dir` in the layouts `model_dir` and `data_dir` read: ``<resources>/models/<name>/`` and
``<resources>/data/glue/<task>/<split>.jsonl``. A model or split that is already local (the config's
`model_dir` or `data_dir`, a pip-packaged model) is copied byte for byte, so its sha256 stays what provenance
records; the rest comes from the hub (a snapshot of the model repository, the GLUE split as JSON lines).
Runs then read only from there with `model_dir=<resources>/models data_dir=<resources>/data` and the hub off.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from lora_bench.data.glue import get_task, load_split, local_file
from lora_bench.models import get_entry, resolve


def models_needed(cfg: dict) -> list[str]:
    """Models whose files a run of `cfg` reads: pretrained weights, and the tokenizers random-init models borrow."""
    names = set()
    for name in cfg["models"]:
        entry = get_entry(name)
        if not entry.random_init:
            names.add(name)
        if entry.tokenizer_from:
            names.add(entry.tokenizer_from)
    return sorted(names)


def splits_needed(cfg: dict) -> list[tuple[str, str]]:
    return [(task, split) for task in cfg["tasks"] for split in ("train", *get_task(task).eval_splits)]


def model_path(resources: str | Path, name: str) -> Path:
    return Path(resources) / "models" / name


def split_path(resources: str | Path, task: str, split: str) -> Path:
    return Path(resources) / "data" / "glue" / task / f"{split}.jsonl"


def _replace(tmp: Path, dest: Path) -> None:
    """Move a finished download into place: `dest` is either absent or complete, never half written."""
    if dest.is_dir():
        shutil.rmtree(dest)
    os.replace(tmp, dest)


def fetch_model(name: str, model_dir: str | Path | None, dest: str | Path) -> str:
    """Materialise model `name` at `dest`; returns where it came from."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    source = resolve(name, model_dir)  # a local folder (sha256 checked) or, online only, the hub id
    if Path(source).is_dir():
        shutil.copytree(source, tmp)
    else:
        from huggingface_hub import list_repo_files, snapshot_download

        # One framework's weights: safetensors where the repository has them, else the PyTorch pickle.
        weights = "*.safetensors" if any(f.endswith(".safetensors") for f in list_repo_files(source)) else "*.bin"
        snapshot_download(source, local_dir=tmp, allow_patterns=["*.json", "*.txt", "*.model", weights])
    _replace(tmp, dest)
    return source


def fetch_split(task: str, split: str, data_dir: str | Path | None, dest: str | Path) -> str:
    """Materialise one GLUE split at `dest` (JSON lines, the hub's columns); returns where it came from."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.tmp")
    local = local_file(task, split, data_dir)
    if local is not None:
        shutil.copyfile(local, tmp)
        source = str(local)
    else:
        ds, source = load_split(task, split, data_dir)  # the hub, or an error naming the places looked in
        ds.to_json(tmp, lines=True)
    _replace(tmp, dest)
    return source


def prefetch(cfg: dict, resources: str | Path) -> list[dict]:
    """Everything `cfg` needs into `resources`; what is there already is kept. One line per item."""
    done = []
    for name in models_needed(cfg):
        dest = model_path(resources, name)
        source = "present" if (dest / "config.json").exists() else fetch_model(name, cfg["model_dir"], dest)
        done.append({"model": name, "source": source, "path": str(dest)})
    for task, split in splits_needed(cfg):
        dest = split_path(resources, task, split)
        source = "present" if dest.exists() else fetch_split(task, split, cfg["data_dir"], dest)
        done.append({"task": task, "split": split, "source": source, "path": str(dest)})
    return done
