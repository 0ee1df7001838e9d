"""Benchmark data: a local directory in hub layout first, the Hugging Face hub otherwise."""

from __future__ import annotations

import os
from pathlib import Path

DATA_DIR_ENV = "LORA_BENCH_DATA_DIR"


def data_dir(configured: str | Path | None = None) -> Path | None:
    """The local data directory: the LORA_BENCH_DATA_DIR environment variable wins over the config key."""
    value = os.environ.get(DATA_DIR_ENV) or configured
    return Path(value).expanduser() if value else None
