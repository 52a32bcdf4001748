#!/usr/bin/env bash
# Thin wrapper: `gpam train` (gpam_tools/run/train.py) does the work; `scripts/train.sh --help` lists its options.
#   scripts/train.sh DATASET [options] [-- extra fairseq-train args]
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}" exec python -m gpam_tools train "$@"
