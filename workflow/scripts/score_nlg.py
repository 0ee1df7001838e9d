from pathlib import Path

from lora_bench.nlg import score
from lora_bench.provenance import log_to

with log_to(snakemake.log[0]):  # noqa: F821
    score(snakemake.params.spec, Path(snakemake.output[0]).parent, snakemake.output[0])  # noqa: F821
