"""Where each method hooks into each architecture, as data.

A method never names a module itself; it asks for a *role* ("q", "ffn_out", ...) and this table says which
module of a given `config.model_type` plays it. Supporting a new architecture = one entry here.

Patterns are regular expressions matched (``re.search``) against the end of full module names from
``model.named_modules()``, the way peft's ``target_modules`` work.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import torch.nn as nn


@dataclass(frozen=True)
class Arch:
    # Attention matrices. On a fused projection (GPT-2's c_attn) several roles share one module and
    # `fused` says which output slice (index, of how many) each role is.
    q: str
    k: str
    v: str
    o: str
    attn_out: str  # output projection of the attention sub-layer (AdapterH's first site)
    ffn_out: str  # output projection of the feed-forward sub-layer (AdapterH's second, AdapterL's site)
    norms: str  # the normalisation layers inside the transformer blocks
    fused: dict[str, tuple[int, int]] = field(default_factory=dict)


_BERT_LIKE = dict(
    q=r"attention\.self\.query$",
    k=r"attention\.self\.key$",
    v=r"attention\.self\.value$",
    o=r"attention\.output\.dense$",
    attn_out=r"attention\.output\.dense$",
    ffn_out=r"layer\.\d+\.output\.dense$",
    norms=r"layer\.\d+\.(attention\.)?output\.LayerNorm$",
)

ARCHS: dict[str, Arch] = {
    "bert": Arch(**_BERT_LIKE),
    "roberta": Arch(**_BERT_LIKE),
    "deberta-v2": Arch(
        **{
            **_BERT_LIKE,
            "q": r"attention\.self\.query_proj$",
            "k": r"attention\.self\.key_proj$",
            "v": r"attention\.self\.value_proj$",
        }
    ),
    "gpt2": Arch(
        q=r"attn\.c_attn$",
        k=r"attn\.c_attn$",
        v=r"attn\.c_attn$",
        o=r"attn\.c_proj$",
        attn_out=r"attn\.c_proj$",
        ffn_out=r"mlp\.c_proj$",
        norms=r"h\.\d+\.ln_\d$",
        fused={"q": (0, 3), "k": (1, 3), "v": (2, 3)},
    ),
    "llama": Arch(
        q=r"self_attn\.q_proj$",
        k=r"self_attn\.k_proj$",
        v=r"self_attn\.v_proj$",
        o=r"self_attn\.o_proj$",
        attn_out=r"self_attn\.o_proj$",
        ffn_out=r"mlp\.down_proj$",
        norms=r"layers\.\d+\.(input_layernorm|post_attention_layernorm)$",
    ),
}

# The task head is trained by every method and counted apart, as the paper does. BERT-family models put a
# pretrained pooler (dense + tanh) under the classifier; RoBERTa's head carries that dense layer inside
# `classifier`. Counting the pooler as head makes the trained head the same shape on both.
HEAD_PATTERN = re.compile(r"(^|\.)(classifier|pooler|score)(\.|$)")


def arch_of(model: nn.Module) -> Arch:
    model_type = model.config.model_type
    if model_type not in ARCHS:
        raise ValueError(f"architecture {model_type!r} is not supported; known: {sorted(ARCHS)}")
    return ARCHS[model_type]


def find_modules(model: nn.Module, pattern: str) -> list[tuple[str, nn.Module]]:
    """All (name, module) whose full name matches `pattern`, head excluded."""
    rx = re.compile(pattern)
    found = [(n, m) for n, m in model.named_modules() if rx.search(n) and not HEAD_PATTERN.search(n)]
    if not found:
        raise ValueError(f"no module of {type(model).__name__} matches {pattern!r}")
    return found


def replace_module(model: nn.Module, name: str, new: nn.Module) -> None:
    parent_name, _, child = name.rpartition(".")
    setattr(model.get_submodule(parent_name) if parent_name else model, child, new)


def is_head_param(name: str) -> bool:
    return bool(HEAD_PATTERN.search(name))
