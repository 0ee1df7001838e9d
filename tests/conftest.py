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


@pytest.fixture
def rejects():
    """rejects(cfg, path, value, needle): cfg with the value at `path` set to `value` fails validation naming `needle`."""
    from lora_bench import config as C

    def check(cfg: dict, path: tuple, value, needle: str) -> None:
        node = cfg
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
        with pytest.raises(C.ConfigError, match=needle):
            C.validate(cfg)

    return check
