from lora_bench.efficiency import latency
from lora_bench.provenance import log_to

with log_to(snakemake.log[0]):  # noqa: F821
    latency.measure(snakemake.params.spec, snakemake.output[0], threads=snakemake.threads)  # noqa: F821
