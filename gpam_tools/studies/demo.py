"""The offline demo (make demo): softmax against daGPAM on the shipped German-English and English text.

A scaled-down CPU run (--smoke: a pipeline check of a few minutes on tiny models): both attentions
at equal size, data, updates and seed; not a reproduction of the paper's numbers. Every run
starts from scratch and results/demo (results/demo-smoke) is replaced in one step at the end.
"""

from gpam_tools.studies import DAGPAM_FIXED, SOFTMAX, Part, Study

TITLE = "Offline demo: softmax baseline vs daGPAM"
# an undertrained model must not decode for minutes
GENERATION_LIMITS = {"checkpoint": "last", "max_len_a": 1.2, "max_len_b": 10}


def study(smoke: bool = False) -> Study:
    """smoke: small corpora, tiny models, a few updates (default: the full demo)."""
    mt_data, mt_preset, mt_updates = ("ci_deen", "tiny", 60) if smoke else ("deen_docs", "cpu", 150)
    lm_data, lm_preset, lm_updates = ("ci_lm", "tiny", 40) if smoke else ("ci_lm", "cpu", 100)
    name = "demo-smoke" if smoke else "demo"

    def note(facts):
        wall = int(facts["wall_seconds"])
        seeds = ", ".join(map(str, facts["seeds"]))
        return (
            f"**Scaled-down CPU run of the offline demo (`gpam study demo{' --smoke' if smoke else ''}`), "
            f"seed {seeds}:\nnot a reproduction of the paper.** Translation: {mt_data} German->English, "
            f"{mt_preset}-preset Transformer,\n{mt_updates} updates. Language model: {lm_data}, {lm_preset}-preset "
            f"Transformer LM, {lm_updates} updates.\nBoth systems have the same size, data, updates and seed; "
            f"model sizes, data and batches are in the scale\ncolumn and the per-benchmark files. Wall time of "
            f"the whole demo (data preparation, training, evaluation):\n{wall // 60} min {wall % 60} s on "
            f"{facts['cores']} CPU cores.\nRegenerate these tables from the kept logs (from the repository "
            f"root):\n`{facts['regenerate']}`\n")

    return Study(
        name=name, title=TITLE, note=note, out=f"results/{name}", work=f"work/{name}", seeds=(1,), fresh=True,
        parts=(
            Part(name="translation", datasets=(mt_data,), systems=(SOFTMAX, DAGPAM_FIXED), evaluate=GENERATION_LIMITS,
                 run={"preset": mt_preset, "max_update": mt_updates,
                      "extra_args": ("--validate-interval-updates", str(mt_updates // 3), "--no-epoch-checkpoints")}),
            Part(name="lm", datasets=(lm_data,), systems=(SOFTMAX, DAGPAM_FIXED), evaluate={"checkpoint": "last"},
                 run={"preset": lm_preset, "max_update": lm_updates,
                      "extra_args": ("--validate-interval-updates", str(lm_updates // 4), "--no-epoch-checkpoints")}),
        ))
