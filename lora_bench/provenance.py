"""What a result needs to be traced back: package versions, git state, machine, and atomic writes."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import traceback
from importlib import metadata
from pathlib import Path

import torch

# The package source that decides a run's numbers. The DAG passes its hash to every training job as a param,
# so editing it reruns the runs; reports, the CLI and workflow plumbing are left out, so editing those reruns none.
TRAINING_CODE = ("train.py", "metrics.py", "models.py", "architectures.py", "methods", "data")
NLG_CODE = ("nlg.py", "models.py", "architectures.py", "methods", "data")

PACKAGES = ("lora-bench", "torch", "transformers", "datasets", "evaluate", "scikit-learn", "scipy", "snakemake")


def versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {"python": platform.python_version()}
    for p in PACKAGES:
        try:
            out[p] = metadata.version(p)
        except metadata.PackageNotFoundError:
            out[p] = None
    return out


def git_state() -> dict[str, str | bool | None]:
    here = Path(__file__).resolve().parent
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, check=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=here,
                               capture_output=True, text=True, check=True)
        return {"sha": sha.stdout.strip(), "dirty": bool(dirty.stdout.strip())}
    except (OSError, subprocess.CalledProcessError):
        return {"sha": None, "dirty": None}


def code_version(names: tuple[str, ...] = TRAINING_CODE, root: Path | None = None) -> str:
    """sha256 (16 hex digits) of the files and folders `names` (names and contents) in the package at `root`."""
    root = root or Path(__file__).resolve().parent
    h = hashlib.sha256()
    for name in names:
        path = root / name
        for f in sorted(path.rglob("*.py")) if path.is_dir() else [path]:
            h.update(f.relative_to(root).as_posix().encode() + b"\0" + f.read_bytes())
    return h.hexdigest()[:16]


def machine(device: torch.device | str = "cpu") -> dict:
    info = {"platform": platform.platform(), "cpu": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads()}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    if str(device).startswith("cuda"):
        info["gpu"] = torch.cuda.get_device_name(torch.device(device))
    return info


def write_json_atomic(path: str | Path, obj) -> None:
    """Write to a temporary file beside `path`, then rename: a reader never sees half a record."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(obj, f, indent=2, sort_keys=False, default=str)
            f.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def log_to(path: str | Path):
    """Send this process's stdout and stderr (Python and C level, warnings of every library) to `path`."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with open(path, "w") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        try:
            yield
        except BaseException:
            traceback.print_exc()  # into the log, where the rule's "check log file(s)" points
            raise
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])
