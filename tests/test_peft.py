"""peft's methods through the bridge: registered on demand, trained by the same trainer, counted the same way."""

import pytest
import torch
from safetensors.torch import load_file

from lora_bench import apply_method, config as C, count_parameters
from lora_bench.architectures import is_head_param
from lora_bench.methods import get_method
from lora_bench.models import build_random
from lora_bench.train import run

peft = pytest.importorskip("peft")


def _cfg(data_dir, name, entry):
    return {"models": ["tiny-bert"], "seeds": [0], "data_dir": str(data_dir), "tasks": {"sst2": {}},
            "methods": {name: entry},
            "train": {"epochs": 1, "batch_size": 8, "max_length": 32, "train_size": 16, "eval_size": 16}}


def test_peft_lora_counts_as_our_lora():
    ours = count_parameters(apply_method(build_random("roberta-base", device="meta"), "lora", rank=8))
    theirs = count_parameters(apply_method(build_random("roberta-base", device="meta"), "peft:lora", rank=8))
    assert theirs["trainable_excluding_head"] == ours["trainable_excluding_head"] == 294_912  # the paper's count
    assert theirs["head"] == ours["head"] > 0  # the head trains with peft methods too


@pytest.mark.parametrize("name,entry", [
    ("peft:ia3", {}),
    ("dora", {"method": "peft:lora", "ranks": [2], "hparams": {"use_dora": True, "lora_alpha": 4}}),
    ("peft:vera", {"ranks": [2]}),
    ("peft:adalora", {"ranks": [2], "hparams": {"total_step": 2, "init_r": 4}}),
])
def test_a_peft_method_trains_a_step(tmp_path, data_dir, name, entry):
    cfg = _cfg(data_dir, name, entry)
    cfg["train"]["save_weights"] = True
    cfg = C.validate(cfg)
    spec = C.run_spec(cfg, C.runs(cfg)[0])
    torch.manual_seed(0)  # as the run does before building the model: the same initial adapter
    model = apply_method(build_random("tiny-bert"), spec["base_method"], rank=spec["rank"], **spec["hparams"])
    before = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad and not is_head_param(n)}
    record = run(spec, tmp_path / "metrics.json")
    assert record["status"] == "ok", record["reason"]
    assert 0 < record["params"]["trainable_excluding_head"] < record["params"]["total"] / 10
    after = load_file(tmp_path / "weights.safetensors")
    assert before and set(before) <= set(after)
    assert any(not torch.equal(before[n], after[n]) for n in before), "the method's parameters did not train"


def test_bad_peft_settings_fail_at_validation(data_dir):
    with pytest.raises(C.ConfigError, match="methods.peft:adalora.hparams: .*total_step"):
        C.validate(_cfg(data_dir, "peft:adalora", {"ranks": [2]}))
    with pytest.raises(C.ConfigError, match="lora_alhpa"):
        C.validate(_cfg(data_dir, "peft:lora", {"ranks": [2], "hparams": {"lora_alhpa": 4}}))
    with pytest.raises(C.ConfigError, match="peft has no method 'nope'"):
        C.validate(_cfg(data_dir, "peft:nope", {}))
    with pytest.raises(C.ConfigError, match="methods.peft:ia3: takes no rank"):
        C.validate(_cfg(data_dir, "peft:ia3", {"ranks": [2]}))


def test_without_peft_only_peft_methods_fail(data_dir, monkeypatch):
    import sys

    from lora_bench import methods

    monkeypatch.setitem(sys.modules, "peft", None)  # import peft → ImportError
    monkeypatch.setitem(sys.modules, "peft.mapping", None)
    monkeypatch.setitem(sys.modules, "peft.config", None)
    monkeypatch.delitem(methods.METHODS, "peft:loha", raising=False)
    with pytest.raises(C.ConfigError, match=r"'peft:loha' needs peft, an optional extra: pip install 'lora-bench\[peft\]'"):
        C.validate(_cfg(data_dir, "peft:loha", {"ranks": [2]}))
    C.validate(_cfg(data_dir, "lora", {"ranks": [2]}))
    with pytest.raises(KeyError, match="needs peft"):
        get_method("peft:loha")
