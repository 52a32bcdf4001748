#!/usr/bin/env bash
# IWSLT14 German-English (TED talks), following the steps of fairseq's prepare-iwslt14.sh:
# Moses tokenisation, clean (1-175 words, ratio 1.5, train only), lowercase, valid = every 23rd
# line of the cleaned train, test = dev2010 + dev2012 + tst2010-2012, joint BPE 10k, binarised
# with a joined dictionary (serves de->en and en->de). Tools come from PyPI (sacremoses,
# subword-nmt), not from git clones.
#
# Source: fairseq's copy of the WIT3 2014-01 de-en.tgz (WIT3's own link is dead). No checksum is
# published for it: pass --sha256 to pin one; the SHA-256 of the file used goes to prep-info.json.
set -euo pipefail

DATASET=iwslt14.de-en
TASK=translation
SCRIPT_NAME=prepare-iwslt14.sh
SRC=de
TGT=en
BPE_SIZE=10000          # joint BPE merges (fairseq's recipe)
CLEAN_RATIO=1.5         # clean-corpus-n settings of the recipe (train only)
CLEAN_MIN=1
CLEAN_MAX=175
VALID_EVERY=23          # valid = every 23rd line of the cleaned train
DP_ACCEPTS="download bpe pair"
USAGE="usage: bash data-prep/$SCRIPT_NAME [options]
Writes \$DATA_ROOT/text/$DATASET/ and \$DATA_ROOT/data-bin/$DATASET/ (DATA_ROOT default: <repo>/work).
  data:      --archive FILE        use a local de-en.tgz instead of downloading it
             --archive-dir DIR     look for de-en.tgz in DIR
             --sha256 HEX          expected SHA-256 of de-en.tgz (none is published)
             --offline             never download; --timeout S  download timeout (default 10)
  recipe:    --bpe subword_nmt|sentencepiece (default subword_nmt)   --bpe-size N (default $BPE_SIZE)
             --pair de-en|en-de    only checked: the binarised data serves both directions
  run:       --data-root DIR  --workers N  --force (rebuild even if prepared)"

source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
dp_parse_args "$@"
dp_check_pair
dp_begin
dp_fetch

RAW="$WORK/raw"
TOK="$WORK/tok"
mkdir -p "$RAW" "$TOK"

dp_log "step: extract train.tags and the IWSLT14 test sets"
dp_py extract --dataset "$DATASET" --sources "$WORK/sources.json" --out "$RAW" --src "$SRC" --tgt "$TGT"

# sentencepiece works on raw text: no Moses tokenisation then (lowercasing stays).
if [[ "$BPE" == subword_nmt ]]; then TOKENIZER=moses; else TOKENIZER=none; fi
dp_log "step: tokenise ($TOKENIZER) and lowercase"
for l in "$SRC" "$TGT"; do
  dp_py tokenize --lang "$l" --method "$TOKENIZER" --lowercase --workers "$WORKERS" \
    "$RAW/train.$l" "$TOK/train.all.$l" "$RAW/test.$l" "$TOK/test.$l"
  # sacreBLEU reference: the untokenised test text, lowercased as the recipe's BLEU is
  dp_py tokenize --lang "$l" --method none --lowercase "$RAW/test.$l" "$STAGE_TEXT/test.raw.$l"
done

dp_log "step: clean train ($CLEAN_MIN-$CLEAN_MAX words, ratio $CLEAN_RATIO); valid = every ${VALID_EVERY}rd line"
dp_py clean --in-prefix "$TOK/train.all" --out-prefix "$TOK/train.clean" --src "$SRC" --tgt "$TGT" \
  --ratio "$CLEAN_RATIO" --min "$CLEAN_MIN" --max "$CLEAN_MAX"
for l in "$SRC" "$TGT"; do
  dp_py split-every --n "$VALID_EVERY" "$TOK/train.clean.$l" "$TOK/train.$l" "$TOK/valid.$l"
done

dp_subword "$TOK" "$STAGE_TEXT" "$SRC" "$TGT"
dp_binarize_translation
dp_info --langs "$SRC,$TGT" --tokenizer "$TOKENIZER" --lowercase --bpe "$BPE" --bpe-size "$BPE_SIZE" \
  --bpe-model "$BPE_MODEL" \
  --recipe "fairseq prepare-iwslt14.sh steps: tokenise, clean 1-$CLEAN_MAX ratio $CLEAN_RATIO, lowercase, valid every ${VALID_EVERY}rd train line, test dev2010+dev2012+tst2010-2012, joint $BPE $BPE_SIZE"
dp_publish
