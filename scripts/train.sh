#!/usr/bin/env bash
# Train a baseline (fairseq's own softmax Transformer) or a daGPAM model on a prepared
# benchmark, with fairseq's published recipe ("full") or a scaled-down CPU recipe.
#
#   scripts/train.sh BENCHMARK [options] [-- extra fairseq-train args]
#
# Every run goes to $SAVE_ROOT/<dataset>[.<src>-<tgt>]/<model>-<ln>ln[-<tag>]/<system>/seed<N>/
# and leaves there: train.log (tee'd), command.sh (the exact fairseq-train command),
# train.sh (a copy of this script), run-info.json (scale and hardware), the checkpoints.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SCRIPTS=$REPO/scripts
USER_DIR=$REPO/fairseq_gpam
BENCHMARKS="iwslt14.de-en wmt14.en-de wikitext-103 ptb ci_deen deen_docs ci_lm en_lm"

usage() {
  cat <<EOF
usage: scripts/train.sh BENCHMARK [options] [-- extra fairseq-train args]

BENCHMARK (a dataset prepared by data-prep/): ${BENCHMARKS// /, }

what to train
  --attention softmax|dagpam   softmax = fairseq's own architecture (baseline); dagpam = gpam_ architecture (default dagpam)
  --preset full|cpu|tiny       full = the benchmark's published fairseq recipe (GPU scale, default);
                               cpu = scaled-down model and schedule for a 2-core CPU; tiny = test-sized
  --model NAME                 full-size variant: iwslt (translation default), base|big (wmt14), lm|lm8 (language models)
  --ln pre|post                pre-LN or post-LN (default post for full/tiny translation, pre for cpu; LMs are pre-LN only)
  --src L --tgt L              translation direction (default: the dataset's order)
daGPAM (refused with --attention softmax)
  --lambda-neg X               lambda- (default 0.2); lambda+ = 1 + lambda-
  --lambda-mode fixed|layer|head   fixed, or trainable per layer / per head (default fixed)
  --lambda-max X               bound of a trainable lambda- (default 1.0)
schedule and runs
  --seeds 1,2,3                one run per seed, in turn (default 1)
  --max-update N               override the recipe's number of updates
  --dry-run                    full-size model, a few updates (default 3) on small batches, nothing saved
where
  --data-root DIR              prepared data (default \$DATA_ROOT or <repo>/work)
  --save-root DIR              runs (default \$SAVE_ROOT or <repo>/work/runs)
  --tag NAME                   appended to the run's directory name
  --tensorboard                also log to <run>/tensorboard (needs: pip install tensorboard)
  -h, --help
EOF
}

die() { echo "train.sh: error: $*" >&2; exit 2; }
# shellcheck source=scripts/output_guard.sh
source "$SCRIPTS/output_guard.sh"

# ---------------------------------------------------------------- options
BENCHMARK=""
ATTENTION=dagpam
PRESET=full
MODEL=""
LN=""
SRC=""
TGT=""
LAMBDA_NEG=""
LAMBDA_MODE=""
LAMBDA_MAX=""
SEEDS=1
MAX_UPDATE=""
DRY_RUN=0
DATA_ROOT=${DATA_ROOT:-$REPO/work}
SAVE_ROOT=${SAVE_ROOT:-$REPO/work/runs}
TAG=""
TENSORBOARD=0
EXTRA=()

need() { [[ $# -ge 2 && -n "$2" ]] || die "option $1 needs a value (see --help)"; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --attention) need "$@"; ATTENTION=$2; shift 2 ;;
    --preset) need "$@"; PRESET=$2; shift 2 ;;
    --model) need "$@"; MODEL=$2; shift 2 ;;
    --ln) need "$@"; LN=$2; shift 2 ;;
    --src) need "$@"; SRC=$2; shift 2 ;;
    --tgt) need "$@"; TGT=$2; shift 2 ;;
    --lambda-neg) need "$@"; LAMBDA_NEG=$2; shift 2 ;;
    --lambda-mode) need "$@"; LAMBDA_MODE=$2; shift 2 ;;
    --lambda-max) need "$@"; LAMBDA_MAX=$2; shift 2 ;;
    --seeds|--seed) need "$@"; SEEDS=$2; shift 2 ;;
    --max-update) need "$@"; MAX_UPDATE=$2; shift 2 ;;
    --dry-run) DRY_RUN=1; shift ;;
    --data-root) need "$@"; DATA_ROOT=$2; shift 2 ;;
    --save-root) need "$@"; SAVE_ROOT=$2; shift 2 ;;
    --tag) need "$@"; TAG=$2; shift 2 ;;
    --tensorboard) TENSORBOARD=1; shift ;;
    --) shift; EXTRA=("$@"); break ;;
    -*) die "unknown option $1 (see --help; fairseq-train options go after --)" ;;
    *) [[ -z $BENCHMARK ]] || die "one benchmark at a time: got '$BENCHMARK' and '$1'"; BENCHMARK=$1; shift ;;
  esac
done

# ---------------------------------------------------------------- validate before any work
[[ -n $BENCHMARK ]] || { usage >&2; die "no BENCHMARK given"; }
[[ " $BENCHMARKS " == *" $BENCHMARK "* ]] || \
  die "unknown benchmark '$BENCHMARK'; choose one of: ${BENCHMARKS// /, }"
case "$ATTENTION" in softmax|dagpam) ;; *) die "--attention must be softmax or dagpam, not '$ATTENTION'" ;; esac
case "$PRESET" in full|cpu|tiny) ;; *) die "--preset must be full, cpu or tiny, not '$PRESET'" ;; esac
[[ $SEEDS =~ ^[0-9]+(,[0-9]+)*$ ]] || die "--seeds must be a comma-separated list of integers, not '$SEEDS'"
[[ -z $MAX_UPDATE || $MAX_UPDATE =~ ^[0-9]+$ ]] || die "--max-update must be an integer, not '$MAX_UPDATE'"
if [[ $ATTENTION == softmax && -n "$LAMBDA_NEG$LAMBDA_MODE$LAMBDA_MAX" ]]; then
  die "--lambda-* options apply to --attention dagpam only; drop them for the softmax baseline"
fi
LAMBDA_NEG=${LAMBDA_NEG:-0.2}
LAMBDA_MODE=${LAMBDA_MODE:-fixed}
LAMBDA_MAX=${LAMBDA_MAX:-1.0}
case "$LAMBDA_MODE" in fixed|layer|head) ;; *) die "--lambda-mode must be fixed, layer or head, not '$LAMBDA_MODE'" ;; esac

DATA_BIN=$DATA_ROOT/data-bin/$BENCHMARK
DATA_FACTS=$(python "$SCRIPTS/gpam_data.py" "$DATA_BIN" ${SRC:+--src "$SRC"} ${TGT:+--tgt "$TGT"}) || exit 2
eval "$DATA_FACTS"   # TASK, DATASET, SRC, TGT (translation), TRAIN_LINES, ...

case "$BENCHMARK" in
  wmt14.en-de) FAMILY=wmt ;;
  iwslt14.de-en|ci_deen|deen_docs) FAMILY=iwslt ;;
  *) FAMILY=lm ;;
esac
[[ $TASK == translation && $FAMILY != lm ]] || [[ $TASK == language_modeling && $FAMILY == lm ]] || \
  die "$DATA_BIN holds $TASK data, which benchmark '$BENCHMARK' does not expect; re-run its data-prep script with --force"

case "$FAMILY" in
  iwslt) MODEL=${MODEL:-iwslt}; MODELS="iwslt" ;;
  wmt) MODEL=${MODEL:-base}; MODELS="base big" ;;
  lm) MODEL=${MODEL:-lm}; MODELS="lm lm8" ;;
esac
[[ " $MODELS " == *" $MODEL "* ]] || die "--model $MODEL does not exist for $BENCHMARK; choose one of: $MODELS"
if [[ $PRESET != full ]]; then   # cpu and tiny have one model size each
  [[ $MODEL == "${MODELS%% *}" ]] || die "--model $MODEL is a full-size model; drop --preset $PRESET or --model"
  MODEL=$PRESET
fi

if [[ $FAMILY == lm ]]; then
  [[ -z $LN || $LN == pre ]] || die "--ln post is not available for language models (fairseq's transformer_lm forces pre-LN); drop --ln"
  LN=pre
else
  [[ -n $LN ]] || { [[ $PRESET == cpu ]] && LN=pre || LN=post; }
  case "$LN" in pre|post) ;; *) die "--ln must be pre or post, not '$LN'" ;; esac
fi

if [[ $TENSORBOARD == 1 ]]; then
  python -c "import torch.utils.tensorboard" 2>/dev/null || python -c "import tensorboardX" 2>/dev/null || \
    die "--tensorboard needs the tensorboard package: pip install tensorboard"
fi

# ---------------------------------------------------------------- the recipe
# ARCH_BASE is fairseq's architecture; daGPAM runs the same one with the gpam_ prefix.
MODEL_FLAGS=()   # architecture and its size
OPTIM_FLAGS=()   # optimiser and learning-rate schedule
BATCH_FLAGS=()   # batch size, length of training
REG_FLAGS=()     # dropout, weight decay, label smoothing
if [[ $FAMILY != lm ]]; then
  case "$MODEL" in
    iwslt)  # fairseq examples/translation, IWSLT'14 German-English
      ARCH_BASE=transformer_iwslt_de_en
      MODEL_FLAGS=(--share-decoder-input-output-embed)
      OPTIM_FLAGS=(--optimizer adam --adam-betas '(0.9,0.98)' --clip-norm 0.0
                   --lr 5e-4 --lr-scheduler inverse_sqrt --warmup-updates 4000 --warmup-init-lr 1e-07)
      BATCH_FLAGS=(--max-tokens 4096 --update-freq 1 --max-update 60000 --keep-last-epochs 5)
      REG_FLAGS=(--dropout 0.3 --weight-decay 0.0001 --label-smoothing 0.1) ;;
    base|big)  # fairseq examples/scaling_nmt; 8 x 4096 tokens per update on one GPU (Vaswani et al. 2017 base: 100k updates, big: 300k)
      if [[ $MODEL == base ]]; then
        ARCH_BASE=transformer_wmt_en_de; LR=7e-4; DROPOUT=0.1; UPDATES=100000
      else
        ARCH_BASE=transformer_vaswani_wmt_en_de_big; LR=5e-4; DROPOUT=0.3; UPDATES=300000
      fi
      MODEL_FLAGS=(--share-all-embeddings)
      OPTIM_FLAGS=(--optimizer adam --adam-betas '(0.9,0.98)' --clip-norm 0.0
                   --lr $LR --lr-scheduler inverse_sqrt --warmup-updates 4000 --warmup-init-lr 1e-07)
      BATCH_FLAGS=(--max-tokens 4096 --update-freq 8 --max-update $UPDATES --keep-last-epochs 10)
      REG_FLAGS=(--dropout $DROPOUT --weight-decay 0.0 --label-smoothing 0.1) ;;
    cpu)  # scaled down for 2 CPU cores (the offline demo's model): 2+2 layers, d=256
      ARCH_BASE=transformer
      MODEL_FLAGS=(--encoder-layers 2 --decoder-layers 2 --encoder-embed-dim 256 --decoder-embed-dim 256
                   --encoder-ffn-embed-dim 1024 --decoder-ffn-embed-dim 1024
                   --encoder-attention-heads 4 --decoder-attention-heads 4 --share-all-embeddings)
      OPTIM_FLAGS=(--optimizer adam --adam-betas '(0.9,0.98)' --clip-norm 0.0
                   --lr 2e-3 --lr-scheduler inverse_sqrt --warmup-updates 100 --warmup-init-lr 1e-07)
      BATCH_FLAGS=(--max-tokens 4096 --update-freq 1 --max-update 400 --num-workers 0)
      REG_FLAGS=(--dropout 0.1 --weight-decay 0.0001 --label-smoothing 0.1) ;;
    tiny)  # tests: fairseq's transformer_tiny (2+2 layers, d=64), no dropout
      ARCH_BASE=transformer_tiny
      OPTIM_FLAGS=(--optimizer adam --adam-betas '(0.9,0.98)' --lr 1e-3 --lr-scheduler inverse_sqrt --warmup-updates 10)
      BATCH_FLAGS=(--max-tokens 2048 --update-freq 1 --max-update 20 --num-workers 0)
      REG_FLAGS=(--dropout 0.0 --label-smoothing 0.1) ;;
  esac
  CRITERION=gpam_label_smoothed_cross_entropy
  TASK_FLAGS=(--task translation --source-lang "$SRC" --target-lang "$TGT")
  [[ $LN == pre ]] && MODEL_FLAGS+=(--encoder-normalize-before --decoder-normalize-before)
else
  case "$MODEL" in
    lm|lm8)  # fairseq examples/language_model, transformer_lm on WikiText-103; lm8 = 8 decoder layers
      ARCH_BASE=transformer_lm
      MODEL_FLAGS=(--share-decoder-input-output-embed)
      [[ $MODEL == lm8 ]] && MODEL_FLAGS+=(--decoder-layers 8)
      OPTIM_FLAGS=(--optimizer adam --adam-betas '(0.9,0.98)' --clip-norm 0.0
                   --lr 5e-4 --lr-scheduler inverse_sqrt --warmup-updates 4000 --warmup-init-lr 1e-07)
      BATCH_FLAGS=(--tokens-per-sample 512 --sample-break-mode none --max-tokens 2048 --update-freq 16
                   --max-update 50000)
      REG_FLAGS=(--dropout 0.1 --weight-decay 0.01) ;;
    cpu)  # scaled down for 2 CPU cores: 2 layers, d=256, 128-token samples
      ARCH_BASE=transformer_lm
      MODEL_FLAGS=(--decoder-layers 2 --decoder-embed-dim 256 --decoder-ffn-embed-dim 1024
                   --decoder-attention-heads 4 --share-decoder-input-output-embed)
      OPTIM_FLAGS=(--optimizer adam --adam-betas '(0.9,0.98)' --clip-norm 0.0
                   --lr 2e-3 --lr-scheduler inverse_sqrt --warmup-updates 100 --warmup-init-lr 1e-07)
      BATCH_FLAGS=(--tokens-per-sample 128 --sample-break-mode none --max-tokens 4096 --update-freq 1
                   --max-update 300 --num-workers 0)
      REG_FLAGS=(--dropout 0.1 --weight-decay 0.01) ;;
    tiny)  # tests: 2 layers, d=64, no dropout
      ARCH_BASE=transformer_lm
      MODEL_FLAGS=(--decoder-layers 2 --decoder-embed-dim 64 --decoder-ffn-embed-dim 128
                   --decoder-attention-heads 2 --share-decoder-input-output-embed)
      OPTIM_FLAGS=(--optimizer adam --adam-betas '(0.9,0.98)' --lr 1e-3 --lr-scheduler inverse_sqrt --warmup-updates 10)
      BATCH_FLAGS=(--tokens-per-sample 64 --sample-break-mode none --max-tokens 1024 --update-freq 1
                   --max-update 20 --num-workers 0)
      REG_FLAGS=(--dropout 0.0) ;;
  esac
  CRITERION=gpam_cross_entropy
  TASK_FLAGS=(--task language_modeling)
fi

# The system under test: fairseq's architecture, or the same one with daGPAM attention.
if [[ $ATTENTION == softmax ]]; then
  ARCH=$ARCH_BASE
  GPAM_FLAGS=()
  SYSTEM=softmax
else
  ARCH=gpam_$ARCH_BASE
  GPAM_FLAGS=(--gpam-attention dagpam --gpam-lambda-neg "$LAMBDA_NEG" --gpam-lambda-mode "$LAMBDA_MODE"
              --gpam-lambda-max "$LAMBDA_MAX")
  SYSTEM=dagpam-$LAMBDA_MODE$LAMBDA_NEG
fi

LOG_INTERVAL=100
[[ $PRESET == full ]] || LOG_INTERVAL=10
if [[ $DRY_RUN == 1 ]]; then
  # keep the full-size model and flags; small batches, a few updates, no checkpoint written
  BATCH_FLAGS+=(--max-tokens 1024 --update-freq 1 --max-valid-steps 2 --no-save --num-workers 0)
  [[ $FAMILY == lm ]] && BATCH_FLAGS+=(--max-tokens 1024)
  MAX_UPDATE=${MAX_UPDATE:-3}
  LOG_INTERVAL=1
fi
[[ -n $MAX_UPDATE ]] && BATCH_FLAGS+=(--max-update "$MAX_UPDATE")

RUN_GROUP=$DATASET
[[ $TASK == translation ]] && RUN_GROUP=$DATASET.$SRC-$TGT
RUN_NAME=$MODEL-${LN}ln
[[ $DRY_RUN == 1 ]] && RUN_NAME=dryrun-$MODEL-${LN}ln
[[ -n $TAG ]] && RUN_NAME=$RUN_NAME-$TAG

# ---------------------------------------------------------------- one run per seed
for SEED in ${SEEDS//,/ }; do
  SAVE_DIR=$SAVE_ROOT/$RUN_GROUP/$RUN_NAME/$SYSTEM/seed$SEED
  if [[ -f $SAVE_DIR/checkpoint_last.pt ]]; then
    # resuming: the checkpoint must be this model on this data, or fairseq fails deep inside loading
    python "$SCRIPTS/gpam_checkpoint.py" "$SAVE_DIR/checkpoint_last.pt" --arch "$ARCH" --data "$DATA_BIN" >/dev/null || \
      die "$SAVE_DIR holds a checkpoint of another model (see above); pick another --tag or --save-root"
  fi
  need_writable_dir "$SAVE_DIR" "choose a writable --save-root (now $SAVE_ROOT)"
  hold_lock "$SAVE_DIR/.lock" "train.sh"

  CMD=(fairseq-train "$DATA_BIN" --user-dir "$USER_DIR"
       "${TASK_FLAGS[@]}"
       --arch "$ARCH" "${MODEL_FLAGS[@]}" "${GPAM_FLAGS[@]}"
       --criterion "$CRITERION" "${REG_FLAGS[@]}"
       "${OPTIM_FLAGS[@]}"
       "${BATCH_FLAGS[@]}"
       --seed "$SEED" --save-dir "$SAVE_DIR"
       --log-format json --log-interval "$LOG_INTERVAL" --no-progress-bar)
  [[ $TENSORBOARD == 1 ]] && CMD+=(--tensorboard-logdir "$SAVE_DIR/tensorboard")
  CMD+=("${EXTRA[@]}")

  # the exact command, this script, and the run's scale, beside the checkpoints
  printf '%q ' "${CMD[@]}" > "$SAVE_DIR/command.sh.tmp" && echo >> "$SAVE_DIR/command.sh.tmp"
  mv "$SAVE_DIR/command.sh.tmp" "$SAVE_DIR/command.sh"
  cp "${BASH_SOURCE[0]}" "$SAVE_DIR/train.sh"
  python "$SCRIPTS/gpam_runinfo.py" "$SAVE_DIR/run-info.json" \
    --set benchmark="$BENCHMARK" dataset="$DATASET" task="$TASK" src="${SRC:-}" tgt="${TGT:-}" \
          preset="$PRESET" model="$MODEL" ln="$LN" attention="$ATTENTION" system="$SYSTEM" \
          lambda_neg="$LAMBDA_NEG" lambda_mode="$LAMBDA_MODE" lambda_max="$LAMBDA_MAX" \
          seed="$SEED" tag="$TAG" dry_run="$DRY_RUN" train_lines="$TRAIN_LINES" data_bin="$DATA_BIN" \
    -- "${CMD[@]}"

  echo "train.sh: $SYSTEM seed $SEED -> $SAVE_DIR" >&2
  "${CMD[@]}" 2>&1 | tee -a "$SAVE_DIR/train.log"
done
