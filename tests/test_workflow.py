"""The DAG end to end on the smoke profile: tables and figure appear, reruns do only what is missing, a killed
DAG resumes without counting a partial run, a diverged run shows as failed; profiles dry-run; prefetch makes a
run work without the hub or the original data; the workflow lints and formats clean."""

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent


SMOKE = str(REPO / "configs" / "smoke.yaml")


def snakemake_cmd(workdir, *args):
    return [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir),
            "--cores", "2", *args]


def snakemake(workdir, *args, env=None):
    return subprocess.run(snakemake_cmd(workdir, *args), capture_output=True, text=True, timeout=900, env=env)


def job_counts(log: str) -> dict[str, int]:
    """Snakemake's 'Job stats' table: rule → number of jobs."""
    return {rule: int(n) for rule, n in re.findall(r"^(\w+)\s+(\d+)$", log, flags=re.M)}


@pytest.fixture(scope="module")
def smoke(tmp_path_factory, data_dir):
    work = tmp_path_factory.mktemp("smoke")
    # The README's plugin, added to the smoke profile by a second config file (Snakemake merges the two).
    (work / "plugin.yaml").write_text(yaml.safe_dump({
        "plugins": [str(REPO / "examples" / "plugins" / "lora_sqrt.py")],
        "methods": {"lora_sqrt": {"ranks": [2], "hparams": {"alpha": 4}}},
    }))
    r = snakemake(work, *args(data_dir, work))
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return work


def args(data_dir, work):
    return ["--configfile", str(REPO / "configs" / "smoke.yaml"), str(work / "plugin.yaml"),
            "--config", f"data_dir={data_dir}"]


def test_smoke_dag_writes_table_and_figure(smoke):
    table = pd.read_csv(smoke / "results/tables/table2_glue.csv")
    assert set(table.method) == {"ft", "bitfit", "lora", "adapter_h", "adapter_l", "lora_sqrt"}
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
    r = snakemake(smoke, "-n", "table2_glue", "compare", *args(data_dir, smoke))
    assert r.returncode == 0 and "Nothing to be done" in r.stdout + r.stderr, r.stdout + r.stderr


def test_deleting_one_run_recomputes_only_that_run(smoke, data_dir):
    runs = sorted((smoke / "results/runs").rglob("metrics.json"))
    assert len(runs) == 6
    victim, others = runs[0], runs[1:]
    before = {p: p.stat().st_mtime_ns for p in others}
    victim.unlink()
    r = snakemake(smoke, "table2_glue", *args(data_dir, smoke))
    assert r.returncode == 0, r.stderr[-3000:]
    log = r.stdout + r.stderr
    counts = dict(re.findall(r"^(\w+)\s+(\d+)$", log, flags=re.M))
    assert counts.get("train_glue") == "1" and counts.get("aggregate_table2_glue") == "1", log[-2000:]
    assert victim.exists()
    assert {p: p.stat().st_mtime_ns for p in others} == before


def test_compare_table_and_pareto_figure(smoke):
    table = pd.read_csv(smoke / "results/tables/compare.csv")
    assert set(table.method) == {"ft", "bitfit", "lora", "adapter_h", "adapter_l", "lora_sqrt"}
    row = table.set_index("method").loc["lora_sqrt"]
    assert row.vs == "lora r=2" and row.vs_verdict == "too few seeds" and bool(row.few_seeds)  # smoke has 1 seed
    assert table.pareto_params.any() and table.pareto_memory.any()
    assert "Against lora r=2" in (smoke / "results/tables/compare.md").read_text()
    png = smoke / "results/figures/fig_compare_pareto.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000


def test_report_is_one_offline_html_file_with_every_table_and_figure(smoke, data_dir):
    r = snakemake(smoke, "--report", "report.html", *args(data_dir, smoke))
    assert r.returncode == 0, r.stderr[-3000:]
    html = (smoke / "report.html").read_text()
    for name in ("table2_glue.csv", "compare.csv"):
        assert f"data:text/csv;charset=utf8;filename={name};base64" in html
    for name in ("fig_glue_params.png", "fig_compare_pareto.png"):
        assert f"data:image/png;charset=utf8;filename={name};base64" in html
    for caption in ("Table 2 (GLUE dev), ours beside the paper", "Pareto fronts of the comparison",
                    "Comparison against the baseline", "GLUE dev metric vs trainable parameters"):
        assert caption in html
    assert not re.search(r"<(script|link|img)[^>]+(src|href)=[\"']https?:", html), "the report loads nothing online"


def test_bad_config_fails_before_any_job(tmp_path, data_dir):
    cfg = yaml.safe_load((REPO / "configs" / "smoke.yaml").read_text())
    cfg["methods"]["lorax"] = {"ranks": [4]}
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(cfg))
    r = snakemake(tmp_path, "--configfile", str(bad), "--config", f"data_dir={data_dir}")
    assert r.returncode != 0
    assert "unknown method 'lorax'" in r.stdout + r.stderr
    assert not (tmp_path / "results").exists()


# Each workflow profile with one config profile (the smoke profile runs for real above): every pair dry-runs.
@pytest.mark.parametrize("profile,configfile", [
    ("default", "config.yaml"),
    ("slurm", "configs/paper-v2.yaml"),
    ("kubernetes", "configs/released-scripts.yaml"),
])
def test_profiles_dry_run(tmp_path, profile, configfile):
    from lora_bench import config as C

    cfg = C.load(REPO / configfile)
    r = snakemake(tmp_path, "-n", "--workflow-profile", str(REPO / "profiles" / profile),
                  "--configfile", str(REPO / configfile))
    log = r.stdout + r.stderr
    assert r.returncode == 0, log[-3000:]
    assert job_counts(log)["train_glue"] == len(set(C.runs(cfg)) | set(C.analysis_runs(cfg)))
    if profile == "slurm":  # one GPU per run, memory from the config on the first attempt
        train = [line for line in log.splitlines() if "resources:" in line and "gpu=1" in line]
        assert len(train) == len(C.runs(cfg))
        assert all(f"mem_mb={cfg['mem_mb_per_run']}," in line and "cpus_per_gpu=4" in line for line in train)


def test_workflow_lints_and_formats_clean():
    lint = subprocess.run([sys.executable, "-m", "snakemake", "--lint"], cwd=REPO, capture_output=True, text=True)
    assert "Congratulations, your workflow is in a good condition!" in lint.stdout + lint.stderr, lint.stdout
    fmt = subprocess.run([sys.executable, "-m", "snakefmt", "--check", "."], cwd=REPO, capture_output=True, text=True)
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr


def test_prefetch_then_run_without_hub_or_original_data(tmp_path, data_dir):
    from lora_bench import config as C
    from lora_bench.prefetch import prefetch

    res = tmp_path / "resources"
    r = snakemake(tmp_path, "prefetch", "--configfile", SMOKE, "--config", f"data_dir={data_dir}",
                  f"resources_dir={res}")
    assert r.returncode == 0, (r.stdout + r.stderr)[-3000:]
    assert (res / "models" / "minilm-l6" / "model.safetensors").exists()  # tiny-bert's tokenizer comes from it
    assert {p.name for p in (res / "data" / "glue" / "sst2").iterdir()} == {"train.jsonl", "validation.jsonl"}

    env = {k: v for k, v in os.environ.items() if k != "LORA_BENCH_DATA_DIR"}
    env |= {"LORA_BENCH_OFFLINE": "1", "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    target = "results/runs/tiny-bert/sst2/lora/r2/seed0/metrics.json"
    r = snakemake(tmp_path, target, "--configfile", SMOKE, "--config", f"data_dir={res}/data",
                  f"model_dir={res}/models", env=env)
    assert r.returncode == 0, (r.stdout + r.stderr)[-3000:]
    record = json.loads((tmp_path / target).read_text())
    prov = record["provenance"]
    assert record["status"] == "ok" and prov["hf_offline"]
    assert prov["tokenizer_source"].startswith(str(res))
    assert all(d["source"].startswith(str(res)) and d["sha256"] for d in prov["data"].values())

    # the command-line path: everything already there is kept
    cfg = C.validate(yaml.safe_load(Path(SMOKE).read_text()) | {"data_dir": str(data_dir)})
    assert {item["source"] for item in prefetch(cfg, res)} == {"present"}


def test_killed_dag_resumes_without_counting_a_partial_run(tmp_path, data_dir):
    """Kill the whole DAG (Snakemake and its jobs, SIGKILL: a lost node) after its first finished run, rerun:
    only the missing runs train, and the table counts each run once. One run diverges (NaN loss) on purpose:
    it is recorded as failed and shown as failed, and aggregation goes on."""
    cfg = yaml.safe_load(Path(SMOKE).read_text()) | {"data_dir": str(data_dir)}
    cfg["methods"]["ft_diverged"] = {"method": "ft", "train": {"lr": 1.0e12, "max_grad_norm": None}}
    (tmp_path / "cfg.yaml").write_text(yaml.safe_dump(cfg))
    work, first_log = tmp_path / "work", tmp_path / "first.log"
    cmd = snakemake_cmd(work, "--configfile", str(tmp_path / "cfg.yaml"))
    with open(first_log, "w") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 600
    while not re.search(r"^1 of \d+ steps", first_log.read_text(), flags=re.M):
        assert proc.poll() is None, "the DAG ended before it could be killed:\n" + first_log.read_text()[-3000:]
        assert time.monotonic() < deadline
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done = {p: p.stat().st_mtime_ns for p in (work / "results" / "runs").rglob("metrics.json")}
    assert 1 <= len(done) < 6, first_log.read_text()[-3000:]

    assert snakemake(work, "--unlock", "--configfile", str(tmp_path / "cfg.yaml")).returncode == 0  # a hard kill leaves the lock
    r = snakemake(work, "--configfile", str(tmp_path / "cfg.yaml"))
    log = r.stdout + r.stderr
    assert r.returncode == 0, log[-3000:]
    kept = [p for p, mtime in done.items() if p.stat().st_mtime_ns == mtime]
    print(f"finished before the kill: {len(done)}, kept: {len(kept)}, job counts of the rerun: {job_counts(log)}")
    assert kept and job_counts(log)["train_glue"] == 6 - len(kept)

    table = pd.read_csv(work / "results/tables/table2_glue.csv")
    assert len(table) == 6 and ((table.n_seeds + table.n_failed) == 1).all()
    diverged = table.set_index("method").loc["ft_diverged"]
    assert diverged.n_failed == 1 and diverged.n_seeds == 0 and "non-finite loss" in diverged.failed_reasons
    assert (table[table.method != "ft_diverged"].n_failed == 0).all()
    md = (work / "results/tables/table2_glue.md").read_text()
    assert re.search(r"\| ft_diverged .*\| failed ×1 ", md), md
    assert (work / "results/figures/fig_glue_params.png").exists()
