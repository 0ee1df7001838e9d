from lora_bench.provenance import log_to
from lora_bench.report import table2

with log_to(snakemake.log[0]):  # noqa: F821
    table2.write(snakemake.input, snakemake.output.csv, snakemake.output.md, snakemake.params.reference,  # noqa: F821
                 snakemake.params.baseline)  # noqa: F821
