#!/usr/bin/env bash
# Thin wrapper: `gpam gpu-check` (gpam_tools/bench/gpu_check.py) does the work; `scripts/gpu_check.sh --help` lists its options.
#   scripts/gpu_check.sh [options]      (also: make gpu-check)
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}" exec python -m gpam_tools gpu-check "$@"
