#!/usr/bin/env bash
# A shipped corpus (ci_deen, deen_docs, ci_lm, en_lm): a thin wrapper of `gpam prepare NAME`.
set -euo pipefail
USAGE="usage: bash data-prep/prepare-offline.sh {ci_deen,deen_docs,ci_lm,en_lm} [options]   (= gpam prepare NAME [options])"
[[ $# -gt 0 ]] || { echo "$USAGE" >&2; exit 2; }
exec "${PYTHON:-python3}" -m gpam_tools prepare "$@"
