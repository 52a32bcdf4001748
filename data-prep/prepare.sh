#!/usr/bin/env bash
# Prepare any dataset of the data contract by its name: dispatches to the script that builds it.
#   bash data-prep/prepare.sh NAME [options of that script]
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
USAGE="usage: bash data-prep/prepare.sh NAME [options]   (options: bash data-prep/prepare.sh NAME --help)
  benchmarks (downloaded, or --archive): iwslt14.de-en  wmt14.en-de  wikitext-103  ptb
  shipped in the repo (offline):         ci_deen  deen_docs  ci_lm  en_lm"

NAME="${1:-}"
[[ $# -gt 0 ]] && shift
case "$NAME" in
  iwslt14.de-en) exec bash "$HERE/prepare-iwslt14.sh" "$@" ;;
  wmt14.en-de) exec bash "$HERE/prepare-wmt14.sh" "$@" ;;
  wikitext-103) exec bash "$HERE/prepare-wikitext103.sh" "$@" ;;
  ptb) exec bash "$HERE/prepare-ptb.sh" "$@" ;;
  ci_deen|deen_docs|ci_lm|en_lm) exec bash "$HERE/prepare-offline.sh" "$NAME" "$@" ;;
  -h|--help) echo "$USAGE"; exit 0 ;;
  "") echo "$USAGE" >&2; exit 2 ;;
  *) echo "$USAGE" >&2
     echo "ERROR: unknown dataset '$NAME': choose one of iwslt14.de-en, wmt14.en-de, wikitext-103, ptb, ci_deen, deen_docs, ci_lm, en_lm" >&2
     exit 2 ;;
esac
