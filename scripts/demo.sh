#!/usr/bin/env bash
# The offline demo: train the softmax baseline and daGPAM on the German-English and English text
# shipped in data-prep/corpora, evaluate BLEU and perplexity, print a side-by-side table and
# write it to results/demo/ (results/demo-smoke/ with --smoke).
#
# A scaled-down CPU run (about 15 minutes on 2 cores; --smoke about 3): it compares the two
# attentions at equal size, data and updates; it is not a reproduction of the paper's numbers.
#
#   scripts/demo.sh [--smoke] [--seed N] [--out DIR] [--data-root DIR] [--work DIR]
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SCRIPTS=$REPO/scripts

usage() {
  cat <<'EOF'
usage: scripts/demo.sh [--smoke] [--seed N] [--out DIR] [--data-root DIR] [--work DIR]

  --smoke          about 3 minutes: small corpora, tiny models, a few updates (default: the ~15-minute demo)
  --seed N         training seed (default 1)
  --out DIR        where the tables go (default results/demo, results/demo-smoke with --smoke)
  --data-root DIR  prepared data (default $DATA_ROOT or <repo>/work); missing datasets are prepared
                   with data-prep/prepare-offline.sh
  --work DIR       checkpoints (default <repo>/work/demo, <repo>/work/demo-smoke with --smoke)
EOF
}

die() { echo "demo.sh: error: $*" >&2; exit 2; }
# shellcheck source=scripts/output_guard.sh
source "$SCRIPTS/output_guard.sh"

# ---------------------------------------------------------------- options
SMOKE=0
SEED=1
OUT=""
DATA_ROOT=${DATA_ROOT:-$REPO/work}
WORK=""
need() { [[ $# -ge 2 && -n "$2" ]] || die "option $1 needs a value (see --help)"; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --smoke) SMOKE=1; shift ;;
    --seed) need "$@"; SEED=$2; shift 2 ;;
    --out) need "$@"; OUT=$2; shift 2 ;;
    --data-root) need "$@"; DATA_ROOT=$2; shift 2 ;;
    --work) need "$@"; WORK=$2; shift 2 ;;
    *) die "unknown argument $1 (see --help)" ;;
  esac
done
[[ $SEED =~ ^[0-9]+$ ]] || die "--seed must be an integer, not '$SEED'"

# ---------------------------------------------------------------- the demo's scale
if [[ $SMOKE == 1 ]]; then
  NAME=demo-smoke
  MT_DATA=ci_deen; MT_PRESET=tiny; MT_UPDATES=60
  LM_DATA=ci_lm;   LM_PRESET=tiny; LM_UPDATES=40
  GEN_LIMITS=(--max-len-a 1.2 --max-len-b 10)   # an undertrained model must not decode for minutes
else
  NAME=demo
  MT_DATA=deen_docs; MT_PRESET=cpu; MT_UPDATES=150
  LM_DATA=ci_lm;     LM_PRESET=cpu; LM_UPDATES=100
  GEN_LIMITS=(--max-len-a 1.2 --max-len-b 10)
fi
OUT=${OUT:-$REPO/results/$NAME}
WORK=${WORK:-$REPO/work/$NAME}
RUNS=$WORK/runs
# checked before minutes of training; one demo at a time per work and per output directory
need_writable_dir "$WORK" "choose a writable --work"
need_writable_dir "$(dirname "$OUT")" "choose a writable --out"
hold_lock "$WORK/.lock" "demo.sh"
hold_lock "$(dirname "$OUT")/.$(basename "$OUT").lock" "demo.sh"
TITLE="Offline demo: softmax baseline vs daGPAM"
START=$(date +%s)

step() { echo; echo "=== demo [$(( $(date +%s) - START ))s] $*" >&2; }

# ---------------------------------------------------------------- 1. data (prepared once, then reused)
for DATASET in $MT_DATA $LM_DATA; do
  if [[ ! -f $DATA_ROOT/data-bin/$DATASET/PREPARED ]]; then
    step "preparing $DATASET"
    [[ -f $REPO/data-prep/prepare-offline.sh ]] || \
      die "$DATA_ROOT/data-bin/$DATASET is not prepared and data-prep/prepare-offline.sh is missing; check out the full repository"
    bash "$REPO/data-prep/prepare-offline.sh" "$DATASET" --data-root "$DATA_ROOT"
  fi
done

# a fresh start: earlier demo checkpoints would be resumed instead of retrained
rm -rf "$RUNS"
COMMON=(--data-root "$DATA_ROOT" --save-root "$RUNS" --seeds "$SEED")

# ---------------------------------------------------------------- 2. translation: train and evaluate both
for ATTENTION in softmax dagpam; do
  step "translation $MT_DATA de->en, $ATTENTION attention, $MT_UPDATES updates ($MT_PRESET preset)"
  bash "$SCRIPTS/train.sh" "$MT_DATA" --preset "$MT_PRESET" --attention "$ATTENTION" --max-update "$MT_UPDATES" \
    "${COMMON[@]}" -- --validate-interval-updates $(( MT_UPDATES / 3 )) --no-epoch-checkpoints
done
for RUN in "$RUNS"/"$MT_DATA".*/*/*/seed"$SEED"; do
  step "BLEU of $(basename "$(dirname "$RUN")")"
  bash "$SCRIPTS/evaluate_translation.sh" "$RUN" --checkpoint last "${GEN_LIMITS[@]}"
done

# ---------------------------------------------------------------- 3. language model: train and evaluate both
for ATTENTION in softmax dagpam; do
  step "language model $LM_DATA, $ATTENTION attention, $LM_UPDATES updates ($LM_PRESET preset)"
  bash "$SCRIPTS/train.sh" "$LM_DATA" --preset "$LM_PRESET" --attention "$ATTENTION" --max-update "$LM_UPDATES" \
    "${COMMON[@]}" -- --validate-interval-updates $(( LM_UPDATES / 4 )) --no-epoch-checkpoints
done
for RUN in "$RUNS"/"$LM_DATA"/*/*/seed"$SEED"; do
  step "perplexity of $(basename "$(dirname "$RUN")")"
  bash "$SCRIPTS/evaluate_lm.sh" "$RUN" --checkpoint last
done

# ---------------------------------------------------------------- 4. the table, from the logs
step "collecting the results into $OUT"
WALL=$(( $(date +%s) - START ))
mkdir -p "$(dirname "$OUT")"
STAGE=$(mktemp -d "$(dirname "$OUT")/.$NAME.XXXXXX")
# the light files of every run (logs, settings, scores, hypotheses), so that
# `python results/collect.py $OUT/runs --refs $OUT/refs --out $OUT ...` regenerates the table
bash "$SCRIPTS/keep_run_logs.sh" "$RUNS" "$STAGE/runs"
mkdir -p "$STAGE/refs"
cp "$DATA_ROOT/text/$MT_DATA/test.raw.en" "$STAGE/refs/$MT_DATA.test.raw.en"
REL_OUT=$(python -c 'import os, sys; print(os.path.relpath(sys.argv[1], sys.argv[2]))' "$OUT" "$REPO")
cat > "$STAGE/NOTE.md" <<EOF
**Scaled-down CPU run of the offline demo (\`scripts/demo.sh$([[ $SMOKE == 1 ]] && echo ' --smoke')\`), seed $SEED:
not a reproduction of the paper.** Translation: $MT_DATA German->English, $MT_PRESET-preset Transformer,
$MT_UPDATES updates. Language model: $LM_DATA, $LM_PRESET-preset Transformer LM, $LM_UPDATES updates.
Both systems have the same size, data, updates and seed; model sizes, data and batches are in the scale
column and the per-benchmark files. Wall time of the whole demo (data preparation, training, evaluation):
$(( WALL / 60 )) min $(( WALL % 60 )) s on $(nproc) CPU cores.
Regenerate these tables from the kept logs (from the repository root):
\`python results/collect.py $REL_OUT/runs --refs $REL_OUT/refs --out $REL_OUT --title "$TITLE" --note-file $REL_OUT/NOTE.md\`
EOF
python "$REPO/results/collect.py" "$STAGE/runs" --refs "$STAGE/refs" --out "$STAGE" \
  --title "$TITLE" --note-file "$STAGE/NOTE.md" > "$STAGE/table.txt"
# replace the previous results in one step
rm -rf "$OUT.old"
[[ -d $OUT ]] && mv "$OUT" "$OUT.old"
mv "$STAGE" "$OUT"
rm -rf "$OUT.old"

echo
cat "$OUT/NOTE.md"
echo
cat "$OUT/table.txt"
echo "demo.sh: wrote $OUT/summary.md (and .csv, per-benchmark tables, validation-loss plots) in $(( WALL / 60 )) min $(( WALL % 60 )) s" >&2
