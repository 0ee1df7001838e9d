from lora_bench.provenance import log_to
from lora_bench.report import table1

with log_to(snakemake.log[0]):  # noqa: F821
    table1.write(snakemake.input[0], snakemake.output.csv, snakemake.output.md)  # noqa: F821
