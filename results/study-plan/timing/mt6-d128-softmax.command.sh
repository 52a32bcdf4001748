#!/usr/bin/env bash
# usage: bash results/study-plan/timing/mt6-d128-softmax.command.sh   (from the repository root, after
#        gpam prepare deen_docs; rewrites mt6-d128-softmax.log and mt6-d128-softmax.json beside this file)
# A timing run of results/study-plan.md section 10 (first run on 2026-12-03, plugin of commit cc189a6).
set -euo pipefail
OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 gpam throughput --log results/study-plan/timing/mt6-d128-softmax.log \
  --json results/study-plan/timing/mt6-d128-softmax.json -- fairseq-train "${DATA_ROOT:-work}"/data-bin/deen_docs --user-dir fairseq_gpam --task translation --source-lang de --target-lang en --arch transformer --encoder-layers 6 --decoder-layers 6 --encoder-embed-dim 128 --decoder-embed-dim 128 --encoder-ffn-embed-dim 512 --decoder-ffn-embed-dim 512 --encoder-attention-heads 4 --decoder-attention-heads 4 --share-all-embeddings --encoder-normalize-before --decoder-normalize-before --criterion gpam_label_smoothed_cross_entropy --dropout 0.1 --weight-decay 0.0001 --label-smoothing 0.1 --max-tokens 4096 --update-freq 1 --optimizer adam --adam-betas '(0.9,0.98)' --clip-norm 0.0 --lr 2e-3 --lr-scheduler inverse_sqrt --warmup-updates 100 --warmup-init-lr 1e-07 --max-update 20 --num-workers 0 --log-format json --log-interval 5 --no-progress-bar --disable-validation --no-save --seed 1
