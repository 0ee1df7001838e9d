"""AdapterH (Houlsby et al. 2019): two adapters per block, after the attention output projection and after
the FFN output; the blocks' LayerNorms train too. |Θ| = L̂_Adpt·(2dr + r + d) + 2·L̂_LN·d."""

from lora_bench.architectures import arch_of, find_modules
from lora_bench.methods import register
from lora_bench.methods.adapters import insert_adapters


@register("adapter_h", uses_rank=True, description="Houlsby adapters after attention and FFN, plus LayerNorms")
def apply(model, rank, activation="gelu"):
    arch = arch_of(model)
    insert_adapters(model, arch.attn_out, rank, activation, own_norm=False)
    insert_adapters(model, arch.ffn_out, rank, activation, own_norm=False)
    for _, norm in find_modules(model, arch.norms):
        norm.requires_grad_(True)
