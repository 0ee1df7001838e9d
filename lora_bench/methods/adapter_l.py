"""AdapterL (Lin et al. 2020): one adapter per block, after the FFN, with its own new LayerNorm."""

from lora_bench.architectures import arch_of
from lora_bench.methods import register
from lora_bench.methods.adapters import insert_adapters


@register("adapter_l", uses_rank=True, description="Lin adapter after the FFN with its own LayerNorm")
def apply(model, rank, activation="relu"):
    insert_adapters(model, arch_of(model).ffn_out, rank, activation, own_norm=True)
