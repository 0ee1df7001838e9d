"""lora-bench: reproduce Hu et al. 2021 (LoRA) and compare new methods against its baselines.

The package reads like the paper: methods → data → training → measurement → analysis → report.
"""

__version__ = "0.1.0"

from lora_bench import hub  # noqa: E402,F401  (first: sets the offline variables before HF imports)

from lora_bench.methods import METHODS, apply_method, count_parameters, get_method  # noqa: E402
from lora_bench.methods.lora import merge, unmerge  # noqa: E402

__all__ = ["METHODS", "apply_method", "count_parameters", "get_method", "merge", "unmerge"]
