"""One run on real GLUE rows and a tiny model: the record, determinism, divergence, missing data."""

import json

import pytest

from lora_bench import config as C
from lora_bench.data.glue import load_split
from lora_bench.train import run


def _spec(data_dir, method="lora", rank=2, task="sst2", **train):
    cfg = C.validate({
        "models": ["tiny-bert"], "seeds": [0], "data_dir": str(data_dir), "tasks": {task: {}},
        "methods": {method: {"ranks": [rank]} if rank else {}},
        "train": {"epochs": 2, "batch_size": 8, "max_length": 32, "train_size": 24, "eval_size": 16, **train},
    })
    return C.run_spec(cfg, C.runs(cfg)[0])


def test_record_has_what_tables_need(tmp_path, data_dir):
    out = tmp_path / "metrics.json"
    record = run(_spec(data_dir, task="stsb", save_weights=True), out)
    on_disk = json.loads(out.read_text())
    assert on_disk["status"] == "ok" and on_disk["headline_metric"] == "validation/pearson"
    assert [e["epoch"] for e in on_disk["epochs"]] == [1, 2]
    assert on_disk["best"]["headline"] == max(e["headline"] for e in on_disk["epochs"])
    assert on_disk["params"]["trainable_excluding_head"] == 2 * 2 * 2 * 32 * 2  # 2 layers × q,v × 2·d·r
    assert on_disk["train_examples"] == 24 and on_disk["eval_examples"] == {"validation": 16}
    assert on_disk["train_tokens_per_s"] > 0 and on_disk["peak_memory_mb"] > 0
    prov = on_disk["provenance"]
    assert prov["data"]["train"]["sha256"] and prov["versions"]["torch"] and on_disk["config_hash"]
    assert record["config_hash"] == on_disk["config_hash"]
    assert not list(tmp_path.glob(".*.tmp")), "atomic write leaves no temporary file"


def test_same_seed_same_numbers(tmp_path, data_dir):
    a = run(_spec(data_dir), tmp_path / "a.json")
    b = run(_spec(data_dir), tmp_path / "b.json")
    assert [e["train_loss"] for e in a["epochs"]] == [e["train_loss"] for e in b["epochs"]]
    assert a["best"]["metrics"] == b["best"]["metrics"]


def test_divergence_is_recorded_as_failed(tmp_path, data_dir):
    record = run(_spec(data_dir, method="ft", rank=0, lr=1e12, max_grad_norm=None), tmp_path / "m.json")
    assert record["status"] == "failed" and "non-finite loss" in record["reason"]


def test_missing_split_names_task_split_and_places(tmp_path):
    with pytest.raises(FileNotFoundError) as e:
        load_split("qnli", "train", tmp_path)
    msg = str(e.value)
    assert "'qnli'" in msg and "'train'" in msg and str(tmp_path) in msg and "nyu-mll/glue" in msg


def test_saved_weights_are_the_trainable_parameters(tmp_path, data_dir):
    from safetensors.torch import load_file

    run(_spec(data_dir, save_weights=True), tmp_path / "metrics.json")
    weights = load_file(tmp_path / "weights.safetensors")
    assert weights and all("lora_" in n or "classifier" in n or "pooler" in n for n in weights)
    assert sum(w.numel() for n, w in weights.items() if "lora_" in n) == 2 * 2 * 2 * 32 * 2
