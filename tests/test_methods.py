"""Each method trains exactly its own parameters, and LoRA merges without changing outputs."""

import re

import pytest
import torch

from lora_bench import apply_method, count_parameters, merge, unmerge
from lora_bench.architectures import is_head_param
from lora_bench.methods.lora import LoRALayer, lora_layers
from lora_bench.models import build_random

TINY = ["tiny-bert", "tiny-roberta", "tiny-deberta", "tiny-gpt2", "tiny-llama"]


def _model(name, method, rank=4, **hp):
    torch.manual_seed(0)
    model = build_random(name, num_labels=3)
    model.eval()
    return apply_method(model, method, rank=rank, **hp)


def _inputs(model):
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(1, 1000, (2, 12), generator=g)
    return {"input_ids": ids, "attention_mask": torch.ones_like(ids)}


def _trainable(model):
    return {n for n, p in model.named_parameters() if p.requires_grad}


def _randomise_lora(model):
    with torch.no_grad():
        for layer in lora_layers(model):
            for b in layer.lora_B:
                b.weight.normal_(0, 0.5)


@pytest.mark.parametrize("name", TINY)
def test_only_the_methods_parameters_train(name):
    head = lambda n: is_head_param(n)  # noqa: E731
    assert all(p.requires_grad for p in _model(name, "ft").parameters())

    bitfit = _trainable(_model(name, "bitfit"))
    assert bitfit and all("bias" in n or head(n) for n in bitfit)

    lora = _trainable(_model(name, "lora"))
    assert {n for n in lora if not head(n)} and all(re.search(r"lora_[AB]", n) or head(n) for n in lora)

    for method, extra in [("adapter_h", r"norm|ln_|LayerNorm"), ("adapter_l", r"^$")]:
        names = _trainable(_model(name, method))
        assert all(".adapter." in n or head(n) or re.search(extra, n) for n in names), method
    assert any(head(n) for n in lora), "the task head must train with every method"


@pytest.mark.parametrize("name", TINY)
@pytest.mark.parametrize("method", ["lora", "adapter_h", "adapter_l"])
def test_new_modules_start_as_identity(name, method):
    torch.manual_seed(0)
    base = build_random(name, num_labels=3).eval()
    x = _inputs(base)
    before = base(**x).logits
    after = apply_method(base, method, rank=4).eval()(**x).logits
    torch.testing.assert_close(after, before)


@pytest.mark.parametrize("name", TINY)
def test_merge_equals_unmerged(name):
    model = _model(name, "lora", rank=4, alpha=8, targets=["q", "k", "v", "o"])
    _randomise_lora(model)
    x = _inputs(model)
    unmerged = model(**x).logits
    merge(model)
    assert all(layer.merged for layer in lora_layers(model))
    torch.testing.assert_close(model(**x).logits, unmerged, rtol=1e-4, atol=1e-5)
    unmerge(model)
    torch.testing.assert_close(model(**x).logits, unmerged, rtol=1e-4, atol=1e-5)


def test_lora_scaling_and_init():
    layer = LoRALayer(torch.nn.Linear(16, 16), rank=4, alpha=8, dropout=0.0, slices=(0,), n_chunks=1, init="gaussian")
    assert layer.scaling == 2.0
    assert torch.count_nonzero(layer.lora_B[0].weight) == 0 and torch.count_nonzero(layer.lora_A[0].weight) > 0
    with pytest.raises(ValueError, match="unknown LoRA init"):
        LoRALayer(torch.nn.Linear(4, 4), 2, 2, 0.0, (0,), 1, init="zeros")


def test_gpt2_fused_attention_gets_q_and_v_slices_only():
    model = _model("tiny-gpt2", "lora", rank=2)
    layers = lora_layers(model)
    assert len(layers) == 2 and all(layer.slices == (0, 2) and layer.n_chunks == 3 for layer in layers)
    _randomise_lora(model)
    attn = model.transformer.h[0].attn.c_attn
    x = torch.randn(3, 32)
    k = slice(32, 64)
    torch.testing.assert_close(attn(x)[:, k], attn.base(x)[:, k])  # k's output is untouched
    assert not torch.allclose(attn(x)[:, :32], attn.base(x)[:, :32])


def test_bad_hyper_parameters_are_named():
    with pytest.raises(TypeError, match="bogus"):
        _model("tiny-bert", "lora", bogus=1)
    with pytest.raises(ValueError, match="rank >= 1"):
        _model("tiny-bert", "lora", rank=0)
    with pytest.raises(KeyError, match="lorax"):
        _model("tiny-bert", "lorax")


@pytest.mark.parametrize("model,method,rank,expected", [
    ("roberta-base", "lora", 8, 294_912),
    ("roberta-large", "lora", 8, 786_432),
    ("deberta-v2-xxlarge", "lora", 16, 4_718_592),
    ("gpt2-medium", "lora", 4, 393_216),
    ("gpt2-large", "lora", 4, 737_280),
    # AdapterH: L̂_Adpt·(2dr + r + d) + 2·L̂_LN·d with L̂_Adpt = L̂_LN = 2 per layer
    ("roberta-base", "adapter_h", 8, 24 * (2 * 768 * 8 + 8 + 768) + 2 * 24 * 768),
    # AdapterL: one adapter and its own LayerNorm per layer
    ("roberta-base", "adapter_l", 8, 12 * (2 * 768 * 8 + 8 + 768 + 2 * 768)),
])
def test_parameter_counts_match_the_paper(model, method, rank, expected):
    m = build_random(model, device="meta")
    apply_method(m, method, rank=rank)
    assert count_parameters(m)["trainable_excluding_head"] == expected


def test_full_fine_tuning_counts_about_125m_on_roberta_base():
    m = build_random("roberta-base", device="meta")
    counts = count_parameters(apply_method(m, "ft"))
    assert 124e6 < counts["trainable_excluding_head"] < 126e6
    assert counts["trainable"] == counts["total"]
    bitfit = count_parameters(apply_method(build_random("roberta-base", device="meta"), "bitfit"))
    assert round(bitfit["trainable_excluding_head"] / 1e6, 1) == 0.1
