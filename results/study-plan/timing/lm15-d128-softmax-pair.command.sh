#!/usr/bin/env bash
# usage: bash results/study-plan/timing/lm15-d128-softmax-pair.command.sh & bash results/study-plan/timing/lm15-d128-dagpam-pair.command.sh; wait
#        (from the repository root, after gpam prepare en_lm; rewrites lm15-d128-softmax-pair.log and lm15-d128-softmax-pair.json beside this file)
# A timing run of results/study-plan.md section 11 (session 2, 2026-12-03): the 15-layer pre-LN LM of the deep
# study (d=128), side by side with its partner as the study's pairs run, 50 updates. The 8- and 15-layer pairs
# give the cost of the alternatives part's 15-layer runs relative to the LM pilot's 8-layer ones.
set -euo pipefail
OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 gpam throughput --log results/study-plan/timing/lm15-d128-softmax-pair.log \
  --json results/study-plan/timing/lm15-d128-softmax-pair.json -- fairseq-train "${DATA_ROOT:-work}"/data-bin/en_lm --user-dir fairseq_gpam --task language_modeling --arch transformer_lm --decoder-layers 15 --decoder-embed-dim 128 --decoder-input-dim 128 --decoder-output-dim 128 --decoder-ffn-embed-dim 512 --decoder-attention-heads 4 --decoder-normalize-before --share-decoder-input-output-embed --criterion gpam_cross_entropy --dropout 0.1 --weight-decay 0.01 --tokens-per-sample 128 --sample-break-mode none --max-tokens 4096 --update-freq 1 --optimizer adam --adam-betas '(0.9,0.98)' --clip-norm 0.0 --lr 1e-3 --lr-scheduler inverse_sqrt --warmup-updates 400 --warmup-init-lr 1e-07 --max-update 50 --num-workers 0 --log-format json --log-interval 5 --no-progress-bar --disable-validation --no-save --seed 1
