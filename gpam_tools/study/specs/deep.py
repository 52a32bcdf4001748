"""The deep study (results/study-plan.md): softmax against daGPAM on deeper, narrower models.

Parts (runs go seed by seed across the parts named; see the plan for the order they are run in):
  pilot-mt   deen_docs de->en, cpu-deep Transformer (6+6 layers), pre-LN, softmax and daGPAM fixed,
             first seed only, --pilot-mt-updates long, validated every 250 updates: decides --mt-updates
  pilot-lm   en_lm, cpu-deep transformer_lm (8 layers, d=128), the same two systems, first seed only,
             --pilot-lm-updates long, validated every 250 updates: decides --lm-updates
  mt-preln   the primary comparison: deen_docs de->en, cpu-deep, pre-LN, softmax / daGPAM fixed lambda- 0.2
  lm         en_lm, cpu-deep, softmax / daGPAM fixed lambda- 0.2
  mt-layer   deen_docs as mt-preln, daGPAM with lambda- trainable per layer only: its baseline is
             mt-preln's softmax (same run path), so run mt-layer with or after mt-preln
  mt-postln  deen_docs as mt-preln, post-LN (softmax / daGPAM fixed), if compute allows
  alternatives  en_lm, the cpu-deep LM at 15 layers, every attention variant (softmax, daGPAM fixed and
             trainable, NON, NAP, CoDA, Diff, Cog), --lm-updates long (the plan: seeds 1-3)
  shallow    en_lm, the cpu-deep LM at 2 layers, softmax, first seed only: what depth buys, beside the table

Seeds: 1..--seeds-planned (default 10, the primary comparison's, from the plan's power calculation);
the plan gives the LM 8 and the secondary parts 5 (`--seeds 1,2,3,4,5`); a pilot runs the first seed only.
The models (6+6-layer translation, 8-layer LM) are d=128 wide so that a seed's two runs fit side by side in
one 3-hour session (the plan, section 11: pairs of the main parts are not resumed across sessions).
"""

from gpam_tools.study import DAGPAM_FIXED, DAGPAM_LAYER, SOFTMAX, Part, Study
from gpam_tools.study.specs.alternatives import VARIANTS

PRESET = "cpu-deep"
PRIMARY = (SOFTMAX, DAGPAM_FIXED)


def checks(every: int) -> tuple:
    """fairseq-train arguments: validate and save every ``every`` updates, keep one interval checkpoint."""
    return ("--validate-interval-updates", str(every), "--save-interval-updates", str(every),
            "--keep-interval-updates", "1", "--no-epoch-checkpoints")


def study(mt_updates: int = 2500, lm_updates: int = 3000, pilot_mt_updates: int = 2750,
          pilot_lm_updates: int = 3000, seeds_planned: int = 10) -> Study:
    """mt_updates / lm_updates: updates of the main runs (the pilot decides them; the run path carries them
    as tag u<N>); pilot_*_updates: length of the pilot runs; seeds_planned: seeds 1..N of the main parts."""
    if seeds_planned < 5:
        raise ValueError(f"--seeds-planned must be at least 5 (issue 20: >= 5 paired seeds), not {seeds_planned}")
    mt_eval = {"checkpoint": "last", "max_len_a": 1.2, "max_len_b": 10}
    lm_eval = {"checkpoint": "last", "context_window": 64}

    def mt(name, systems, ln, updates, tag, every, seeds="all"):
        return Part(name=name, datasets=("deen_docs",), systems=systems, evaluate=mt_eval, seeds=seeds,
                    run={"preset": PRESET, "ln": ln, "src": "de", "tgt": "en", "max_update": updates,
                         "tag": tag, "extra_args": checks(every)})

    def lm(name, updates, tag, every, seeds="all", systems=PRIMARY, layers=()):
        return Part(name=name, datasets=("en_lm",), systems=systems, evaluate=lm_eval, seeds=seeds,
                    run={"preset": PRESET, "max_update": updates, "tag": tag, "extra_args": checks(every) + layers})

    return Study(
        name="deep", title="Deep study at CPU scale: softmax baseline vs daGPAM (6+6-layer translation, 8-layer LM)",
        out="results/deep", work="work/deep",
        seeds=tuple(range(1, seeds_planned + 1)), jobs=2,
        parts=(mt("pilot-mt", PRIMARY, "pre", pilot_mt_updates, "pilot", 250, seeds="first"),
               lm("pilot-lm", pilot_lm_updates, "pilot", 250, seeds="first"),
               mt("mt-preln", PRIMARY, "pre", mt_updates, f"u{mt_updates}", 250),
               lm("lm", lm_updates, f"u{lm_updates}", 250),
               mt("mt-layer", (DAGPAM_LAYER,), "pre", mt_updates, f"u{mt_updates}", 250),
               mt("mt-postln", PRIMARY, "post", mt_updates, f"u{mt_updates}", 250),
               lm("alternatives", lm_updates, f"L15-u{lm_updates}", 250, systems=VARIANTS,
                  layers=("--decoder-layers", "15")),
               lm("shallow", lm_updates, f"L2-u{lm_updates}", 250, seeds="first", systems=(SOFTMAX,),
                  layers=("--decoder-layers", "2"))),
        default_parts=())
