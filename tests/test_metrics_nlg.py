"""The E2E metrics reproduce the official script (tuetschek/e2e-metrics) on multi-reference examples.

Golden numbers: obtained by running the official procedure on these files outside the repository — its
measure_scores.py logic (read_lines, create_mteval_file, run_coco_eval) with the scoring subroutines of its
mteval/mteval-v13a-sig.pl under Perl 5.36, and COCOEvalCap's METEOR/ROUGE_L/CIDEr scorers from pycocoevalcap 1.2
on OpenJDK 17 — and printing full precision. That code is not part of this repository.
"""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lora_bench import metrics_nlg as M

DATA = Path(__file__).parent / "data"
PREDS, REFS = DATA / "e2e_golden_preds.txt", DATA / "e2e_golden_refs.txt"

# 4 MRs with 3, 1, 2 and 4 references ('£', 'é', digits, mixed case): the official script's output.
GOLDEN = {"BLEU": 0.613649589077, "NIST": 6.046676446966, "METEOR": 0.4986838470271186,
          "ROUGE_L": 0.7692519359856711, "CIDEr": 4.231476892440914}

# Edge cases for mteval: an empty output, outputs too short for 3- and 4-grams (mteval skips those orders),
# the token "0" as an n-gram prefix (Perl reads the string "0" as false), non-ASCII capitals (not lower-cased),
# SGML entities. Official: BLEU 0.115348456783, NIST 0.135600422389.
EDGE_REFS = [["0 stars for THE EAGLE CAFÉ &amp; bar.", "Rated 0 out of 5, the Eagle café is near 20,000 people."],
             ["Pub.", "A pub by the river (price: £20-25)."],
             ["It's high-priced -- 3.5 out of 5."]]
EDGE_PREDS = ["The Eagle CAFÉ has 0 stars &amp; a bar.", "Pub", ""]

java = pytest.mark.skipif(shutil.which("java") is None, reason="METEOR and the PTB tokeniser need Java")


def test_reference_file_format():
    refs = M.read_references(REFS)
    assert [len(r) for r in refs] == [3, 1, 2, 4]
    assert refs[1] == ["Café Rouge is a family-friendly restaurant with a customer rating of 5 out of 5."]
    assert len(M.read_predictions(PREDS)) == 4


def test_bleu_nist_match_mteval():
    got = M.bleu_nist(M.read_predictions(PREDS), M.read_references(REFS))
    assert got["BLEU"] == pytest.approx(GOLDEN["BLEU"], abs=1e-9)
    assert got["NIST"] == pytest.approx(GOLDEN["NIST"], abs=1e-9)


def test_bleu_nist_edge_cases_match_mteval():
    got = M.bleu_nist(EDGE_PREDS, EDGE_REFS)
    assert got["BLEU"] == pytest.approx(0.115348456783, abs=1e-9)
    assert got["NIST"] == pytest.approx(0.135600422389, abs=1e-9)


def test_mteval_tokenisation():
    assert M.mteval_tokenize("The Eagle's price: £20-25, rated 3.5.") == "the eagle's price : £20 - 25 , rated 3.5 ."
    assert M.mteval_tokenize("CAFÉ &amp; Bar") == "cafÉ & bar"  # ASCII-only lower-casing, as Perl's tr


def test_line_count_mismatch_names_both_counts(tmp_path):
    preds = tmp_path / "p.txt"
    preds.write_text("one\ntwo\nthree\n")
    with pytest.raises(ValueError, match=r"3 predictions but 4 MRs"):
        M.score_files(preds, REFS)


def test_cli_score_e2e_rejects_wrong_line_count(tmp_path):
    preds = tmp_path / "p.txt"
    preds.write_text("\n".join(["x"] * 5) + "\n")
    r = subprocess.run([sys.executable, "-m", "lora_bench.cli", "score-e2e", "--predictions", str(preds),
                        "--references", str(REFS)], capture_output=True, text=True)
    assert r.returncode == 2 and "5 predictions but 4 MRs" in r.stderr, r.stderr


@java
def test_cli_score_e2e_matches_the_official_script():
    r = subprocess.run([sys.executable, "-m", "lora_bench.cli", "score-e2e", "--predictions", str(PREDS),
                        "--references", str(REFS)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout)
    assert list(got) == list(M.E2E_METRICS)
    for metric, value in GOLDEN.items():
        assert got[metric] == pytest.approx(value, abs=1e-6), metric


@java
def test_webnlg_metrics_on_identical_text():
    refs = [["The Aarhus airport serves Aarhus.", "Aarhus is served by its airport."], ["Abilene is in Texas."]]
    got = M.webnlg_scores(["The Aarhus airport serves Aarhus.", "Abilene is in Texas."], refs)
    assert got["BLEU"] == pytest.approx(100.0) and got["TER"] == pytest.approx(0.0)
    assert got["METEOR"] > 0.9
