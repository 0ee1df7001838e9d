import os
from pathlib import Path

import pytest

os.environ.setdefault("LORA_BENCH_OFFLINE", "1")  # tests never touch the hub

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    if not (SHARED_DATA / "glue" / "sst2" / "train.jsonl").exists():
        pytest.skip(f"real GLUE data not found at {SHARED_DATA}")
    return SHARED_DATA
