"""One run on real GLUE rows and a tiny model: the record, determinism, divergence, missing data, gradient
accumulation, resuming from a checkpoint."""

import json
import shutil
from pathlib import Path

import pytest
import torch

from lora_bench import config as C
from lora_bench import train
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


def _without_dropout(monkeypatch):
    """Dropout draws differ between one batch of 16 and two of 8; without it the gradients must agree."""
    real = train.load_for_classification

    def load(*args, **kwargs):
        model, tok = real(*args, **kwargs)
        for m in model.modules():
            if isinstance(m, torch.nn.Dropout):
                m.p = 0.0
        return model, tok

    monkeypatch.setattr(train, "load_for_classification", load)


@pytest.mark.parametrize("devices,accumulation", [(1, 2), (2, 1)])
def test_accumulated_micro_batches_train_like_one_big_batch(tmp_path, data_dir, monkeypatch, devices, accumulation):
    from safetensors.torch import load_file

    _without_dropout(monkeypatch)
    # 40 examples: 3 steps of 16, 16 and 8 examples either way (the last step takes the remainder).
    common = dict(train_size=40, group_by_length=False, save_weights=True, epochs=1)
    big = run(_spec(data_dir, **common, batch_size=16), tmp_path / "big" / "metrics.json")
    small = run(_spec(data_dir, **common, batch_size=8, devices=devices, grad_accumulation=accumulation),
                tmp_path / "small" / "metrics.json")
    assert big["global_batch"] == small["global_batch"] == 16
    assert big["optimizer_steps"] == small["optimizer_steps"] == 3
    a, b = load_file(tmp_path / "big" / "weights.safetensors"), load_file(tmp_path / "small" / "weights.safetensors")
    for name in a:
        torch.testing.assert_close(b[name], a[name], rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("precision", ["fp32", "fp16"])
def test_interrupted_run_resumes_from_its_last_epoch(tmp_path, data_dir, monkeypatch, precision):
    if precision != "fp32":  # the GPU's autocast and loss-scaling path, run on the CPU (torch has both there)
        monkeypatch.setattr(train, "autocast_dtype", lambda p, device: train.AUTOCAST[p])
    spec = _spec(data_dir, epochs=3, checkpoint=True, precision=precision, grad_accumulation=2)
    reference = run(spec, tmp_path / "reference" / "metrics.json")
    assert not (tmp_path / "reference" / "checkpoint.pt").exists(), "a finished run keeps no checkpoint"

    real, calls = train.evaluate, []

    def dies_in_epoch_3(*args, **kwargs):  # as a job killed during epoch 3, after epoch 2's checkpoint
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(train, "evaluate", dies_in_epoch_3)
    out = tmp_path / "run" / "metrics.json"
    with pytest.raises(KeyboardInterrupt):
        run(spec, out)
    assert not out.exists() and (out.parent / "checkpoint.pt").exists()

    monkeypatch.setattr(train, "evaluate", real)
    resumed = run(spec, out)
    assert resumed["resumed_after_epoch"] == 2 and resumed["status"] == "ok"
    assert resumed["precision"] == precision and resumed["global_batch"] == 16
    assert [e["train_loss"] for e in resumed["epochs"]] == [e["train_loss"] for e in reference["epochs"]]
    assert [e["metrics"] for e in resumed["epochs"]] == [e["metrics"] for e in reference["epochs"]]
    assert resumed["optimizer_steps"] == reference["optimizer_steps"]
    assert not (out.parent / "checkpoint.pt").exists()


def test_device_and_precision_are_recorded(tmp_path, data_dir, monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")  # no GPU visible: the CPU, whatever the machine has
    record = run(_spec(data_dir, epochs=1, precision="bf16"), tmp_path / "m.json")
    assert record["device"] == "cpu" and record["cuda_visible_devices"] == ""
    assert record["precision"] == "fp32", "autocast is for GPUs; CPU runs stay fp32"
    assert train.autocast_dtype("fp16", torch.device("cuda", 0)) == torch.float16
    assert train.autocast_dtype("fp32", torch.device("cuda", 0)) is None
    assert train.autocast_dtype("bf16", torch.device("cpu")) is None


def test_code_version_follows_the_training_code_only(tmp_path):
    from lora_bench.provenance import code_version

    pkg = tmp_path / "lora_bench"
    shutil.copytree(Path(train.__file__).parent, pkg, ignore=shutil.ignore_patterns("__pycache__"))
    before = code_version(root=pkg)
    with open(pkg / "report" / "table2.py", "a") as f:
        f.write("# reports do not change a run's numbers\n")
    assert code_version(root=pkg) == before
    with open(pkg / "methods" / "lora.py", "a") as f:
        f.write("# any edit of a method\n")
    assert code_version(root=pkg) != before
