#!/usr/bin/env bash
# The offline demo (`make demo`): a thin wrapper of `gpam study demo` (gpam_tools/study/specs/demo.py).
#   scripts/demo.sh [--smoke] [--seeds N] [--out DIR] [--data-root DIR] [--work DIR]   (--help: all options)
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}" exec python -m gpam_tools study demo "$@"
