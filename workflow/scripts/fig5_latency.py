from lora_bench.provenance import log_to
from lora_bench.report import figures

with log_to(snakemake.log[0]):  # noqa: F821
    figures.latency_slowdown(snakemake.input[0], snakemake.output[0])  # noqa: F821
