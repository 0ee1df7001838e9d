from lora_bench.prefetch import fetch_split
from lora_bench.provenance import log_to

with log_to(snakemake.log[0]):  # noqa: F821
    w = snakemake.wildcards  # noqa: F821
    print(fetch_split(w.task, w.split, snakemake.params.data_dir, snakemake.output[0]))  # noqa: F821
