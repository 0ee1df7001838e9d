"""BitFit (Ben Zaken et al. 2021): only the bias vectors train."""

from lora_bench.methods import register


@register("bitfit", uses_rank=False, description="bias terms only")
def apply(model, rank=0):
    for name, p in model.named_parameters():
        if "bias" in name:
            p.requires_grad_(True)
