"""The alternatives table: every attention variant (softmax, daGPAM fixed and trainable, NON, NAP, CoDA,
Diff, Cog) in the same deep, narrow pre-LN language model, with identical data, budget and seeds.

The paper (Heo & Choi, Table 1) compares daGPAM with NON, NAP and CoDA on Penn Treebank with a
~15-layer model. Default scale (the first alternatives run, results/analysis/alternatives): 15 layers,
d=64, 4 heads, ffn 256, blocks of 64 tokens, 512 tokens per update, 240 updates, Adam lr 2e-3 with
inverse-sqrt warm-up 50, clip 1.0; test perplexity with a context window of 32. Data: any prepared
language-modelling dataset (default ci_lm, the shipped Wikipedia sample; for PTB `gpam prepare ptb`,
then --dataset ptb). Each variant's table row is its difference from softmax at equal seeds.
The checkpoints stay in work/alternatives/runs (keep_checkpoints) for the per-layer analysis of the
trained models (residual ratio, token cosine, query gradient: gpam_tools/analysis).
"""

from gpam_tools.study import DAGPAM_FIXED, DAGPAM_LAYER, SOFTMAX, Part, Study, System

VARIANTS = (SOFTMAX, DAGPAM_FIXED, DAGPAM_LAYER) + tuple(System(v) for v in ("non", "nap", "coda", "diff", "cog"))


def study(dataset: str = "ci_lm", layers: int = 15, dim: int = 64, heads: int = 4, updates: int = 240,
          max_tokens: int = 512, tokens_per_sample: int = 64, lr: float = 2e-3, warmup: int = 50,
          context_window: int = 32) -> Study:
    """The deep, narrow model and its budget (the same for every variant); the run path carries them as
    the tag L<layers>d<dim>u<updates>."""
    model = ("--decoder-layers", str(layers), "--decoder-embed-dim", str(dim),
             "--decoder-ffn-embed-dim", str(4 * dim), "--decoder-attention-heads", str(heads))
    budget = ("--tokens-per-sample", str(tokens_per_sample), "--max-tokens", str(max_tokens), "--lr", str(lr),
              "--warmup-updates", str(warmup), "--clip-norm", "1.0", "--no-epoch-checkpoints")
    return Study(
        name="alternatives", title=f"Alternatives at CPU scale: {layers}-layer LM, every attention variant",
        out="results/alternatives", work="work/alternatives", seeds=(1, 2), jobs=2, keep_checkpoints=True,
        parts=(Part(name="deep-lm", datasets=(dataset,), systems=VARIANTS,
                    run={"preset": "cpu", "max_update": updates, "tag": f"L{layers}d{dim}u{updates}",
                         "extra_args": model + budget},
                    evaluate={"checkpoint": "last", "context_window": context_window}),))
