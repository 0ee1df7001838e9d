"""The Section 7 rules end to end on a tiny model: every CSV, table and figure appears; shared runs run once."""

import re
from pathlib import Path

import pandas as pd
import pytest
import yaml

from test_workflow import REPO, snakemake

OUTPUTS = ["table5_weight_types", "table6_rank", "fig3_subspace", "fig4_subspace_seeds", "table7_amplification",
           "fig_low_data", "fig_effective_rank"]
ANALYSIS = {
    "model": "tiny-bert", "task": "sst2", "seeds": [0], "lora": "lora", "train": {"epochs": 1},
    "weight_types": {"rank": 2, "targets": [["q"], ["q", "v"]]},
    "ranks": {"ranks": [1, 2], "targets": [["q", "v"]]},
    "subspace": {"targets": ["q", "v"], "ranks": [1, 2], "seeds": [0, 1]},
    "amplification": {"ranks": [1, 2]},
    "effective_rank": {"ranks": [2], "energy": 0.9},
    "low_data": {"train_sizes": [16, 32], "min_steps": 4, "methods": {"lora": 2}},
}


@pytest.fixture(scope="module")
def work(tmp_path_factory, data_dir):
    work = tmp_path_factory.mktemp("analysis")
    cfg = yaml.safe_load((REPO / "configs" / "smoke.yaml").read_text()) | {"analysis": ANALYSIS,
                                                                          "data_dir": str(data_dir)}
    cfg["methods"]["lora"]["hparams"]["targets"] = ["q", "v"]  # so the low-data run on 32 examples is an ablation run
    (work / "config.yaml").write_text(yaml.safe_dump(cfg))
    r = snakemake(work, *OUTPUTS, "--configfile", str(work / "config.yaml"))
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    counts = dict(re.findall(r"^(\w+)\s+(\d+)$", r.stdout + r.stderr, flags=re.M))
    # {Wq} r2, {Wq,Wv} r1 and r2, r2 at seed 1, LoRA on 16 examples (on 32 it is the {Wq,Wv} r2 run)
    assert counts.get("train_glue") == "5" and counts.get("section7") == "7", counts
    return work


def test_every_output_is_written(work):
    for name in OUTPUTS:
        assert pd.read_csv(work / f"results/tables/{name}.csv").shape[0] > 0, name
        assert (work / f"results/tables/{name}.md").read_text().startswith("# "), name
        png = work / f"results/figures/{name}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000, name


def test_tables_put_the_paper_beside_ours(work):
    t5 = pd.read_csv(work / "results/tables/table5_weight_types.csv")
    assert list(t5["rank"]) == [2, 1] and t5.trainable_params.nunique() == 1
    assert list(t5.paper_wikisql) == [70.4, 73.7] and list(t5.paper_mnli) == [91.0, 91.3]
    assert "[73.4 / 91.3]" in (work / "results/tables/table6_rank.md").read_text()  # {Wq, Wv} r=1
    assert "paper: 48 of 96" in (work / "results/tables/table7_amplification.md").read_text()


def test_subspace_and_amplification_numbers(work):
    phi = pd.read_csv(work / "results/tables/fig3_subspace.csv")
    assert set(phi.source) == {"A", "dW", "random"} and phi.phi.between(0, 1 + 1e-9).all()
    assert phi.i.max() == 1 and phi.j.max() == 2  # r=1 against r=2
    seeds = pd.read_csv(work / "results/tables/fig4_subspace_seeds.csv")
    assert seeds.i.max() == seeds.j.max() == 2
    amp = pd.read_csv(work / "results/tables/table7_amplification.csv")
    assert len(amp) == 2 * 2 * 2  # ranks × layers × (q, v)
    pd.testing.assert_series_equal(amp.amplification, amp.delta_norm / amp.proj_delta, check_names=False)
    assert (amp.proj_w >= amp.proj_delta - 1e-9).all()  # W's own top-r directions hold the most of W


def test_low_data_and_effective_rank(work):
    low = pd.read_csv(work / "results/tables/fig_low_data.csv")
    assert sorted(zip(low.base_method, low.train_examples)) == [("lora", 16), ("lora", 32)]
    assert dict(zip(low.train_examples, low.epochs)) == {16: 2, 32: 1}  # 16 examples: 2 steps an epoch, 4 needed
    eff = pd.read_csv(work / "results/tables/fig_effective_rank.csv")
    assert eff.effective_rank.between(1, 2).all() and (eff.cumulative_energy <= 1 + 1e-9).all()
    assert Path(work / "results/runs/tiny-bert/sst2/s7_lora_qv/r2/seed0/weights.safetensors").exists()
