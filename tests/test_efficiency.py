"""Efficiency benchmarks on a tiny grid: they run, and their records and tables have the right shape.

Speed and memory targets are not tested here; the benchmarks measure them (rules table1_latency, table_train_cost).
"""

import copy
import importlib.util
from pathlib import Path

import pytest
import torch
import yaml

from lora_bench import config as C
from lora_bench.efficiency import latency, rank_of, sharing_copy, time_interleaved, train_cost
from lora_bench.models import build_random
from lora_bench.report import figures, table1
from lora_bench.report import train_cost as train_cost_report

REPO = Path(__file__).resolve().parent.parent
HAS_PEFT = importlib.util.find_spec("peft") is not None


def _smoke():
    cfg = yaml.safe_load((REPO / "configs" / "smoke.yaml").read_text())
    if not HAS_PEFT:
        cfg["efficiency"]["train_cost"]["compare_peft"] = None
    return cfg


@pytest.mark.parametrize("path,value,needle", [
    (("model",), "gpt5", "gpt5"),
    (("latency", "grid"), "huge", "huge"),
    (("latency", "grids", "tiny", "seq"), [4096], "4096"),
    (("latency", "grids", "tiny", "adapters"), [{"rank": 2, "params": 10}], "adapters.0"),
    (("latency", "lora"), {"method": "adapter_h", "rank": 2}, "must be lora"),
    (("train_cost", "methods", "adapter_h"), {}, "exactly one of 'rank' or 'params'"),
    (("train_cost", "methods", "ft"), {"rank": 4}, "takes no rank"),
    (("train_cost", "methods", "lora"), {"rank": 2, "hparams": {"alhpa": 1}}, "alhpa"),
    (("train_cost", "compare_peft"), "bitfit", "not a lora entry"),
    (("train_cost", "seq_len"), 100000, "100000"),
])
def test_bad_efficiency_values_are_named(path, value, needle, rejects):
    rejects(_smoke(), ("efficiency", *path), value, needle)


def test_default_efficiency_config_resolves():
    cfg = C.load(REPO / "config.yaml")
    spec = C.latency_spec(cfg)
    assert spec["model"] == "gpt2-medium" and spec["batch"] and spec["seq"]
    assert set(C.train_cost_methods(cfg)) >= {"ft", "bitfit", "lora", "adapter_h", "adapter_l"}


def test_rank_from_parameter_budget_matches_the_paper_counts():
    assert rank_of("gpt2-medium", {"method": "lora", "params": 393_216}) == 4  # the paper's 0.35M
    # AdapterH: 48 adapters of 2dr + r + d plus the blocks' LayerNorms; AdapterL: 24 adapters with their own norm.
    assert rank_of("gpt2-medium", {"method": "adapter_h", "params": 11e6}) == 110
    assert rank_of("gpt2-medium", {"method": "adapter_l", "params": 11e6}) == 222
    assert rank_of("gpt2-medium", {"method": "adapter_l", "rank": 7}) == 7
    assert rank_of("gpt2-medium", {"method": "ft"}) == 0


def test_sharing_copy_shares_all_but_own():
    model = build_random("tiny-gpt2")
    own = model.transformer.h[0].attn.c_attn.weight
    twin = sharing_copy(model, own=[own])
    assert twin.transformer.wpe.weight is model.transformer.wpe.weight
    assert twin.transformer.h[0].attn.c_attn.weight is not own
    assert twin.transformer.h[0].attn.c_attn.weight.data_ptr() != own.data_ptr()


def test_interleaved_rounds_rotate_the_order():
    calls = []
    fns = {name: (lambda name=name: calls.append(name)) for name in "abc"}
    seconds = time_interleaved(fns, trials=3, warmup=1, device=build_random("tiny-gpt2").device)
    assert calls == list("abc") + list("abc") + list("bca") + list("cab")
    assert {k: len(v) for k, v in seconds.items()} == {"a": 3, "b": 3, "c": 3}


def test_latency_tiny_grid_table_and_figure(tmp_path):
    cfg = C.validate(_smoke())
    spec = C.latency_spec(cfg) | {"batch": [1, 2], "seq": [16]}
    record = latency.measure(spec, tmp_path / "latency.json", threads=1)
    labels = [v["variant"] for v in record["variants"]]
    assert labels[:3] == ["base", "lora_merged", "lora_unmerged"] and len(labels) == 5
    assert [(c["batch"], c["seq"]) for c in record["cells"]] == [(1, 16), (2, 16)]
    assert all(len(s) == spec["trials"] for c in record["cells"] for s in c["seconds"].values())
    assert record["merge_check"]["merged_vs_unmerged_max_abs"] < 1e-5 < record["merge_check"]["lora_vs_base_max_abs"]
    assert {"cpu", "cpu_count", "torch_threads"} <= set(record["machine"]) and record["versions"]["torch"]

    table = table1.write(tmp_path / "latency.json", tmp_path / "t1.csv", tmp_path / "t1.md")
    assert len(table) == 2 * 5
    assert (table[table.variant == "base"].pct_over_base == 0).all()
    assert table.paper_ms.isna().all()  # no paper cell at seq 16
    md = (tmp_path / "t1.md").read_text()
    assert "| 1 / 16 / 0.005M params (L r=37, H r=18)" in md and "Check: merged and unmerged" in md

    figures.latency_slowdown(tmp_path / "t1.csv", tmp_path / "fig5.png")
    assert (tmp_path / "fig5.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_latency_table_puts_the_paper_beside_its_cells(tmp_path):
    cfg = C.validate(_smoke())
    spec = C.latency_spec(cfg) | {"batch": [1], "seq": [128], "adapters": [{"params": 11e6}], "trials": 1}
    spec["model"] = "tiny-gpt2"
    record = latency.measure(spec, tmp_path / "latency.json", threads=1)
    assert record["variants"][3]["budget"] == 11e6
    table = table1.aggregate(tmp_path / "latency.json").set_index("kind")
    assert table.paper_ms["base"] == 19.8 and table.paper_ms["lora_merged"] == 19.8
    assert table.paper_pct["adapter_h"] == 30.3 and table.paper_pct["adapter_l"] == 20.7


def test_cpu_peak_sees_a_freed_tensor_and_resets():
    cpu = torch.device("cpu")
    train_cost.reset_peak(cpu)
    before, _ = train_cost.peak_mib(cpu)
    x = torch.ones(50 * 2**20)  # 200 MiB, written, then freed
    del x
    peak, kind = train_cost.peak_mib(cpu)
    assert peak - before > 190 and train_cost.current_mib(cpu) < peak - 150
    train_cost.reset_peak(cpu)
    assert train_cost.peak_mib(cpu)[0] < peak - 150


def test_train_cost_tiny_table(tmp_path):
    cfg = C.validate(_smoke())
    spec = C.train_cost_spec(cfg)
    memory = []
    for label in spec["methods"]:
        r = train_cost.memory(C.train_cost_spec(cfg, [label]), label, tmp_path / f"{label}.json", threads=1)
        memory.append(tmp_path / f"{label}.json")
        assert r["peak_kind"] == "process_peak_rss_minus_runtime" and r["runtime_warmed_on"] == "tiny-gpt2"
        assert r["checkpoint_bytes"] > 0
        trainable = r["params"]["trainable"]
        assert r["grads_mib"] == pytest.approx(trainable * 4 / 2**20)
        # AdamW keeps two moments per trainable number (and a step count per tensor).
        assert 2 * r["grads_mib"] <= r["optimizer_mib"] < 2 * r["grads_mib"] + 0.01
    step = train_cost.step_times(spec, tmp_path / "step.json", threads=1)
    assert {k: len(v) for k, v in step["seconds"].items()} == {k: spec["trials"] for k in spec["methods"]}

    table = train_cost_report.write(memory, tmp_path / "step.json", tmp_path / "tc.csv", tmp_path / "tc.md",
                                    tmp_path / "claims.csv")
    assert list(table.label) == list(spec["methods"])
    ft = table.set_index("label").loc["ft"]
    assert ft.step_vs_ft == 1 and ft.peak_vs_ft == 1 and ft.checkpoint_vs_ft == 1
    lora = table.set_index("label").loc["lora"]
    assert lora.trainable_params == 2 * 2 * 2 * 32 * 2  # 2 layers × (q, v) × (A + B) × d × r
    assert lora.checkpoint_vs_ft < 0.01
    claims = (tmp_path / "tc.md").read_text()
    assert "step time, lora / ft" in claims and "0.8" in claims
    if HAS_PEFT:
        assert "lora_peft" in set(table.label) and "ours lora / lora_peft" in claims
        assert table.set_index("label").trainable_params["lora_peft"] == lora.trainable_params


def test_peft_comparison_needs_peft_or_says_so(monkeypatch):
    cfg = copy.deepcopy(_smoke())
    cfg["efficiency"]["train_cost"]["compare_peft"] = "lora"
    monkeypatch.setattr(C.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(C.ConfigError, match=r"lora-bench\[peft\]"):
        C.validate(cfg)
