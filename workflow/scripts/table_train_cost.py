from lora_bench.provenance import log_to
from lora_bench.report import train_cost

with log_to(snakemake.log[0]):  # noqa: F821
    train_cost.write(snakemake.input.memory, snakemake.input.step, snakemake.output.csv,  # noqa: F821
                     snakemake.output.md, snakemake.output.claims)  # noqa: F821
