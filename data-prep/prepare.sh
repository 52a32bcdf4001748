#!/usr/bin/env bash
# Prepare a dataset under the data contract: a thin wrapper of `gpam prepare` (gpam_tools/prepare/).
#   bash data-prep/prepare.sh NAME [options]   =   python -m gpam_tools prepare NAME [options]
# NAME: a benchmark, a shipped corpus, or `custom` for your own corpus; `--help` lists them.
set -euo pipefail
USAGE="usage: bash data-prep/prepare.sh NAME [options]   (bash data-prep/prepare.sh --help lists the names)"
[[ $# -gt 0 ]] || { echo "$USAGE" >&2; exit 2; }
exec "${PYTHON:-python3}" -m gpam_tools prepare "$@"
