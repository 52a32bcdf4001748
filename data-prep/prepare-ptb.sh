#!/usr/bin/env bash
# Penn Treebank, Mikolov's language-modelling version (lowercased, 10k words, <unk>, no
# punctuation), for word-level language modelling: ptb.{train,valid,test}.txt as they are, then
# fairseq-preprocess --only-source (the 10k vocabulary plus end-of-sentence).
#
# Source: Zaremba's copy of the three files, checked against the MD5s torchtext publishes for
# them; Mikolov's simple-examples.tgz (which holds the same files) is accepted via --archive.
set -euo pipefail

DATASET=ptb
TASK=language_modeling
SCRIPT_NAME=prepare-ptb.sh
DP_ACCEPTS="download"
USAGE="usage: bash data-prep/$SCRIPT_NAME [options]
Writes \$DATA_ROOT/text/$DATASET/{train,valid,test}.txt and \$DATA_ROOT/data-bin/$DATASET/ (DATA_ROOT default: <repo>/work).
  data:      --archive FILE        simple-examples.tgz, or ptb.train.txt / ptb.valid.txt / ptb.test.txt (repeat)
             --archive-dir DIR     look for those files in DIR
             --sha256 NAME=HEX     accept ptb.<split>.txt with this SHA-256 instead of the pinned MD5
             --offline             never download; --timeout S  download timeout (default 10)
  run:       --data-root DIR  --workers N  --force (rebuild even if prepared)"

source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
dp_parse_args "$@"
dp_begin
dp_fetch

dp_log "step: copy ptb.{train,valid,test}.txt"
dp_py extract --dataset "$DATASET" --sources "$WORK/sources.json" --out "$STAGE_TEXT"
dp_binarize_lm
dp_info --langs en --tokenizer "ptb (Mikolov's preprocessing)" --lowercase \
  --recipe "Mikolov's PTB language-modelling text as is, fairseq-preprocess --only-source"
dp_publish
