#!/usr/bin/env bash
# WMT14 English-German, following fairseq's prepare-wmt14en2de.sh: Europarl v7 + CommonCrawl +
# News Commentary v12 for training; Moses punctuation normalisation and tokenisation (-a), joint
# BPE 40k, pairs of 1-250 subwords with length ratio <= 1.5 kept in train and valid; cased.
# Valid is newstest2013 (as in Vaswani et al.; fairseq's script takes every 100th train line
# instead), test is newstest2014 in full (3003 sentences, "test-full").
#
# Checksums: sacrebleu publishes MD5s of WMT13 test.tgz and WMT14 test-full.tgz (pinned);
# statmt.org publishes none for the training archives: pin them with --sha256 NAME=HEX.
set -euo pipefail

DATASET=wmt14.en-de
TASK=translation
SCRIPT_NAME=prepare-wmt14.sh
SRC=en
TGT=de
BPE_SIZE=40000          # joint BPE merges (fairseq's recipe)
CLEAN_RATIO=1.5         # clean-corpus-n after BPE, train and valid (fairseq's recipe)
CLEAN_MIN=1
CLEAN_MAX=250
DP_ACCEPTS="download bpe pair"
USAGE="usage: bash data-prep/$SCRIPT_NAME [options]
Writes \$DATA_ROOT/text/$DATASET/ and \$DATA_ROOT/data-bin/$DATASET/ (DATA_ROOT default: <repo>/work).
  data:      --archive FILE (repeatable) or --archive-dir DIR with, under their published names:
               training-parallel-europarl-v7.tgz training-parallel-commoncrawl.tgz
               training-parallel-nc-v12.tgz test.tgz (WMT13, newstest2013) test-full.tgz (WMT14)
             --sha256 NAME=HEX     expected SHA-256 of one of them (repeatable)
             --offline             never download; --timeout S  download timeout (default 10)
  recipe:    --bpe subword_nmt|sentencepiece (default subword_nmt)   --bpe-size N (default $BPE_SIZE)
             --pair en-de|de-en    only checked: the binarised data serves both directions
  run:       --data-root DIR  --workers N  --force (rebuild even if prepared)"

source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
dp_parse_args "$@"
dp_check_pair
dp_begin
dp_fetch

RAW="$WORK/raw"
TOK="$WORK/tok"
SUB="$WORK/sub"
mkdir -p "$RAW" "$TOK" "$SUB"

dp_log "step: extract training corpora, newstest2013 and newstest2014"
dp_py extract --dataset "$DATASET" --sources "$WORK/sources.json" --out "$RAW" --src "$SRC" --tgt "$TGT"

if [[ "$BPE" == subword_nmt ]]; then TOKENIZER=moses; else TOKENIZER=none; fi
dp_log "step: normalise punctuation and tokenise ($TOKENIZER, aggressive hyphen splitting)"
for l in "$SRC" "$TGT"; do
  dp_py tokenize --lang "$l" --method "$TOKENIZER" --norm-punct --aggressive-dash --workers "$WORKERS" \
    "$RAW/train.$l" "$TOK/train.$l" "$RAW/valid.$l" "$TOK/valid.$l" "$RAW/test.$l" "$TOK/test.$l"
  # sacreBLEU reference: the untokenised, cased newstest2014 text
  dp_py tokenize --lang "$l" --method none "$RAW/test.$l" "$STAGE_TEXT/test.raw.$l"
done

dp_subword "$TOK" "$SUB" "$SRC" "$TGT"

dp_log "step: clean train and valid after BPE ($CLEAN_MIN-$CLEAN_MAX subwords, ratio $CLEAN_RATIO)"
for split in train valid; do
  dp_py clean --in-prefix "$SUB/$split" --out-prefix "$STAGE_TEXT/$split" --src "$SRC" --tgt "$TGT" \
    --ratio "$CLEAN_RATIO" --min "$CLEAN_MIN" --max "$CLEAN_MAX"
done
cp "$SUB/test.$SRC" "$SUB/test.$TGT" "$STAGE_TEXT/"

dp_binarize_translation
dp_info --langs "$SRC,$TGT" --tokenizer "$TOKENIZER" --bpe "$BPE" --bpe-size "$BPE_SIZE" --bpe-model "$BPE_MODEL" \
  --recipe "fairseq prepare-wmt14en2de.sh steps (europarl v7 + commoncrawl + news-commentary v12): normalise punctuation, tokenise -a, joint $BPE $BPE_SIZE, clean 1-$CLEAN_MAX ratio $CLEAN_RATIO; valid newstest2013, test newstest2014 (full)"
dp_publish
