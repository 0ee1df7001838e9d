"""The DAG end to end on the smoke profile: tables and figure appear, reruns do only what is missing."""

import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent


def snakemake(workdir, *args):
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir),
           "--cores", "2", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="module")
def smoke(tmp_path_factory, data_dir):
    work = tmp_path_factory.mktemp("smoke")
    r = snakemake(work, "--configfile", str(REPO / "configs" / "smoke.yaml"), "--config", f"data_dir={data_dir}")
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return work


def args(data_dir):
    return ["--configfile", str(REPO / "configs" / "smoke.yaml"), "--config", f"data_dir={data_dir}"]


def test_smoke_dag_writes_table_and_figure(smoke):
    table = pd.read_csv(smoke / "results/tables/table2_glue.csv")
    assert set(table.method) == {"ft", "bitfit", "lora", "adapter_h", "adapter_l"}
    assert (table.n_seeds == 1).all() and (table.task == "sst2").all()
    assert table.set_index("method").loc["lora", "paper"] == 95.1  # RoBERTa-base LoRA on SST-2
    md = (smoke / "results/tables/table2_glue.md").read_text()
    assert "[95.1]" in md and "trivial baseline" in md
    png = smoke / "results/figures/fig_glue_params.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000


def test_smoke_dag_writes_efficiency_tables_and_figure(smoke):
    t1 = pd.read_csv(smoke / "results/tables/table1_latency.csv")
    assert set(t1.kind) == {"base", "lora_merged", "lora_unmerged", "adapter_l", "adapter_h"}
    assert len(t1) == 2 * 5 and (t1.trials == 2).all()  # smoke grid: batch 1, 2 × seq 32; 2 rounds
    assert "Table 1" in (smoke / "results/tables/table1_latency.md").read_text()
    cost = pd.read_csv(smoke / "results/tables/train_cost.csv")
    assert list(cost.label) == ["ft", "bitfit", "lora", "adapter_h", "adapter_l", "lora_peft"]
    assert cost.step_s.gt(0).all() and cost.checkpoint_bytes.gt(0).all()
    png = smoke / "results/figures/fig5_latency.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (smoke / "results/benchmarks/efficiency/latency.tsv").exists()
    assert len(list((smoke / "results/benchmarks/efficiency/train_memory").glob("*.tsv"))) == 6


def test_finished_table_has_nothing_to_do(smoke, data_dir):
    r = snakemake(smoke, "-n", "table2_glue", *args(data_dir))
    assert r.returncode == 0 and "Nothing to be done" in r.stdout + r.stderr, r.stdout + r.stderr


def test_deleting_one_run_recomputes_only_that_run(smoke, data_dir):
    runs = sorted((smoke / "results/runs").rglob("metrics.json"))
    assert len(runs) == 5
    victim, others = runs[0], runs[1:]
    before = {p: p.stat().st_mtime_ns for p in others}
    victim.unlink()
    r = snakemake(smoke, "table2_glue", *args(data_dir))
    assert r.returncode == 0, r.stderr[-3000:]
    log = r.stdout + r.stderr
    counts = dict(re.findall(r"^(\w+)\s+(\d+)$", log, flags=re.M))
    assert counts.get("train_glue") == "1" and counts.get("aggregate_table2_glue") == "1", log[-2000:]
    assert victim.exists()
    assert {p: p.stat().st_mtime_ns for p in others} == before


def test_bad_config_fails_before_any_job(tmp_path, data_dir):
    cfg = yaml.safe_load((REPO / "configs" / "smoke.yaml").read_text())
    cfg["methods"]["lorax"] = {"ranks": [4]}
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(cfg))
    r = snakemake(tmp_path, "--configfile", str(bad), "--config", f"data_dir={data_dir}")
    assert r.returncode != 0
    assert "unknown method 'lorax'" in r.stdout + r.stderr
    assert not (tmp_path / "results").exists()
