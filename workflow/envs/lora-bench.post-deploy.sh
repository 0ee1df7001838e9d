#!/usr/bin/env bash
# Run by Snakemake inside the new env, once: install this checkout's lora-bench (dependencies come from the env file).
set -euo pipefail
pip install --no-deps --editable "$(dirname "$0")/../.."
