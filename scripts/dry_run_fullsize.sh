#!/usr/bin/env bash
# Dry runs of the paper's full-size configurations: for each benchmark a fixture in its binarised
# format (built from the shipped sample text by tests/standin_data.py), then a few updates of the
# full-size baseline and daGPAM models through scripts/train.sh --dry-run. Proves that the scripts,
# recipes and flags fit together before a GPU run; it measures nothing.
#
#   scripts/dry_run_fullsize.sh [--only NAME[,NAME...]] [--work DIR]
# NAME: iwslt-post iwslt-pre wmt-base wmt-big lm lm8 (default: all)
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WORK=$REPO/work/dry-run
ONLY="iwslt-post,iwslt-pre,wmt-base,wmt-big,lm,lm8"

usage() { sed -n '2,9p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
die() { echo "dry_run_fullsize.sh: error: $*" >&2; exit 2; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --only) [[ $# -ge 2 ]] || die "--only needs a value"; ONLY=$2; shift 2 ;;
    --work) [[ $# -ge 2 ]] || die "--work needs a value"; WORK=$2; shift 2 ;;
    *) die "unknown argument $1 (see --help)" ;;
  esac
done

# name -> benchmark and train.sh options
declare -A SETTING=(
  [iwslt-post]="iwslt14.de-en --model iwslt --ln post"
  [iwslt-pre]="iwslt14.de-en --model iwslt --ln pre"
  [wmt-base]="wmt14.en-de --model base"
  [wmt-big]="wmt14.en-de --model big"
  [lm]="wikitext-103 --model lm"
  [lm8]="wikitext-103 --model lm8"
)
for NAME in ${ONLY//,/ }; do
  [[ -n ${SETTING[$NAME]:-} ]] || die "unknown dry run '$NAME'; choose from: ${!SETTING[*]}"
done

mkdir -p "$WORK"
RESULTS=()
for NAME in ${ONLY//,/ }; do
  read -r BENCHMARK OPTIONS <<< "${SETTING[$NAME]}"
  if [[ ! -f $WORK/data/data-bin/$BENCHMARK/PREPARED ]]; then
    python "$REPO/tests/standin_data.py" "$BENCHMARK" --data-root "$WORK/data" --vocab 1000 --limit 400
  fi
  for ATTENTION in softmax dagpam; do
    echo "=== dry run $NAME $ATTENTION" >&2
    # shellcheck disable=SC2086  # OPTIONS is a list of words
    if bash "$REPO/scripts/train.sh" "$BENCHMARK" $OPTIONS --attention "$ATTENTION" --dry-run \
         --data-root "$WORK/data" --save-root "$WORK/runs" > "$WORK/$NAME-$ATTENTION.log" 2>&1 \
       && grep -q '"train_num_updates"' "$WORK/$NAME-$ATTENTION.log"; then
      PARAMS=$(grep -o 'num. shared model params: [0-9,]*' "$WORK/$NAME-$ATTENTION.log" | grep -o '[0-9,]*$')
      RESULTS+=("$NAME $ATTENTION ok ($PARAMS parameters)")
    else
      RESULTS+=("$NAME $ATTENTION FAILED (log: $WORK/$NAME-$ATTENTION.log)")
    fi
  done
done
printf '%s\n' "${RESULTS[@]}"
! printf '%s\n' "${RESULTS[@]}" | grep -q FAILED
