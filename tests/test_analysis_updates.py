"""A run's saved LoRA matrices come back with the right layer, role and frozen weight."""

import json

import pytest
import torch
from safetensors.torch import save_file

from lora_bench import apply_method, merge
from lora_bench.analysis.updates import load_updates
from lora_bench.models import load_for_classification
from lora_bench.train import seed_everything


def _merged_weight(model, name, layer, role):
    """The merged (W + ΔW) weight of one role, d_out × d_in, found without the code under test."""
    if name == "tiny-gpt2":
        block = model.transformer.h[layer].attn
        if role == "o":
            return block.c_proj.base.weight.T
        w = block.c_attn.base.weight.T  # Conv1D: (in, 3·d) → (3·d, in)
        d = w.shape[0] // 3
        return w["qkv".index(role) * d:("qkv".index(role) + 1) * d]
    attn = model.bert.encoder.layer[layer].attention
    module = {"q": attn.self.query, "k": attn.self.key, "v": attn.self.value, "o": attn.output.dense}[role]
    return module.base.weight


@pytest.mark.parametrize("name,targets", [("tiny-bert", ["q", "k", "v", "o"]), ("tiny-gpt2", ["q", "v", "o"])])
def test_updates_match_the_trained_model(tmp_path, name, targets):
    spec = {"model": name, "task": "sst2", "method": "lora", "base_method": "lora", "rank": 2,
            "hparams": {"alpha": 8, "targets": targets}, "seed": 3, "model_dir": None}
    seed_everything(spec["seed"])  # as train.run builds the model
    model, _ = load_for_classification(name, 2)
    apply_method(model, "lora", rank=2, **spec["hparams"])
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():  # stand-in for training: every A and B moves
        for n, p in model.named_parameters():
            if "lora_" in n:
                p.copy_(torch.randn(p.shape, generator=g))
    save_file({n: p.detach().contiguous() for n, p in model.named_parameters() if p.requires_grad},
              tmp_path / "weights.safetensors")
    (tmp_path / "metrics.json").write_text(json.dumps({"spec": spec}))

    updates = load_updates(tmp_path / "metrics.json")
    assert [(u.layer, u.role) for u in updates] == [(layer, r) for layer in (0, 1) for r in "qkvo" if r in targets]
    merge(model)
    for u in updates:
        assert u.A.shape == (2, 32) and u.B.shape == (32, 2) and u.scaling == 4.0
        torch.testing.assert_close(u.W + u.delta, _merged_weight(model, name, u.layer, u.role))


def test_a_run_without_weights_is_named(tmp_path):
    spec = {"model": "tiny-bert", "task": "sst2", "base_method": "lora", "rank": 2, "hparams": {}, "seed": 0,
            "model_dir": None}
    (tmp_path / "metrics.json").write_text(json.dumps({"spec": spec}))
    with pytest.raises(FileNotFoundError, match="save_weights"):
        load_updates(tmp_path / "metrics.json")
    (tmp_path / "metrics.json").write_text(json.dumps({"spec": spec | {"base_method": "ft"}}))
    with pytest.raises(ValueError, match="'ft' run has no LoRA"):
        load_updates(tmp_path / "metrics.json")
