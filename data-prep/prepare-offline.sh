#!/usr/bin/env bash
# The real text shipped in data-prep/corpora/ (works offline; see data-prep/NOTICE):
#   ci_deen    2,000/200/200 German-English pairs (tests, the quick demo)
#   deen_docs  108k/2.0k/1.5k German-English pairs of Debian documentation
#   ci_lm      Wikipedia articles, 54k/4.9k/2.7k words (tests, the quick demo)
#   en_lm      4.5M words of English running text, split here by document
# German-English follows the IWSLT14 recipe (Moses tokenisation, lowercase, joint BPE sized for
# the corpus) without its cleaning step (the corpus was length-ratio filtered when it was built).
# English LM: WikiText-style Moses tokens (hyphens as @-@, no escaping, cased), then BPE learned
# on train (word-level would leave ~30% of ci_lm's valid/test words unknown: its articles share
# few rare words); perplexity is therefore per BPE token, not per word.
set -euo pipefail

TASK=""
SCRIPT_NAME=prepare-offline.sh
CI_DEEN_BPE=2000        # joint BPE merges for 2,000 pairs
DEEN_DOCS_BPE=8000      # joint BPE merges for 108k pairs
CI_LM_BPE=2000          # BPE merges for 54k words of Wikipedia
EN_LM_BPE=8000          # BPE merges for 4.5M words (a CPU-sized softmax)
EN_LM_VALID_FRAC=0.025  # en_lm: share of each source's words in valid / test (whole documents)
EN_LM_TEST_FRAC=0.025
EN_LM_SEED=1
DP_ACCEPTS="bpe"
USAGE="usage: bash data-prep/$SCRIPT_NAME {ci_deen,deen_docs,ci_lm,en_lm} [options]
Writes \$DATA_ROOT/text/<name>/ and \$DATA_ROOT/data-bin/<name>/ (DATA_ROOT default: <repo>/work).
  recipe:    --bpe subword_nmt|sentencepiece (default subword_nmt)
             --bpe-size N (defaults: ci_deen $CI_DEEN_BPE, deen_docs $DEEN_DOCS_BPE, ci_lm $CI_LM_BPE, en_lm $EN_LM_BPE)
  run:       --data-root DIR  --workers N  --force (rebuild even if prepared)"

DATASET="${1:-}"
case "$DATASET" in
  ci_deen|deen_docs) TASK=translation; SRC=de; TGT=en
                     [[ "$DATASET" == ci_deen ]] && BPE_SIZE=$CI_DEEN_BPE || BPE_SIZE=$DEEN_DOCS_BPE ;;
  ci_lm|en_lm) TASK=language_modeling; SRC=en
               [[ "$DATASET" == ci_lm ]] && BPE_SIZE=$CI_LM_BPE || BPE_SIZE=$EN_LM_BPE ;;
  -h|--help) echo "$USAGE"; exit 0 ;;
  "") echo "$USAGE" >&2; echo "ERROR: name the corpus to prepare: ci_deen, deen_docs, ci_lm or en_lm" >&2; exit 2 ;;
  *) echo "$USAGE" >&2
     echo "ERROR: unknown offline dataset '$DATASET': choose ci_deen, deen_docs, ci_lm or en_lm (the benchmarks have their own scripts: prepare-iwslt14.sh, prepare-wmt14.sh, prepare-wikitext103.sh, prepare-ptb.sh)" >&2
     exit 2 ;;
esac
shift

source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
CORPORA="$DP_HERE/corpora"
SCRIPT_NAME="prepare-offline.sh $DATASET"
dp_parse_args "$@"
dp_begin

RAW="$WORK/raw"
TOK="$WORK/tok"
mkdir -p "$RAW" "$TOK"
dp_log "step: copy (and check) the shipped corpus"
dp_py extract --dataset "$DATASET" --corpora "$CORPORA" --sources "$WORK/sources.json" --out "$RAW"

if [[ "$TASK" == translation ]]; then
  if [[ "$BPE" == subword_nmt ]]; then TOKENIZER=moses; else TOKENIZER=none; fi
  dp_log "step: tokenise ($TOKENIZER) and lowercase"
  for l in "$SRC" "$TGT"; do
    dp_py tokenize --lang "$l" --method "$TOKENIZER" --lowercase --workers "$WORKERS" \
      "$RAW/train.$l" "$TOK/train.$l" "$RAW/valid.$l" "$TOK/valid.$l" "$RAW/test.$l" "$TOK/test.$l"
    dp_py tokenize --lang "$l" --method none --lowercase "$RAW/test.$l" "$STAGE_TEXT/test.raw.$l"
  done
  dp_subword "$TOK" "$STAGE_TEXT" "$SRC" "$TGT"
  dp_binarize_translation
  dp_info --langs "$SRC,$TGT" --tokenizer "$TOKENIZER" --lowercase --bpe "$BPE" --bpe-size "$BPE_SIZE" \
    --bpe-model "$BPE_MODEL" \
    --recipe "IWSLT14-style: tokenise, lowercase, joint $BPE $BPE_SIZE (no cleaning: the corpus is length-ratio filtered already)"
else
  EXTRA_INFO=()
  if [[ "$DATASET" == en_lm ]]; then
    dp_log "step: split by document (valid $EN_LM_VALID_FRAC, test $EN_LM_TEST_FRAC of each source, seed $EN_LM_SEED)"
    SOURCES=()
    for f in "$RAW"/*.txt; do SOURCES+=("$(basename "$f" .txt)=$f"); done
    mkdir -p "$WORK/split"
    dp_py lm-split --out-prefix "$WORK/split/" --valid-frac "$EN_LM_VALID_FRAC" --test-frac "$EN_LM_TEST_FRAC" \
      --seed "$EN_LM_SEED" --stats-json "$WORK/split-stats.json" "${SOURCES[@]}"
    mv "$WORK/split/"{train,valid,test}.txt "$RAW/"
    EXTRA_INFO=(--extra-json "split=$WORK/split-stats.json")
  fi
  if [[ "$BPE" == subword_nmt ]]; then TOKENIZER=moses; else TOKENIZER=none; fi
  dp_log "step: tokenise ($TOKENIZER, WikiText-style, cased)"
  dp_py tokenize --lang en --method "$TOKENIZER" --no-escape --aggressive-dash --workers "$WORKERS" \
    "$RAW/train.txt" "$TOK/train.txt" "$RAW/valid.txt" "$TOK/valid.txt" "$RAW/test.txt" "$TOK/test.txt"
  if [[ "$BPE" == subword_nmt ]]; then BPE_MODEL=bpe.codes; else BPE_MODEL=spm.model; fi
  dp_log "step: learn $BPE ($BPE_SIZE) on train.txt"
  dp_py bpe-learn --method "$BPE" --size "$BPE_SIZE" --model "$STAGE_BIN/$BPE_MODEL" "$TOK/train.txt"
  cp "$STAGE_BIN/$BPE_MODEL" "$STAGE_TEXT/"
  dp_py bpe-apply --method "$BPE" --model "$STAGE_BIN/$BPE_MODEL" --workers "$WORKERS" \
    "$TOK/train.txt" "$STAGE_TEXT/train.txt" "$TOK/valid.txt" "$STAGE_TEXT/valid.txt" \
    "$TOK/test.txt" "$STAGE_TEXT/test.txt"
  dp_binarize_lm
  dp_info --langs en --tokenizer "$TOKENIZER" --bpe "$BPE" --bpe-size "$BPE_SIZE" --bpe-model "$BPE_MODEL" \
    --recipe "WikiText-style tokens (no escaping, @-@), cased, $BPE $BPE_SIZE learned on train$([[ $DATASET == en_lm ]] && echo "; split by document")" \
    "${EXTRA_INFO[@]+"${EXTRA_INFO[@]}"}"
fi
dp_publish
