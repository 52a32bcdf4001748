#!/usr/bin/env bash
# Perplexity of a trained language model on the test set with fairseq-eval-lm. The figure
# depends on the context window and the tokens per sample: both are stated in the output.
#
#   scripts/evaluate_lm.sh RUN_DIR|CHECKPOINT [options] [-- extra fairseq-eval-lm args]
#
# Writes beside the checkpoint: eval-lm.<ckpt>.log (fairseq-eval-lm output) and
# eval-lm.<ckpt>.json (loss, perplexity, context window, tokens per sample).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SCRIPTS=$REPO/scripts
USER_DIR=$REPO/fairseq_gpam

usage() {
  cat <<'EOF'
usage: scripts/evaluate_lm.sh RUN_DIR|CHECKPOINT [options] [-- extra fairseq-eval-lm args]

  --checkpoint best|last|FILE   checkpoint of RUN_DIR to use (default best)
  --data DIR                    prepared data-bin directory (default: what the checkpoint was trained on)
  --subset test|valid           split to score (default test)
  --tokens-per-sample N         length of each scored block (default: the checkpoint's training value)
  --context-window N            tokens of left context carried into each block (default: 25/32 of
                                tokens-per-sample, i.e. 400 for 512 as in fairseq's WikiText-103 recipe)
  --max-tokens N                tokens per batch (default 4096)
  -h, --help
EOF
}

die() { echo "evaluate_lm.sh: error: $*" >&2; exit 2; }
# shellcheck source=scripts/output_guard.sh
source "$SCRIPTS/output_guard.sh"

# ---------------------------------------------------------------- options
TARGET=""
CHECKPOINT=best
DATA=""
SUBSET=test
TOKENS_PER_SAMPLE=""
CONTEXT_WINDOW=""
MAX_TOKENS=4096
EXTRA=()

need() { [[ $# -ge 2 && -n "$2" ]] || die "option $1 needs a value (see --help)"; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --checkpoint) need "$@"; CHECKPOINT=$2; shift 2 ;;
    --data) need "$@"; DATA=$2; shift 2 ;;
    --subset) need "$@"; SUBSET=$2; shift 2 ;;
    --tokens-per-sample) need "$@"; TOKENS_PER_SAMPLE=$2; shift 2 ;;
    --context-window) need "$@"; CONTEXT_WINDOW=$2; shift 2 ;;
    --max-tokens) need "$@"; MAX_TOKENS=$2; shift 2 ;;
    --) shift; EXTRA=("$@"); break ;;
    -*) die "unknown option $1 (see --help; fairseq-eval-lm options go after --)" ;;
    *) [[ -z $TARGET ]] || die "one run or checkpoint at a time: got '$TARGET' and '$1'"; TARGET=$1; shift ;;
  esac
done

# ---------------------------------------------------------------- validate before any work
[[ -n $TARGET ]] || { usage >&2; die "no RUN_DIR or CHECKPOINT given"; }
[[ -e $TARGET ]] || die "$TARGET does not exist; pass a run directory written by scripts/train.sh or a checkpoint file"
case "$SUBSET" in test|valid) ;; *) die "--subset must be test or valid, not '$SUBSET'" ;; esac
if [[ -d $TARGET ]]; then
  RUN_DIR=$(cd "$TARGET" && pwd)
  case "$CHECKPOINT" in best|last) CKPT=$RUN_DIR/checkpoint_$CHECKPOINT.pt ;; *) CKPT=$CHECKPOINT ;; esac
else
  CKPT=$TARGET
  RUN_DIR=$(cd "$(dirname "$CKPT")" && pwd)
fi

CKPT_FACTS=$(python "$SCRIPTS/gpam_checkpoint.py" "$CKPT" --task language_modeling) || exit 2
eval "$CKPT_FACTS"
TRAINED=$(python - "$CKPT" <<'EOF'
import sys, torch
from fairseq_gpam.checkpoint_compat import allow_fairseq_checkpoint_globals
allow_fairseq_checkpoint_globals()
task = torch.load(sys.argv[1], map_location="cpu", weights_only=True)["cfg"]["task"]
get = (lambda k: task.get(k, "")) if isinstance(task, dict) else (lambda k: getattr(task, k, ""))
print(f"TRAINED_DATA={get('data')} TRAINED_TPS={get('tokens_per_sample')}")
EOF
)
eval "$TRAINED"
DATA=${DATA:-$TRAINED_DATA}
DATA=${DATA%/}
[[ -n $DATA ]] || die "$CKPT does not say which data it was trained on; pass --data DIR"
DATA_FACTS=$(python "$SCRIPTS/gpam_data.py" "$DATA" --task language_modeling) || exit 2
eval "$DATA_FACTS"
python "$SCRIPTS/gpam_checkpoint.py" "$CKPT" --data "$DATA" >/dev/null || exit 2

TOKENS_PER_SAMPLE=${TOKENS_PER_SAMPLE:-$TRAINED_TPS}
[[ $TOKENS_PER_SAMPLE =~ ^[0-9]+$ ]] || die "--tokens-per-sample must be a number, not '$TOKENS_PER_SAMPLE'"
CONTEXT_WINDOW=${CONTEXT_WINDOW:-$(( TOKENS_PER_SAMPLE * 25 / 32 ))}
[[ $CONTEXT_WINDOW =~ ^[0-9]+$ && $CONTEXT_WINDOW -lt $TOKENS_PER_SAMPLE ]] || \
  die "--context-window must be a number below --tokens-per-sample ($TOKENS_PER_SAMPLE), not '$CONTEXT_WINDOW'"
NAME=$(basename "$CKPT" .pt)
[[ $SUBSET == test ]] || NAME=$NAME.$SUBSET

# ---------------------------------------------------------------- score, beside the checkpoint
need_writable_dir "$RUN_DIR" "the scores are written beside the checkpoint: copy the run directory somewhere writable"
hold_lock "$RUN_DIR/.eval.lock" "evaluation"
LOG=$RUN_DIR/eval-lm.$NAME.log
CMD=(fairseq-eval-lm "$DATA" --user-dir "$USER_DIR" --path "$CKPT" --gen-subset "$SUBSET"
     --tokens-per-sample "$TOKENS_PER_SAMPLE" --context-window "$CONTEXT_WINDOW"
     --max-tokens "$MAX_TOKENS" --required-batch-size-multiple 1 --num-workers 0
     "${EXTRA[@]}")
echo "evaluate_lm.sh: $DATASET $SUBSET perplexity of $CKPT (tokens per sample $TOKENS_PER_SAMPLE, context window $CONTEXT_WINDOW)" >&2
"${CMD[@]}" > "$LOG.tmp" 2>&1 || { tail -20 "$LOG.tmp" >&2; die "fairseq-eval-lm failed (log: $LOG.tmp)"; }
python - "$LOG.tmp" "$RUN_DIR/eval-lm.$NAME.json" <<EOF || exit 2
import json, os, re, sys
text = open(sys.argv[1]).read()
loss = re.search(r"Loss \(base 2\): ([0-9.]+), Perplexity: ([0-9.]+)", text)
tokens = re.search(r"Evaluated ([0-9,]+) tokens", text)
if not loss or not tokens:
    sys.exit("evaluate_lm.sh: error: no loss/perplexity line in " + sys.argv[1] + "; see that log")
result = {
    "checkpoint": "$NAME", "dataset": "$DATASET", "subset": "$SUBSET", "arch": "$CKPT_ARCH",
    "params": $CKPT_PARAMS, "updates": ${CKPT_UPDATES:-None},
    "loss_base2": float(loss.group(1)), "perplexity": float(loss.group(2)),
    "tokens_scored": int(tokens.group(1).replace(",", "")),
    "tokens_per_sample": $TOKENS_PER_SAMPLE, "context_window": $CONTEXT_WINDOW,
}
tmp = sys.argv[2] + ".tmp"
with open(tmp, "w") as f:
    json.dump(result, f, indent=2, sort_keys=True)
    f.write("\n")
os.replace(tmp, sys.argv[2])
print(f"{result['dataset']} {result['subset']} perplexity {result['perplexity']:.2f} "
      f"(loss {result['loss_base2']:.4f} bits/token over {result['tokens_scored']} tokens; "
      f"tokens per sample {result['tokens_per_sample']}, context window {result['context_window']})")
EOF
mv "$LOG.tmp" "$LOG"
