import torch

from lora_bench.provenance import log_to
from lora_bench.report import section7

with log_to(snakemake.log[0]):  # noqa: F821 - `snakemake` is injected by the script directive
    torch.set_num_threads(snakemake.threads)  # noqa: F821
    make = section7.OUTPUTS[snakemake.wildcards.analysis]  # noqa: F821
    make(snakemake.input, snakemake.output.csv, snakemake.output.md, snakemake.output.png,  # noqa: F821
         snakemake.params.settings)  # noqa: F821
