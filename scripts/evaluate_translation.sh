#!/usr/bin/env bash
# Thin wrapper: `gpam evaluate --task translation` (gpam_tools/run/evaluate.py) does the work.
#   scripts/evaluate_translation.sh RUN_DIR|CHECKPOINT [options] [-- extra fairseq-generate args]
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}" exec python -m gpam_tools evaluate --task translation "$@"
