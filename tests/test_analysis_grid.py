"""The analysis section expands into runs: equal budgets for Table 5, shared runs trained once, bad values named."""

import copy
from pathlib import Path

import pytest
import yaml

from lora_bench import apply_method, count_parameters
from lora_bench import config as C
from lora_bench.models import build_random

REPO = Path(__file__).resolve().parent.parent


def _default():
    return yaml.safe_load((REPO / "config.yaml").read_text())


def _trainable(cfg, key):
    spec = C.run_spec(cfg, key)
    model = build_random(spec["model"], device="meta")
    apply_method(model, spec["base_method"], rank=spec["rank"], **spec["hparams"])
    return count_parameters(model)["trainable_excluding_head"]


@pytest.mark.parametrize("model", ["minilm-l6", "roberta-base", "gpt2-medium"])
def test_weight_types_have_equal_parameter_budgets(model):
    raw = _default()
    raw["analysis"]["model"] = model
    cfg = C.validate(raw)
    keys = cfg["analysis_runs"]["table5_weight_types"]
    targets = [C.run_spec(cfg, k)["hparams"]["targets"] for k in keys]
    assert targets == [["q"], ["k"], ["v"], ["o"], ["q", "k"], ["q", "v"], ["q", "k", "v", "o"]]
    assert [k.rank for k in keys] == [8, 8, 8, 8, 4, 4, 2]
    budgets = {_trainable(cfg, k) for k in keys}
    assert len(budgets) == 1, budgets


def test_shared_runs_are_trained_once():
    cfg = C.validate(_default())
    runs = cfg["analysis_runs"]
    # Table 5's {Wq, Wv} at r = 4 is Table 6's, and Table 7 reads it too
    qv4 = [k for k in runs["table5_weight_types"] if k.method == "s7_lora_qv"]
    assert qv4 and qv4[0] in runs["table6_rank"] and qv4[0] in runs["table7_amplification"]
    # the low-data LoRA run on the ablations' own subset is the ablation run
    assert {k for k in runs["fig_low_data"] if k.method == "s7_lora_qv"} == {C.RunKey("minilm-l6", "sst2",
                                                                                     "s7_lora_qv", 8, 0)}
    all_keys = [k for keys in runs.values() for k in keys]
    assert len(C.analysis_runs(cfg)) == len(set(all_keys)) < len(all_keys)
    assert not set(C.analysis_runs(cfg)) & set(C.runs(cfg)), "analysis runs never overwrite Table 2's"
    # fig 4: the larger rank at two seeds; fig 3: the two ranks at the first
    assert [(k.rank, k.seed) for k in runs["fig4_subspace_seeds"]] == [(64, 0), (64, 1)]
    assert [(k.rank, k.seed) for k in runs["fig3_subspace"]] == [(8, 0), (64, 0)]


def test_variants_inherit_the_lora_entry_and_save_weights():
    cfg = C.validate(_default())
    spec = C.run_spec(cfg, cfg["analysis_runs"]["table6_rank"][0])
    assert spec["base_method"] == "lora" and spec["hparams"]["alpha"] == 16
    assert spec["train"]["lr"] == 1e-3 and spec["train"]["epochs"] == 1 and spec["train"]["save_weights"]
    ft = C.run_spec(cfg, next(k for k in cfg["analysis_runs"]["fig_low_data"] if k.method == "lowdata_ft_n100"))
    assert ft["train"]["lr"] == 1e-4 and ft["train"]["train_size"] == 100 and not ft["train"]["save_weights"]
    # 100 examples are 7 steps an epoch: 9 epochs reach the 60 steps every low-data run gets at least
    assert ft["train"]["epochs"] == 9


@pytest.mark.parametrize("edit,needle", [
    (lambda a: a["weight_types"].update(rank=6, targets=[["q"], ["q", "k", "v", "o"]]), "rank 6"),
    (lambda a: a.update(lora="ft"), "analysis.lora: 'ft'"),
    (lambda a: a["low_data"]["methods"].update(lorax=2), "lorax"),
    (lambda a: a["low_data"]["methods"].update(ft=4), "analysis.low_data.methods.ft"),
    (lambda a: a["low_data"]["methods"].update(lora=0), "analysis.low_data.methods.lora"),
    (lambda a: a.update(model="gpt5"), "gpt5"),
    (lambda a: a.update(task="squad"), "squad"),
    (lambda a: a["subspace"].update(ranks=[8]), "analysis.subspace.ranks"),
    (lambda a: a["ranks"].update(targets=[["q", "x"]]), "analysis.ranks.targets"),
    (lambda a: a["effective_rank"].update(energy=1.5), "analysis.effective_rank.energy"),
])
def test_bad_analysis_values_are_named(edit, needle):
    raw = _default()
    edit(raw["analysis"])
    with pytest.raises(C.ConfigError, match=needle.replace(".", r"\.").replace("(", r"\(")):
        C.validate(raw)


def test_a_methods_entry_may_not_take_an_analysis_label():
    raw = _default()
    raw["methods"]["s7_lora_qv"] = copy.deepcopy(raw["methods"]["lora"]) | {"method": "lora"}
    with pytest.raises(C.ConfigError, match="s7_lora_qv"):
        C.validate(raw)
