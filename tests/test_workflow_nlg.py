"""The NLG DAG end to end on the smoke profile (tiny GPT-2): train → decode → score → Table 3 and its figure;
rescoring reuses the saved predictions, and a bad predictions file is caught."""

import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from test_workflow import snakemake

REPO = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(shutil.which("java") is None, reason="the E2E metrics need Java")


def args(data_dir):
    return ["--configfile", str(REPO / "configs" / "smoke_nlg.yaml"), "--config", f"data_dir={data_dir}"]


@pytest.fixture(scope="module")
def smoke(tmp_path_factory, data_dir):
    work = tmp_path_factory.mktemp("smoke_nlg")
    r = snakemake(work, *args(data_dir))
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return work


def _runs(work):
    return sorted((work / "results/runs_nlg").rglob("metrics.json"))


def test_runs_train_decode_and_score(smoke):
    runs = _runs(smoke)
    assert len(runs) == 2
    for path in runs:
        record = json.loads(path.read_text())
        assert record["status"] == "ok" and record["train"]["steps"] == 4 and record["eval_mrs"] == 4
        assert set(record["scores"]) == {"BLEU", "NIST", "METEOR", "ROUGE_L", "CIDEr"}
        preds = (path.parent / "predictions.txt").read_text().splitlines()
        refs = (path.parent / "references.txt").read_text().strip().split("\n\n")
        assert len(preds) == len(refs) == 4
    lora = json.loads((smoke / "results/runs_nlg/tiny-gpt2/e2e/lora/r2/seed0/metrics.json").read_text())
    assert lora["params"]["trainable_excluding_head"] == 2 * 2 * (32 * 2 + 2 * 32)  # 2 layers × q, v × (A + B)


def test_table3_and_figure(smoke):
    table = pd.read_csv(smoke / "results/tables/table3_e2e.csv")
    assert set(table.method) == {"ft", "lora"} and set(table.metric) == {"BLEU", "NIST", "METEOR", "ROUGE_L", "CIDEr"}
    lora_bleu = table[(table.method == "lora") & (table.metric == "BLEU")].iloc[0]
    assert lora_bleu.paper == 70.4 and lora_bleu.paper_model == "gpt2-medium"
    md = (smoke / "results/tables/table3_e2e.md").read_text()
    assert "[70.4]" in md and "[68.2]" in md  # LoRA and FT beside GPT-2 M's numbers
    png = smoke / "results/figures/fig_e2e_params.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_rescoring_does_not_retrain_or_decode(smoke, data_dir):
    victim = _runs(smoke)[0]
    others = [victim.parent / f for f in ("train.json", "weights.safetensors", "predictions.txt")]
    before = {p: p.stat().st_mtime_ns for p in others}
    victim.unlink()
    r = snakemake(smoke, "table3_e2e", *args(data_dir))
    assert r.returncode == 0, r.stderr[-3000:]
    counts = dict(re.findall(r"^(\w+)\s+(\d+)$", r.stdout + r.stderr, flags=re.M))
    assert counts.get("score_nlg") == "1" and "train_nlg" not in counts and "decode_nlg" not in counts, counts
    assert {p: p.stat().st_mtime_ns for p in others} == before and victim.exists()
