"""Statistics over seeds on constructed numbers: summaries, the paired comparison, and their place in Table 2."""

import json

import numpy as np
import pytest

from lora_bench.report import compare, stats, table2


def test_summary_of_three_seeds():
    s = stats.summarize([90.0, 92.0, 94.0])
    assert (s["n"], s["median"], s["mean"], s["std"]) == (3, 92.0, 92.0, 2.0)
    assert s["ci_low"] == 90.0 and s["ci_high"] == 94.0  # percentile bootstrap: 1/27 of resamples are all-90
    assert not s["few_seeds"]
    one = stats.summarize([91.0])
    assert one["few_seeds"] and one["median"] == 91.0 and np.isnan(one["std"]) and np.isnan(one["ci_low"])


def test_a_consistent_gain_is_backed():
    base = {0: 80.0, 1: 82.0, 2: 81.0, 3: 79.0, 4: 83.0}
    ours = {s: v + d for (s, v), d in zip(base.items(), [1.0, 1.2, 0.8, 1.1, 0.9])}
    p = stats.paired(ours, base)
    assert p["verdict"] == "better" and p["diff_mean"] == pytest.approx(1.0)
    assert p["p_t"] < 0.001 and 0 < p["diff_ci_low"] < 1.0 < p["diff_ci_high"]
    assert p["p_signflip"] == pytest.approx(2 / 32)  # all 5 signs agree: the exact test's floor, two-sided
    assert stats.paired(base, ours)["verdict"] == "worse"


def test_a_gain_smaller_than_the_seed_noise_is_refused():
    base = {0: 80.0, 1: 82.0, 2: 81.0}
    ours = {0: 82.0, 1: 81.0, 2: 82.5}  # differences +2, −1, +1.5: mean +0.83, spread ~1.6
    p = stats.paired(ours, base)
    assert p["verdict"] == "no significant difference" and p["p_t"] > 0.05
    assert p["diff_ci_low"] < 0 < p["diff_ci_high"]
    assert p["p_signflip"] == pytest.approx(0.5)  # exact: 4 of the 8 sign patterns are as extreme


def test_pairs_follow_seeds_and_too_few_are_not_tested():
    p = stats.paired({0: 90.0, 1: 91.0, 7: 99.0}, {0: 89.0, 1: 90.0, 2: 50.0})
    assert p["n_pairs"] == 2 and p["verdict"] == "too few seeds" and np.isnan(p["p_t"])
    assert p["diff_mean"] == 1.0


def test_identical_runs_are_no_difference():
    p = stats.paired({0: 1.0, 1: 2.0, 2: 3.0}, {0: 1.0, 1: 2.0, 2: 3.0})
    assert p["verdict"] == "no significant difference" and p["p_t"] == 1.0


def _record(tmp_path, method, rank, seed, score, task="sst2"):
    path = tmp_path / f"{task}-{method}-{rank}-{seed}.json"
    path.write_text(json.dumps({
        "run": {"model": "tiny-bert", "task": task, "method": method, "base_method": method, "rank": rank,
                "seed": seed},
        "status": "ok", "reason": None, "headline_metric": "validation/accuracy",
        "best": {"headline": score}, "last": {"headline": score}, "baseline": {"accuracy": 0.5},
        "params": {"trainable_excluding_head": 100 * (rank or 50), "head": 10, "total": 10_000},
        "wall_time_s": 1.0, "train_tokens_per_s": 10.0, "peak_memory_mb": 1000.0 + 10 * rank,
        "train_examples": 100, "spec": {"hparams": {}, "train": {"epochs": 1}},
    }))
    return path


def test_table2_carries_the_paired_comparison(tmp_path):
    lora = [0.90, 0.91, 0.92]
    paths = [_record(tmp_path, "lora", 8, s, v) for s, v in enumerate(lora)]
    paths += [_record(tmp_path, "bitfit", 0, s, v - 0.02 + 0.001 * s) for s, v in enumerate(lora)]
    paths += [_record(tmp_path, "ft", 0, s, v) for s, v in enumerate([0.95, 0.85, 0.93])]
    paths += [_record(tmp_path, "adapter_h", 16, 0, 0.9)]
    t = table2.aggregate(paths, baseline=("lora", 8)).set_index("method")
    assert t.loc["bitfit", "vs_verdict"] == "worse" and t.loc["bitfit", "vs_diff_mean"] == pytest.approx(-1.9)
    assert t.loc["ft", "vs_verdict"] == "no significant difference"
    assert t.loc["lora", "vs_verdict"] == "baseline" and t.loc["lora", "paper"] == 95.1  # the paper column stays
    assert t.loc["adapter_h", "few_seeds"] and t.loc["adapter_h", "vs_verdict"] == "too few seeds"
    paths += [_record(tmp_path, "lora_sqrt", 8, s, v) for s, v in enumerate(lora)]  # a method the paper lacks
    md = table2.to_markdown(table2.aggregate(paths, baseline=("lora", 8)))
    assert "▼" in md and "°" in md and "[95.1]" in md and "Statistics over seeds" in md and "nan" not in md


def test_compare_marks_the_pareto_front(tmp_path):
    assert list(compare.pareto_front([1, 2, 3, 4], [50, 70, 60, np.nan])) == [True, True, False, False]
    assert list(compare.pareto_front([1, 1], [5, 5])) == [True, True]  # ties dominate neither
    paths = [_record(tmp_path, m, r, s, v) for m, r, v in [("lora", 8, 0.9), ("lora", 2, 0.8), ("ft", 0, 0.85)]
             for s in range(3)]
    t = compare.aggregate(paths, "roberta-base", ("lora", 8)).set_index(["method", "rank"])
    # params: lora r2 200 < lora r8 800 < ft 5000; memory: 1020 < 1080 and ft 1000
    assert t.pareto_params.to_dict() == {("lora", 8): True, ("lora", 2): True, ("ft", 0): False}
    assert t.pareto_memory.to_dict() == {("lora", 8): True, ("lora", 2): False, ("ft", 0): True}
