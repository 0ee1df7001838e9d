"""A trained LoRA in peft's layout loads with PeftModel.from_pretrained and gives our outputs, without unpickling."""

import json
import pickle

import pytest
import torch

from lora_bench import apply_method, config as C
from lora_bench.cli import main
from lora_bench.interop import rebuild, save_peft_lora
from lora_bench.methods.lora import lora_layers
from lora_bench.models import build_random
from lora_bench.train import run

peft = pytest.importorskip("peft")


def _inputs():
    ids = torch.randint(1, 1000, (2, 12), generator=torch.Generator().manual_seed(1))
    return {"input_ids": ids, "attention_mask": torch.ones_like(ids)}


def _no_unpickling(monkeypatch):
    def refuse(*a, **k):
        raise AssertionError("loading unpickled something")

    for mod, fn in [(torch, "load"), (pickle, "load"), (pickle, "loads")]:
        monkeypatch.setattr(mod, fn, refuse)


@pytest.mark.parametrize("name,targets", [
    ("tiny-bert", ["q", "v"]),
    ("tiny-gpt2", ["q", "v"]),  # fused c_attn: q and v slices written as one full-width LoRA, k rows zero
    ("tiny-gpt2", ["q", "v", "o"]),  # c_proj has rank r, c_attn 2r: a rank_pattern
])
def test_round_trip_through_peft(tmp_path, monkeypatch, name, targets):
    torch.manual_seed(0)
    ours = apply_method(build_random(name, num_labels=3), "lora", rank=2, alpha=5, targets=targets).eval()
    with torch.no_grad():  # a "trained" state: non-zero B and a changed head
        for layer in lora_layers(ours):
            for b in layer.lora_B:
                b.weight.normal_(0, 0.5)
        for n, p in ours.named_parameters():
            if p.requires_grad and ".lora_" not in n:
                p.add_(torch.randn_like(p))
    x = _inputs()
    expected = ours(**x).logits
    save_peft_lora(ours, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["adapter_config.json", "adapter_model.safetensors"]

    torch.manual_seed(0)
    base = build_random(name, num_labels=3).eval()
    assert not torch.allclose(base(**x).logits, expected)
    _no_unpickling(monkeypatch)
    loaded = peft.PeftModel.from_pretrained(base, tmp_path).eval()
    torch.testing.assert_close(loaded(**x).logits, expected, rtol=1e-5, atol=1e-5)


def test_a_finished_run_exports(tmp_path, data_dir):
    cfg = C.validate({"models": ["tiny-bert"], "seeds": [3], "data_dir": str(data_dir), "tasks": {"sst2": {}},
                      "methods": {"lora": {"ranks": [2], "hparams": {"alpha": 4}}},
                      "train": {"epochs": 1, "batch_size": 8, "max_length": 32, "train_size": 16, "eval_size": 16,
                                "save_weights": True, "lr": 1e-2}})
    run(C.run_spec(cfg, C.runs(cfg)[0]), tmp_path / "metrics.json")
    model = rebuild(tmp_path)
    assert any(torch.count_nonzero(b.weight) for layer in lora_layers(model) for b in layer.lora_B)  # trained
    main(["export-peft", str(tmp_path)])  # → <run>/peft
    assert json.loads((tmp_path / "peft" / "adapter_config.json").read_text())["modules_to_save"] == ["classifier", "pooler"]
    torch.manual_seed(3)
    base = build_random("tiny-bert", num_labels=2)
    loaded = peft.PeftModel.from_pretrained(base, tmp_path / "peft").eval()
    x = _inputs()
    torch.testing.assert_close(loaded(**x).logits, model(**x).logits, rtol=1e-5, atol=1e-5)


def test_other_trainable_parameters_are_refused(tmp_path):
    model = apply_method(build_random("tiny-bert"), "lora", rank=2)
    model.bert.embeddings.word_embeddings.weight.requires_grad_(True)
    with pytest.raises(ValueError, match="outside LoRA and the task head"):
        save_peft_lora(model, tmp_path)
    with pytest.raises(ValueError, match="no LoRA layers"):
        save_peft_lora(apply_method(build_random("tiny-bert"), "bitfit"), tmp_path)
