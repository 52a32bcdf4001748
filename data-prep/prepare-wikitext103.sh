#!/usr/bin/env bash
# WikiText-103 (v1, tokenised by its authors: wiki.*.tokens) for word-level language modelling,
# as in fairseq's language-model example: no further processing, then
# fairseq-preprocess --only-source with the full vocabulary (267k types).
#
# Source: the dataset author's mirror of wikitext-103-v1.zip (the original S3 link is dead),
# checked against the SHA-256 and MD5 published for that zip (see dataprep/sources.py).
set -euo pipefail

DATASET=wikitext-103
TASK=language_modeling
SCRIPT_NAME=prepare-wikitext103.sh
DP_ACCEPTS="download"
USAGE="usage: bash data-prep/$SCRIPT_NAME [options]
Writes \$DATA_ROOT/text/$DATASET/{train,valid,test}.txt and \$DATA_ROOT/data-bin/$DATASET/ (DATA_ROOT default: <repo>/work).
  data:      --archive FILE        use a local wikitext-103-v1.zip instead of downloading it
             --archive-dir DIR     look for wikitext-103-v1.zip in DIR
             --sha256 HEX          accept a zip with this SHA-256 instead of the pinned one
             --offline             never download; --timeout S  download timeout (default 10)
  run:       --data-root DIR  --workers N  --force (rebuild even if prepared)"

source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
dp_parse_args "$@"
dp_begin
dp_fetch

dp_log "step: extract wiki.{train,valid,test}.tokens"
dp_py extract --dataset "$DATASET" --sources "$WORK/sources.json" --out "$STAGE_TEXT"
dp_binarize_lm
dp_info --langs en --tokenizer "wikitext (tokenised by its authors)" \
  --recipe "fairseq examples/language_model: wiki.*.tokens as is, fairseq-preprocess --only-source, full vocabulary"
dp_publish
