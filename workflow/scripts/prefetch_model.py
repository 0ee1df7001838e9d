from lora_bench.prefetch import fetch_model
from lora_bench.provenance import log_to

with log_to(snakemake.log[0]):  # noqa: F821
    print(fetch_model(snakemake.wildcards.model, snakemake.params.model_dir, snakemake.output[0]))  # noqa: F821
