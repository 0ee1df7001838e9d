from lora_bench.provenance import log_to
from lora_bench.report import table3

with log_to(snakemake.log[0]):  # noqa: F821
    p = snakemake.params  # noqa: F821
    table3.write(snakemake.input, snakemake.output.csv, snakemake.output.md, p.paper, p.title, p.metrics,  # noqa: F821
                 p.reference)
