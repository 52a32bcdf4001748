#!/usr/bin/env bash
# Translate the test set with a trained checkpoint and score it the ways the field reports:
# tokenized BLEU (fairseq-generate --remove-bpe), detokenised sacreBLEU with its signature,
# compound-split BLEU for WMT En-De. Optionally averages the last N checkpoints first.
#
#   scripts/evaluate_translation.sh RUN_DIR|CHECKPOINT [options] [-- extra fairseq-generate args]
#
# Writes beside the checkpoint: generate.<ckpt>.test.txt (fairseq-generate output),
# hyps.<ckpt>.test.detok.<tgt> (detokenised hypotheses), eval-translation.<ckpt>.json (the scores).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SCRIPTS=$REPO/scripts
USER_DIR=$REPO/fairseq_gpam

usage() {
  cat <<'EOF'
usage: scripts/evaluate_translation.sh RUN_DIR|CHECKPOINT [options] [-- extra fairseq-generate args]

which model
  --checkpoint best|last|FILE   checkpoint of RUN_DIR to use (default best)
  --average N                   average the newest N epoch/update checkpoints of RUN_DIR first
which data (default: what the checkpoint was trained on)
  --data DIR                    prepared data-bin directory (<data-root>/data-bin/<dataset>)
  --src L --tgt L               direction (default: the checkpoint's)
decoding
  --beam N                      beam size (default 5)
  --lenpen X                    length penalty (default 1.0; WMT recipes use 0.6 with beam 4)
  --batch-size N                sentences per batch (default 64)
  --max-len-a A --max-len-b B   output length limit a*src_len+b (default fairseq's 0 and 200)
  --compound-split yes|no|auto  also report compound-split BLEU (default auto: for WMT En-De data)
  -h, --help
EOF
}

die() { echo "evaluate_translation.sh: error: $*" >&2; exit 2; }
# shellcheck source=scripts/output_guard.sh
source "$SCRIPTS/output_guard.sh"

# ---------------------------------------------------------------- options
TARGET=""
CHECKPOINT=best
AVERAGE=0
DATA=""
SRC=""
TGT=""
BEAM=5
LENPEN=1.0
BATCH_SIZE=64
MAX_LEN_A=0
MAX_LEN_B=200
COMPOUND=auto
EXTRA=()

need() { [[ $# -ge 2 && -n "$2" ]] || die "option $1 needs a value (see --help)"; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --checkpoint) need "$@"; CHECKPOINT=$2; shift 2 ;;
    --average) need "$@"; AVERAGE=$2; shift 2 ;;
    --data) need "$@"; DATA=$2; shift 2 ;;
    --src) need "$@"; SRC=$2; shift 2 ;;
    --tgt) need "$@"; TGT=$2; shift 2 ;;
    --beam) need "$@"; BEAM=$2; shift 2 ;;
    --lenpen) need "$@"; LENPEN=$2; shift 2 ;;
    --batch-size) need "$@"; BATCH_SIZE=$2; shift 2 ;;
    --max-len-a) need "$@"; MAX_LEN_A=$2; shift 2 ;;
    --max-len-b) need "$@"; MAX_LEN_B=$2; shift 2 ;;
    --compound-split) need "$@"; COMPOUND=$2; shift 2 ;;
    --) shift; EXTRA=("$@"); break ;;
    -*) die "unknown option $1 (see --help; fairseq-generate options go after --)" ;;
    *) [[ -z $TARGET ]] || die "one run or checkpoint at a time: got '$TARGET' and '$1'"; TARGET=$1; shift ;;
  esac
done

# ---------------------------------------------------------------- validate before any work
[[ -n $TARGET ]] || { usage >&2; die "no RUN_DIR or CHECKPOINT given"; }
[[ -e $TARGET ]] || die "$TARGET does not exist; pass a run directory written by scripts/train.sh or a checkpoint file"
[[ $AVERAGE =~ ^[0-9]+$ ]] || die "--average must be a number of checkpoints, not '$AVERAGE'"
case "$COMPOUND" in yes|no|auto) ;; *) die "--compound-split must be yes, no or auto" ;; esac
if [[ -d $TARGET ]]; then
  RUN_DIR=$(cd "$TARGET" && pwd)
  case "$CHECKPOINT" in
    best|last) CKPT=$RUN_DIR/checkpoint_$CHECKPOINT.pt ;;
    *) CKPT=$CHECKPOINT ;;
  esac
else
  [[ $AVERAGE == 0 ]] || die "--average needs a run directory, not a checkpoint file"
  CKPT=$TARGET
  RUN_DIR=$(cd "$(dirname "$CKPT")" && pwd)
fi

# the checkpoint: a translation model; its data and direction are the defaults
CKPT_FACTS=$(python "$SCRIPTS/gpam_checkpoint.py" "$CKPT" --task translation) || exit 2
eval "$CKPT_FACTS"
if [[ -z $DATA ]]; then
  DATA=$(python - "$CKPT" <<'EOF'
import sys, torch
from fairseq_gpam.checkpoint_compat import allow_fairseq_checkpoint_globals
allow_fairseq_checkpoint_globals()
cfg = torch.load(sys.argv[1], map_location="cpu", weights_only=True)["cfg"]["task"]
print(cfg.get("data", "") if isinstance(cfg, dict) else getattr(cfg, "data", ""))
EOF
  )
  [[ -n $DATA ]] || die "$CKPT does not say which data it was trained on; pass --data DIR"
fi
DATA=${DATA%/}
SRC=${SRC:-$CKPT_SRC}
TGT=${TGT:-$CKPT_TGT}
DATA_FACTS=$(python "$SCRIPTS/gpam_data.py" "$DATA" --task translation --src "$SRC" --tgt "$TGT") || exit 2
eval "$DATA_FACTS"   # TASK, DATASET, SRC, TGT, BPE, TOKENIZER, TEST_LINES
python "$SCRIPTS/gpam_checkpoint.py" "$CKPT" --data "$DATA" --src "$SRC" --tgt "$TGT" >/dev/null || exit 2

RAW_REF=$(dirname "$(dirname "$DATA")")/text/$(basename "$DATA")/test.raw.$TGT
[[ -s $RAW_REF ]] || die "raw test references $RAW_REF are missing (needed for sacreBLEU); re-run the dataset's data-prep script with --force"
REF_LINES=$(wc -l < "$RAW_REF")
[[ -z $TEST_LINES || $TEST_LINES == "$REF_LINES" ]] || \
  die "$RAW_REF has $REF_LINES lines but prep-info.json counts $TEST_LINES test lines; re-run the data-prep script with --force"

if [[ $COMPOUND == auto ]]; then
  [[ $DATASET == wmt14.en-de && $TGT == de ]] && COMPOUND=yes || COMPOUND=no
fi
case "$BPE" in
  sentencepiece) REMOVE_BPE=(--remove-bpe sentencepiece) ;;
  subword_nmt) REMOVE_BPE=(--remove-bpe) ;;
  *) REMOVE_BPE=() ;;
esac

# ---------------------------------------------------------------- outputs go beside the checkpoint
need_writable_dir "$RUN_DIR" "the scores are written beside the checkpoint: copy the run directory somewhere writable"
hold_lock "$RUN_DIR/.eval.lock" "evaluation"

# ---------------------------------------------------------------- optional checkpoint averaging
if [[ $AVERAGE -gt 0 ]]; then
  AVG=$RUN_DIR/checkpoint_avg$AVERAGE.pt
  python "$SCRIPTS/average_checkpoints.py" --last "$AVERAGE" --out "$AVG" "$RUN_DIR" || exit 2
  CKPT=$AVG
fi
NAME=$(basename "$CKPT" .pt)

# ---------------------------------------------------------------- translate and score
OUT=$RUN_DIR/generate.$NAME.test.txt
CMD=(fairseq-generate "$DATA" --user-dir "$USER_DIR"
     --task translation --source-lang "$SRC" --target-lang "$TGT" --gen-subset test
     --path "$CKPT"
     --beam "$BEAM" --lenpen "$LENPEN" --max-len-a "$MAX_LEN_A" --max-len-b "$MAX_LEN_B"
     "${REMOVE_BPE[@]}"
     --batch-size "$BATCH_SIZE" --required-batch-size-multiple 1   # fairseq's default 8 drops the last partial batch
     "${EXTRA[@]}")
echo "evaluate_translation.sh: translating $REF_LINES sentences of $DATASET ($SRC->$TGT) with $CKPT" >&2
"${CMD[@]}" > "$OUT.tmp" 2> "$OUT.log" || { tail -20 "$OUT.log" >&2; rm -f "$OUT.tmp"; die "fairseq-generate failed (log: $OUT.log)"; }

SCORE_ARGS=(--ref "$RAW_REF" --tokenizer "$TOKENIZER" --lang "$TGT"
            --out "$RUN_DIR/eval-translation.$NAME.json" --detok-hyps "$RUN_DIR/hyps.$NAME.test.detok.$TGT")
[[ $COMPOUND == yes ]] && SCORE_ARGS+=(--compound-split)
python "$SCRIPTS/score_translation.py" "$OUT.tmp" "${SCORE_ARGS[@]}" \
  --set checkpoint="$NAME" dataset="$DATASET" src="$SRC" tgt="$TGT" beam="$BEAM" lenpen="$LENPEN" \
        averaged="$AVERAGE" arch="$CKPT_ARCH" bpe="$BPE" tokenizer="$TOKENIZER" \
  --set-count params="$CKPT_PARAMS" updates="$CKPT_UPDATES" \
  || { rm -f "$OUT.tmp"; exit 2; }
mv "$OUT.tmp" "$OUT"
printf '%q ' "${CMD[@]}" > "$RUN_DIR/generate.$NAME.command.sh"
