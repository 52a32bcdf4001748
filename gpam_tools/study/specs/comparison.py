"""The measured comparison on the shipped real text (results/comparison/): softmax against daGPAM with
fixed lambda- = 0.2 and with lambda- trainable per layer (from 0.2), seeds side by side.

Parts (the order of the runs is seed by seed across the parts named):
  mt-preln      deen_docs (de->en unless --mt-direction), cpu-preset Transformer (2+2 layers, d=256), pre-LN
  mt-postln     the same, post-LN
  lm            en_lm, cpu-preset transformer_lm (2 layers, d=256, 128-token samples)
  lambda-sweep  en_lm as in lm, daGPAM fixed lambda- in 0.05 0.1 0.4 0.8 (0.2 comes from lm), first seed only
"""

from gpam_tools.study import DAGPAM_FIXED, DAGPAM_LAYER, SOFTMAX, Part, Study, System

SYSTEMS = (SOFTMAX, DAGPAM_FIXED, DAGPAM_LAYER)
SWEEP = tuple(System("dagpam", lambda_neg=lam, lambda_mode="fixed") for lam in ("0.05", "0.1", "0.4", "0.8"))
# a translation validation (1981 sentences) costs about 8 training updates here: validate less often
MT_CHECKS = ("--validate-interval-updates", "100", "--save-interval-updates", "100", "--keep-interval-updates", "1",
             "--no-epoch-checkpoints")
LM_CHECKS = ("--validate-interval-updates", "50", "--save-interval-updates", "50", "--keep-interval-updates", "1",
             "--no-epoch-checkpoints")


def study(mt_updates: int = 1000, mt_direction: str = "de-en", lm_updates: int = 250) -> Study:
    """mt_updates: updates per translation run (the run path carries it as tag u<N>);
    mt_direction: de-en or en-de (the run path carries it); lm_updates: updates per language-model run."""
    if mt_direction not in ("de-en", "en-de"):
        raise ValueError(f"--mt-direction takes de-en or en-de (the languages of deen_docs), not '{mt_direction}'")
    src, tgt = mt_direction.split("-")
    mt_eval = {"checkpoint": "last", "max_len_a": 1.2, "max_len_b": 10}

    def translation(ln):
        return Part(name=f"mt-{ln}ln", datasets=("deen_docs",), systems=SYSTEMS, evaluate=mt_eval,
                    run={"preset": "cpu", "ln": ln, "src": src, "tgt": tgt, "max_update": mt_updates,
                         "tag": f"u{mt_updates}", "extra_args": MT_CHECKS})

    lm_run = {"preset": "cpu", "max_update": lm_updates, "extra_args": LM_CHECKS}
    lm_eval = {"checkpoint": "last", "context_window": 64}
    return Study(
        name="comparison", title="Measured comparison at CPU scale: softmax baseline vs daGPAM",
        note_file="results/comparison_note.md", out="results/comparison", work="work/comparison",
        seeds=(1, 2, 3), jobs=3,
        parts=(translation("pre"), translation("post"),
               Part(name="lm", datasets=("en_lm",), systems=SYSTEMS, run=lm_run, evaluate=lm_eval),
               Part(name="lambda-sweep", datasets=("en_lm",), systems=SWEEP, run=lm_run, evaluate=lm_eval,
                    seeds="first")),
        default_parts=())
