from pathlib import Path

from lora_bench.nlg import train
from lora_bench.provenance import log_to

with log_to(snakemake.log[0]):  # noqa: F821 - `snakemake` is injected by the script directive
    train(snakemake.params.spec, Path(snakemake.output.record).parent, threads=snakemake.threads)  # noqa: F821
