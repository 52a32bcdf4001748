#!/usr/bin/env bash
# The measured comparison on the shipped real text: softmax baseline against daGPAM (fixed and
# trainable lambdas), several seeds, scaled-down models sized for a 2-core CPU, every run through
# scripts/train.sh and the evaluation scripts. Finished runs are kept (logs, scores, hypotheses;
# no checkpoints) under OUT/runs and the tables are rebuilt from them by results/collect.py.
#
#   scripts/compare.sh STUDY [STUDY ...] [options]
#
# Resumable: a run whose logs and scores are already in OUT/runs is skipped; a run cut off
# mid-training (a stopped session, a crash) continues from its last checkpoint in WORK, which
# fairseq resumes exactly (data position, optimizer, per-update seeds; tests/test_resume.py),
# if the plugin and train.sh are unchanged since it started; any other run starts from scratch.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SCRIPTS=$REPO/scripts

usage() {
  cat <<'EOF'
usage: scripts/compare.sh STUDY [STUDY ...] [options]

studies (runs are ordered seed by seed across the studies named, so a cut-off campaign still
holds complete seeds):
  mt-preln      deen_docs (de->en unless --mt-direction), cpu-preset Transformer (2+2 layers, d=256), pre-LN:
                softmax, daGPAM fixed lambda- = 0.2, daGPAM trainable per-layer lambda- (start 0.2)
  mt-postln     the same, post-LN
  lm            en_lm, cpu-preset transformer_lm (2 layers, d=256, 128-token samples): the same 3 systems
  lambda-sweep  en_lm as in lm, daGPAM fixed lambda- in 0.05 0.1 0.4 0.8 (0.2 comes from lm), seed 1 only

options:
  --seeds LIST     seeds of the comparison studies (default 1,2,3)
  --mt-updates N   updates per translation run (default 1000; the run path and tables carry it as tag u<N>)
  --mt-direction D translation direction, de-en (default) or en-de (the run path carries it)
  --lm-updates N   updates per language-model run (default 250)
  --jobs N         runs at a time (default 3: the three systems of a seed side by side)
  --threads N      torch threads per run (default 1)
  --out DIR        kept logs and tables (default results/comparison)
  --work DIR       checkpoints; a cut-off run resumes from here (default <repo>/work/comparison)
  --data-root DIR  prepared data (default $DATA_ROOT or <repo>/work); missing corpora are prepared
  --collect-only   only rebuild the tables from OUT/runs
  --list           print the runs in order, each done, resumable (with its last checkpoint's
                   update; only under unchanged code) or pending, then stop
EOF
}

die() { echo "compare.sh: error: $*" >&2; exit 2; }
# shellcheck source=scripts/output_guard.sh
source "$SCRIPTS/output_guard.sh"

STUDIES=()
SEEDS=1,2,3
MT_UPDATES=1000
MT_DIRECTION=de-en
LM_UPDATES=250
JOBS=3
THREADS=1
OUT=$REPO/results/comparison
WORK=$REPO/work/comparison
DATA_ROOT=${DATA_ROOT:-$REPO/work}
COLLECT_ONLY=0
LIST=0
need() { [[ $# -ge 2 && -n "$2" ]] || die "option $1 needs a value (see --help)"; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --seeds) need "$@"; SEEDS=$2; shift 2 ;;
    --mt-updates) need "$@"; MT_UPDATES=$2; shift 2 ;;
    --mt-direction) need "$@"; MT_DIRECTION=$2; shift 2 ;;
    --lm-updates) need "$@"; LM_UPDATES=$2; shift 2 ;;
    --jobs) need "$@"; JOBS=$2; shift 2 ;;
    --threads) need "$@"; THREADS=$2; shift 2 ;;
    --out) need "$@"; OUT=$2; shift 2 ;;
    --work) need "$@"; WORK=$2; shift 2 ;;
    --data-root) need "$@"; DATA_ROOT=$2; shift 2 ;;
    --collect-only) COLLECT_ONLY=1; shift ;;
    --list) LIST=1; shift ;;
    mt-preln|mt-postln|lm|lambda-sweep) STUDIES+=("$1"); shift ;;
    -*) die "unknown option $1 (see --help)" ;;
    *) die "unknown study '$1': choose mt-preln, mt-postln, lm or lambda-sweep" ;;
  esac
done
[[ ${#STUDIES[@]} -gt 0 || $COLLECT_ONLY == 1 ]] || die "name at least one study (see --help)"
[[ $SEEDS =~ ^[0-9]+(,[0-9]+)*$ ]] || die "--seeds must be a comma-separated list of integers, not '$SEEDS'"
for N in "$MT_UPDATES" "$LM_UPDATES" "$JOBS" "$THREADS"; do
  [[ $N =~ ^[1-9][0-9]*$ ]] || die "--mt-updates, --lm-updates, --jobs and --threads take positive integers, not '$N'"
done
[[ $MT_DIRECTION == de-en || $MT_DIRECTION == en-de ]] \
  || die "--mt-direction takes de-en or en-de (the languages of deen_docs), not '$MT_DIRECTION'"
MT_SRC=${MT_DIRECTION%-*}
MT_TGT=${MT_DIRECTION#*-}

# ---------------------------------------------------------------- the runs
# one line per run: <train.sh arguments>|<run path relative to the runs root>
SYSTEMS=("--attention softmax|softmax"
         "--attention dagpam --lambda-neg 0.2 --lambda-mode fixed|dagpam-fixed0.2"
         "--attention dagpam --lambda-neg 0.2 --lambda-mode layer|dagpam-layer0.2")
RUNS=()
add_study_runs() {  # study seed
  local system args name
  case "$1" in
    mt-preln|mt-postln)
      local ln=${1#mt-}; ln=${ln%ln}
      for system in "${SYSTEMS[@]}"; do
        args=${system%|*}; name=${system#*|}
        RUNS+=("deen_docs --src $MT_SRC --tgt $MT_TGT --preset cpu --ln $ln $args --max-update $MT_UPDATES --tag u$MT_UPDATES --seeds $2|deen_docs.$MT_DIRECTION/cpu-${ln}ln-u$MT_UPDATES/$name/seed$2")
      done ;;
    lm)
      for system in "${SYSTEMS[@]}"; do
        args=${system%|*}; name=${system#*|}
        RUNS+=("en_lm --preset cpu $args --max-update $LM_UPDATES --seeds $2|en_lm/cpu-preln/$name/seed$2")
      done ;;
    lambda-sweep)
      if [[ $2 == "${SEEDS%%,*}" ]]; then
        for lam in 0.05 0.1 0.4 0.8; do
          RUNS+=("en_lm --preset cpu --attention dagpam --lambda-neg $lam --lambda-mode fixed --max-update $LM_UPDATES --seeds $2|en_lm/cpu-preln/dagpam-fixed$lam/seed$2")
        done
      fi ;;
  esac
}
for SEED in ${SEEDS//,/ }; do
  for STUDY in "${STUDIES[@]}"; do add_study_runs "$STUDY" "$SEED"; done
done

is_done() { compgen -G "$OUT/runs/$1/eval-*.json" > /dev/null; }
# the code a run trains with (the plugin and train.sh): a run resumes only under the same code
CODE=$(python "$SCRIPTS/code_fingerprint.py")
# the update count of a cut-off run's last checkpoint, if it has one that loads and was
# written by this code
resume_point() {
  local ckpt=$WORK/runs/$1/checkpoint_last.pt facts
  [[ -f $ckpt && $(cat "$WORK/runs/$1/.code" 2>/dev/null) == "$CODE" ]] || return 1
  facts=$(python "$SCRIPTS/gpam_checkpoint.py" "$ckpt" 2>/dev/null) || return 1
  sed -n 's/^CKPT_UPDATES=//p' <<< "$facts"
}

if [[ $LIST == 1 ]]; then
  for RUN in "${RUNS[@]}"; do
    REL=${RUN#*|}
    if is_done "$REL"; then echo "done    $REL"
    elif AT=$(resume_point "$REL"); then echo "resume  $REL (from update $AT)"
    else echo "pending $REL"; fi
  done
  exit 0
fi

collect() {
  mkdir -p "$OUT/refs"
  local group tgt
  for group in "$OUT"/runs/deen_docs.*; do  # the references of each direction that has runs
    [[ -d $group ]] || continue
    tgt=${group##*-}
    if [[ -f $DATA_ROOT/text/deen_docs/test.raw.$tgt ]]; then
      cp "$DATA_ROOT/text/deen_docs/test.raw.$tgt" "$OUT/refs/deen_docs.test.raw.$tgt"
    fi
  done
  python "$REPO/results/collect.py" "$OUT/runs" --refs "$OUT/refs" --out "$OUT" \
    --title "Measured comparison at CPU scale: softmax baseline vs daGPAM" --note-file "$REPO/results/comparison_note.md"
}
if [[ $COLLECT_ONLY == 1 ]]; then
  [[ -d $OUT/runs ]] || die "$OUT/runs holds no runs yet: run a study first"
  collect; exit 0
fi

# checked before hours of training; one runner per work directory (a second would delete the
# first one's unfinished runs as leftovers)
need_writable_dir "$WORK" "choose a writable --work"
need_writable_dir "$OUT" "choose a writable --out"
hold_lock "$WORK/.lock" "compare.sh"

# ---------------------------------------------------------------- data
for DATASET in deen_docs en_lm; do
  if [[ ! -f $DATA_ROOT/data-bin/$DATASET/PREPARED ]]; then
    echo "compare.sh: preparing $DATASET" >&2
    bash "$REPO/data-prep/prepare-offline.sh" "$DATASET" --data-root "$DATA_ROOT"
  fi
done

# ---------------------------------------------------------------- one run: train, evaluate, keep the logs
run_one() {  # "train.sh args|relative path"
  local args=${1%|*} rel=${1#*|}
  local dir=$WORK/runs/$rel log every=50 at
  # a translation validation (1981 sentences) costs about 8 training updates here
  [[ $rel == deen_docs* ]] && every=100
  log=$WORK/logs/${rel//\//_}.log
  mkdir -p "$(dirname "$log")"
  if at=$(resume_point "$rel"); then
    echo "compare.sh: [$(date +%H:%M:%S)] resume $rel from update $at" >&2
  else
    rm -rf "$dir"   # an earlier attempt with no usable checkpoint, or one of other code
    echo "compare.sh: [$(date +%H:%M:%S)] start $rel" >&2
    mkdir -p "$dir"
    echo "$CODE" > "$dir/.code"
    : > "$log"
  fi
  # shellcheck disable=SC2086
  if ! OMP_NUM_THREADS=$THREADS MKL_NUM_THREADS=$THREADS bash "$SCRIPTS/train.sh" $args \
        --data-root "$DATA_ROOT" --save-root "$WORK/runs" -- \
        --validate-interval-updates $every --save-interval-updates $every --keep-interval-updates 1 \
        --no-epoch-checkpoints >> "$log" 2>&1; then
    echo "compare.sh: [$(date +%H:%M:%S)] FAILED training $rel (log: $log)" >&2; return 1
  fi
  if [[ $rel == deen_docs* ]]; then
    OMP_NUM_THREADS=$THREADS bash "$SCRIPTS/evaluate_translation.sh" "$dir" --checkpoint last \
      --max-len-a 1.2 --max-len-b 10 >> "$log" 2>&1
  else
    OMP_NUM_THREADS=$THREADS bash "$SCRIPTS/evaluate_lm.sh" "$dir" --checkpoint last --context-window 64 >> "$log" 2>&1
  fi || { echo "compare.sh: [$(date +%H:%M:%S)] FAILED evaluating $rel (log: $log)" >&2; return 1; }
  bash "$SCRIPTS/keep_run_logs.sh" "$WORK/runs" "$OUT/runs" "$rel"
  rm -f "$dir"/checkpoint*.pt
  echo "compare.sh: [$(date +%H:%M:%S)] done  $rel -> $OUT/runs/$rel" >&2
}

FAILED=0
for RUN in "${RUNS[@]}"; do
  is_done "${RUN#*|}" && { echo "compare.sh: already done: ${RUN#*|}" >&2; continue; }
  while (( $(jobs -rp | wc -l) >= JOBS )); do wait -n || FAILED=1; done
  run_one "$RUN" &
done
while (( $(jobs -rp | wc -l) > 0 )); do wait -n || FAILED=1; done

collect
[[ $FAILED == 0 ]] || die "some runs failed (see the FAILED lines above); finished runs are kept, re-run to retry the rest"
