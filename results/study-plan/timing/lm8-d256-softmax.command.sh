#!/usr/bin/env bash
# usage: bash results/study-plan/timing/lm8-d256-softmax.command.sh   (from the repository root, after
#        gpam prepare en_lm; rewrites lm8-d256-softmax.log and lm8-d256-softmax.json beside this file)
# A timing run of results/study-plan.md section 10 (first run on 2026-12-03, plugin of commit cc189a6).
set -euo pipefail
OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 gpam throughput --log results/study-plan/timing/lm8-d256-softmax.log \
  --json results/study-plan/timing/lm8-d256-softmax.json -- fairseq-train "${DATA_ROOT:-work}"/data-bin/en_lm --user-dir fairseq_gpam --task language_modeling --arch transformer_lm --decoder-layers 8 --decoder-embed-dim 256 --decoder-input-dim 256 --decoder-output-dim 256 --decoder-ffn-embed-dim 1024 --decoder-attention-heads 4 --share-decoder-input-output-embed --criterion gpam_cross_entropy --dropout 0.1 --weight-decay 0.01 --tokens-per-sample 128 --sample-break-mode none --max-tokens 4096 --update-freq 1 --optimizer adam --adam-betas '(0.9,0.98)' --clip-norm 0.0 --lr 2e-3 --lr-scheduler inverse_sqrt --warmup-updates 100 --warmup-init-lr 1e-07 --max-update 20 --num-workers 0 --log-format json --log-interval 5 --no-progress-bar --disable-validation --no-save --seed 1
