"""Full fine-tuning: every parameter trains."""

from lora_bench.methods import register


@register("ft", uses_rank=False, description="full fine-tuning")
def apply(model, rank=0):
    model.requires_grad_(True)
