# Shared by data-prep/prepare-*.sh (sourced, not run): options, logging, staging and
# publishing according to the data contract:
#   $DATA_ROOT/text/<dataset>/      tokenised (+BPE) text, test.raw.<lang> references
#   $DATA_ROOT/data-bin/<dataset>/  fairseq-preprocess output, prep-info.json, PREPARED (last)
# Both are built in temporary siblings (.<dataset>.tmp.<pid>) and renamed into place at the end,
# data-bin last, so an interrupted run never leaves a directory with PREPARED in it.
#
# A script sets DATASET, TASK, SCRIPT_NAME, USAGE, DP_ACCEPTS and its defaults, then calls
#   dp_parse_args "$@"; dp_begin; dp_fetch; <its text steps>; dp_binarize_*; dp_info ...; dp_publish

DP_HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$DP_HERE/.." && pwd)"
PYTHON="${PYTHON:-python3}"

# ---- option defaults (a script may override before dp_parse_args) ----
ARCHIVES=()          # --archive FILE (repeatable)
ARCHIVE_DIR=""       # --archive-dir DIR
SHA256S=()           # --sha256 [NAME=]HEX (repeatable)
FORCE=0              # --force: rebuild even if PREPARED exists
OFFLINE=0            # --offline: never try to download
TIMEOUT=10           # --timeout SECONDS: connect/read timeout of a download
WORKERS="$(nproc 2>/dev/null || echo 1)"
DATA_ROOT_OPT=""
PAIR=""              # --pair SRC-TGT (translation scripts)
BPE=subword_nmt      # --bpe subword_nmt|sentencepiece (scripts that accept "bpe")
BPE_SIZE="${BPE_SIZE:-}"  # --bpe-size N; each script sets its default before sourcing this file
DP_COMMAND="bash data-prep/${SCRIPT_NAME:-prepare.sh}"

dp_die() { echo "ERROR: $*" >&2; exit 2; }
dp_log() { echo "[$(date +%H:%M:%S)] $*"; }
dp_py() { TQDM_DISABLE=1 PYTHONPATH="$DP_HERE${PYTHONPATH:+:$PYTHONPATH}" "$PYTHON" -m dataprep "$@"; }

dp_usage() { echo "$USAGE"; }

dp_accepts() { [[ " $DP_ACCEPTS " == *" $1 "* ]]; }

# Parse the common options; each script lists the groups it accepts in DP_ACCEPTS
# ("download", "bpe", "pair").
dp_parse_args() {
  local opt
  DP_COMMAND="bash data-prep/$SCRIPT_NAME$(printf ' %q' "$@")"
  while [[ $# -gt 0 ]]; do
    opt="$1"
    case "$opt" in
      -h|--help) dp_usage; exit 0 ;;
      --data-root) DATA_ROOT_OPT="${2:?--data-root needs a directory}"; shift ;;
      --force) FORCE=1 ;;
      --workers) WORKERS="${2:?--workers needs a number}"; shift ;;
      --archive|--archive-dir|--sha256|--timeout|--offline)
        dp_accepts download || dp_die "$opt: $DATASET is built from files shipped in the repo; nothing is downloaded"
        case "$opt" in
          --archive) ARCHIVES+=("${2:?--archive needs a file}"); shift ;;
          --archive-dir) ARCHIVE_DIR="${2:?--archive-dir needs a directory}"; shift ;;
          --sha256) SHA256S+=("${2:?--sha256 needs [NAME=]HEX}"); shift ;;
          --timeout) TIMEOUT="${2:?--timeout needs seconds}"; shift ;;
          --offline) OFFLINE=1 ;;
        esac ;;
      --bpe|--bpe-size)
        dp_accepts bpe || dp_die "$opt: $DATASET is word-level; it takes no BPE options"
        case "$opt" in
          --bpe) BPE="${2:?--bpe needs subword_nmt or sentencepiece}"; shift ;;
          --bpe-size) BPE_SIZE="${2:?--bpe-size needs a number}"; shift ;;
        esac ;;
      --pair)
        dp_accepts pair || dp_die "--pair: $DATASET is a language-modelling corpus"
        PAIR="${2:?--pair needs SRC-TGT}"; shift ;;
      *) echo "$USAGE" >&2; dp_die "unknown option '$opt' (see --help)" ;;
    esac
    shift
  done
  [[ "$WORKERS" =~ ^[1-9][0-9]*$ ]] || dp_die "--workers must be a positive integer, got '$WORKERS'"
  [[ "$TIMEOUT" =~ ^[0-9]+([.][0-9]+)?$ ]] || dp_die "--timeout must be a number of seconds, got '$TIMEOUT'"
  if dp_accepts bpe; then
    [[ "$BPE" == subword_nmt || "$BPE" == sentencepiece ]] \
      || dp_die "--bpe '$BPE' is not supported: choose subword_nmt (fairseq's recipe) or sentencepiece"
    [[ "$BPE_SIZE" =~ ^[1-9][0-9]*$ ]] || dp_die "--bpe-size must be a positive integer, got '$BPE_SIZE'"
  fi
  return 0
}

# The language pair of the data is fixed (SRC-TGT); --pair may name it in either order.
dp_check_pair() {
  [[ -z "$PAIR" || "$PAIR" == "$SRC-$TGT" || "$PAIR" == "$TGT-$SRC" ]] && return 0
  dp_die "--pair $PAIR does not match $DATASET, which is $SRC-$TGT (one binarised directory serves both directions: train with --source-lang/--target-lang in either order)"
}

dp_require_python() {
  command -v "$PYTHON" >/dev/null || dp_die "no '$PYTHON' on PATH: activate the project's environment (source .venv/bin/activate) or set PYTHON=/path/to/python"
  "$PYTHON" - <<'EOF' || dp_die "missing Python packages (above): run  pip install -e .  in the repo (or pip install sacremoses subword-nmt sentencepiece fairseq-fixed)"
import importlib.util, sys
missing = [m for m in ("sacremoses", "subword_nmt", "sentencepiece", "fairseq_cli")
           if importlib.util.find_spec(m) is None]
if missing:
    print("missing:", ", ".join(missing), file=sys.stderr)
    sys.exit(1)
EOF
}

# Idempotence check, lock, log, stale-temp cleanup, staging directories.
dp_begin() {
  DATA_ROOT="${DATA_ROOT_OPT:-${DATA_ROOT:-$REPO_ROOT/work}}"
  TEXT_DIR="$DATA_ROOT/text/$DATASET"
  BIN_DIR="$DATA_ROOT/data-bin/$DATASET"
  if [[ -f "$BIN_DIR/PREPARED" && "$FORCE" == 0 ]]; then
    echo "$DATASET is already prepared in $BIN_DIR (PREPARED exists): nothing to do; --force rebuilds it."
    exit 0
  fi
  dp_require_python
  mkdir -p "$DATA_ROOT/text" "$DATA_ROOT/data-bin" "$DATA_ROOT/logs" "$DATA_ROOT/tmp" \
    || dp_die "cannot create directories under $DATA_ROOT: choose a writable --data-root"
  DATA_ROOT="$(cd "$DATA_ROOT" && pwd)"
  TEXT_DIR="$DATA_ROOT/text/$DATASET"
  BIN_DIR="$DATA_ROOT/data-bin/$DATASET"
  exec 9>"$DATA_ROOT/tmp/.lock-$DATASET"
  if command -v flock >/dev/null; then  # macOS has no flock(1): no guard there (as scripts/output_guard.sh)
    flock -n 9 || dp_die "another preparation of $DATASET is running (lock $DATA_ROOT/tmp/.lock-$DATASET); wait for it to finish"
  fi
  if [[ -f "$BIN_DIR/PREPARED" && "$FORCE" == 0 ]]; then
    echo "$DATASET was prepared by another run meanwhile: nothing to do."
    exit 0
  fi
  # Leftovers of an interrupted run (we hold the lock, so none is in use).
  rm -rf "$DATA_ROOT/text/.$DATASET.tmp."* "$DATA_ROOT/data-bin/.$DATASET.tmp."* "$DATA_ROOT/tmp/$DATASET."*
  STAGE_TEXT="$DATA_ROOT/text/.$DATASET.tmp.$$"
  STAGE_BIN="$DATA_ROOT/data-bin/.$DATASET.tmp.$$"
  WORK="$DATA_ROOT/tmp/$DATASET.$$"
  mkdir -p "$STAGE_TEXT" "$STAGE_BIN" "$WORK"
  LOG="$DATA_ROOT/logs/prepare-$DATASET.log"
  DP_LOG_START=$(stat -c %s "$LOG" 2>/dev/null || echo 0)  # this run's part of the log starts here
  # the tees must not hold the lock (fd 9): they may outlive the script by a moment
  exec > >(exec 9>&-; tee -a "$LOG")
  DP_TEE_OUT=$!
  exec 2> >(exec 9>&-; tee -a "$LOG" >&2)
  DP_TEE_ERR=$!
  trap dp_on_exit EXIT
  dp_log "$DP_COMMAND"
  dp_log "preparing $DATASET -> $TEXT_DIR and $BIN_DIR (log: $LOG)"
  if [[ -d "$BIN_DIR" && ! -f "$BIN_DIR/PREPARED" ]]; then
    dp_log "$BIN_DIR has no PREPARED file (an interrupted run): rebuilding from scratch"
  fi
  SECONDS=0
}

# On exit: remove the staging directories (a failed run leaves nothing behind), then let the
# log tees drain so that every message is out before the shell prompt returns.
dp_on_exit() {
  rm -rf "$STAGE_TEXT" "$STAGE_BIN" "$WORK"
  exec 1>&- 2>&-
  local i
  for i in {1..50}; do  # at most 5 s
    if kill -0 "$DP_TEE_OUT" 2>/dev/null || kill -0 "$DP_TEE_ERR" 2>/dev/null; then sleep 0.1; else break; fi
  done
}

# Find (--archive / --archive-dir / cache) or download, and verify, this dataset's files.
# Writes $WORK/sources.json. Fails before anything under text/ or data-bin/ is touched.
dp_fetch() {
  local args=(--dataset "$DATASET" --script "$SCRIPT_NAME" --cache "$DATA_ROOT/downloads/$DATASET"
              --timeout "$TIMEOUT" --out-json "$WORK/sources.json")
  local a
  for a in "${ARCHIVES[@]+"${ARCHIVES[@]}"}"; do args+=(--archive "$a"); done
  for a in "${SHA256S[@]+"${SHA256S[@]}"}"; do args+=(--sha256 "$a"); done
  [[ -n "$ARCHIVE_DIR" ]] && args+=(--archive-dir "$ARCHIVE_DIR")
  [[ "$OFFLINE" == 1 ]] && args+=(--offline)
  dp_log "step: fetch and verify"
  dp_py fetch "${args[@]}" || exit 2
}

# Joint subword model on the training text of both languages, applied to every split.
# Usage: dp_subword SRC_DIR DEST_DIR LANG1 LANG2 (reads SRC_DIR/{train,valid,test}.LANG)
dp_subword() {
  local from="$1" to="$2" l1="$3" l2="$4" split l model
  if [[ "$BPE" == subword_nmt ]]; then BPE_MODEL=bpe.codes; else BPE_MODEL=spm.model; fi
  model="$STAGE_BIN/$BPE_MODEL"
  dp_log "step: learn joint $BPE ($BPE_SIZE) on train.$l1 + train.$l2"
  dp_py bpe-learn --method "$BPE" --size "$BPE_SIZE" --model "$model" "$from/train.$l1" "$from/train.$l2"
  cp "$model" "$STAGE_TEXT/$BPE_MODEL"
  local files=()
  for split in train valid test; do
    for l in "$l1" "$l2"; do files+=("$from/$split.$l" "$to/$split.$l"); done
  done
  dp_py bpe-apply --method "$BPE" --model "$model" --workers "$WORKERS" "${files[@]}"
}

# fairseq-preprocess workers: its worker pool costs more than it saves on small files (< 10 MB).
dp_bin_workers() {
  if (( $(stat -c %s "$1") < 10000000 )); then echo 1; else echo "$WORKERS"; fi
}

# fairseq-preprocess, translation: one joined dictionary serves both directions.
dp_binarize_translation() {
  dp_log "step: fairseq-preprocess ($SRC-$TGT, joined dictionary)"
  "$PYTHON" -m fairseq_cli.preprocess --source-lang "$SRC" --target-lang "$TGT" \
    --trainpref "$STAGE_TEXT/train" --validpref "$STAGE_TEXT/valid" --testpref "$STAGE_TEXT/test" \
    --destdir "$STAGE_BIN" --joined-dictionary --workers "$(dp_bin_workers "$STAGE_TEXT/train.$SRC")" "$@"
}

# fairseq-preprocess, language modelling (--only-source); extra arguments are passed on.
dp_binarize_lm() {
  dp_log "step: fairseq-preprocess (language modelling, --only-source $*)"
  "$PYTHON" -m fairseq_cli.preprocess --only-source \
    --trainpref "$STAGE_TEXT/train.txt" --validpref "$STAGE_TEXT/valid.txt" --testpref "$STAGE_TEXT/test.txt" \
    --destdir "$STAGE_BIN" --workers "$(dp_bin_workers "$STAGE_TEXT/train.txt")" "$@"
}

# prep-info.json; arguments are passed to `python -m dataprep info` after the common ones.
dp_info() {
  dp_py info --out "$STAGE_BIN/prep-info.json" --dataset "$DATASET" --task "$TASK" \
    --text-dir "$STAGE_TEXT" --bin-dir "$STAGE_BIN" --sources "$WORK/sources.json" \
    --command "$DP_COMMAND" \
    --extra "text_dir=$(dp_json_string "$TEXT_DIR")" --extra "data_bin_dir=$(dp_json_string "$BIN_DIR")" \
    "$@"
}

dp_json_string() { "$PYTHON" -c 'import json, sys; print(json.dumps(sys.argv[1]))' "$1"; }

# Swap the staged directories into place: text first, data-bin (holding PREPARED) last.
dp_publish() {
  tail -c +"$((DP_LOG_START + 1))" "$LOG" > "$STAGE_BIN/prepare.log"
  : > "$STAGE_BIN/PREPARED"
  local old_text="$DATA_ROOT/text/.$DATASET.tmp.old.$$" old_bin="$DATA_ROOT/data-bin/.$DATASET.tmp.old.$$"
  [[ -e "$BIN_DIR" ]] && mv "$BIN_DIR" "$old_bin"   # from here on nothing looks complete
  [[ -e "$TEXT_DIR" ]] && mv "$TEXT_DIR" "$old_text"
  mv "$STAGE_TEXT" "$TEXT_DIR"
  mv "$STAGE_BIN" "$BIN_DIR"
  rm -rf "$old_text" "$old_bin" "$WORK"
  dp_log "done in ${SECONDS}s: $TEXT_DIR and $BIN_DIR"
}
