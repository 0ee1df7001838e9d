from lora_bench.provenance import log_to
from lora_bench.train import run

with log_to(snakemake.log[0]):  # noqa: F821 - `snakemake` is injected by the script directive
    run(snakemake.params.spec, snakemake.output[0], threads=snakemake.threads)  # noqa: F821
