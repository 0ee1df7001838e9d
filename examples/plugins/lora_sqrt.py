"""A lora-bench plugin: LoRA with its update scaled by α/√r instead of α/r (rank-stabilised LoRA,
Kalajdzievski 2023), so that raising the rank does not shrink the update.

Name this file under `plugins:` in the config and add the method under `methods:`; nothing in the package
changes. It reuses LoRA's layer, so merging, counting and the peft export work as for LoRA.
"""

import math

from lora_bench.methods import lora, register


@register("lora_sqrt", uses_rank=True, description="LoRA scaled by alpha/sqrt(r) (rsLoRA)")
def apply(model, rank, alpha=None, dropout=0.0, targets=("q", "v")):
    alpha = rank if alpha is None else alpha
    lora.apply(model, rank, alpha=alpha, dropout=dropout, targets=targets)
    for layer in lora.lora_layers(model):
        layer.scaling = alpha / math.sqrt(rank)
