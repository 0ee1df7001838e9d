from lora_bench.provenance import log_to
from lora_bench.report import compare

with log_to(snakemake.log[0]):  # noqa: F821
    compare.write(snakemake.input, snakemake.output.csv, snakemake.output.md,  # noqa: F821
                  snakemake.params.reference, snakemake.params.baseline)  # noqa: F821
