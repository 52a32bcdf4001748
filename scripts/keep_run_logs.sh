#!/usr/bin/env bash
# Copy the light files of training runs (logs, settings, scores, hypotheses; never checkpoints)
# from a runs tree into another tree with the same layout, so that results/collect.py can
# rebuild the tables from them later.
#
#   scripts/keep_run_logs.sh RUNS_DIR DEST_DIR [RELATIVE_RUN_PATH ...]
#
# With run paths (relative to RUNS_DIR), only those runs are copied. Each run lands in DEST_DIR
# in one rename, so a reader never sees half of a run.
set -euo pipefail

[[ $# -ge 2 ]] || { echo "usage: scripts/keep_run_logs.sh RUNS_DIR DEST_DIR [RELATIVE_RUN_PATH ...]" >&2; exit 2; }
RUNS=$1; DEST=$2; shift 2
[[ -d $RUNS ]] || { echo "keep_run_logs.sh: error: $RUNS is not a directory" >&2; exit 2; }

if [[ $# -eq 0 ]]; then
  mapfile -t SELECTED < <(cd "$RUNS" && find . -name run-info.json -printf '%h\n' | sed 's|^\./||' | sort)
else
  SELECTED=("$@")
fi

for REL in "${SELECTED[@]}"; do
  [[ -f $RUNS/$REL/run-info.json ]] || { echo "keep_run_logs.sh: error: $RUNS/$REL is not a run (no run-info.json)" >&2; exit 2; }
  TARGET=$DEST/$REL
  mkdir -p "$(dirname "$TARGET")"
  STAGE=$(mktemp -d "$(dirname "$TARGET")/.$(basename "$TARGET").XXXXXX")
  (cd "$RUNS/$REL" && find . -maxdepth 1 -type f \( -name 'run-info.json' -o -name 'train.log' -o -name 'command.sh' \
      -o -name 'eval-*.json' -o -name 'eval-lm.*.log' -o -name 'hyps.*' \) -exec cp {} "$STAGE/" \;)
  chmod 755 "$STAGE"
  rm -rf "$TARGET.old"
  [[ -d $TARGET ]] && mv "$TARGET" "$TARGET.old"
  mv "$STAGE" "$TARGET"
  rm -rf "$TARGET.old"
done
