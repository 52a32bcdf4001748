"""The offline demo (make demo): softmax against daGPAM on the shipped German-English and English text.

Translation: deen_docs (108k pairs of Debian documentation) de->en, the ``demo`` preset (2+2 layers, d=128,
no dropout, peak lr 5e-3 on 2048-token batches, pre-LN), 800 updates from scratch, greedy decoding of the
whole test set (1,530 sentences). Chosen so that both systems translate within the demo's 15 minutes on
2 CPU cores: a model half as wide costs less than half as much per token, and a high learning rate on
small batches without dropout learns fastest within the first epoch (measured here, greedy decoding:
sacreBLEU 9.9 for softmax after 700 updates, 10.4 for daGPAM after 800, where the cpu preset's 250 updates
of 4096 tokens stay near 1, results/comparison/pilot/). Greedy decoding costs a fraction of beam 5.
No warm start: both systems learn from random initialisation here.
Language model: ci_lm, the cpu preset, 100 updates, beside a unigram model's perplexity.

One seed: the report names no winner and ends with the multi-seed comparison (results/comparison/).
--smoke: tiny models on ci_deen and ci_lm, a check of the pipeline in a few minutes.
"""

from gpam_tools.study import DAGPAM_FIXED, SOFTMAX, Part, Study

TITLE = "Offline demo: softmax baseline vs daGPAM"
# an undertrained model must not decode for minutes
LIMITS = {"checkpoint": "last", "max_len_a": 1.2, "max_len_b": 10}


def report(out, data_root) -> str:
    from gpam_tools.study.demo_report import report as demo_report

    return demo_report(out, data_root)


def study(smoke: bool = False) -> Study:
    """smoke: small corpora, tiny models, a few updates (default: the full demo)."""
    mt_data, mt_preset, mt_updates, beam = ("ci_deen", "tiny", 60, 5) if smoke else ("deen_docs", "demo", 800, 1)
    lm_data, lm_preset, lm_updates = ("ci_lm", "tiny", 40) if smoke else ("ci_lm", "cpu", 100)
    name = "demo-smoke" if smoke else "demo"

    def note(facts):
        wall = int(facts["wall_seconds"])
        seeds = ", ".join(map(str, facts["seeds"]))
        return (
            f"**Scaled-down CPU run of the offline demo (`gpam study demo{' --smoke' if smoke else ''}`), "
            f"seed {seeds}:\nnot a reproduction of the paper.** Translation: {mt_data} German->English, "
            f"{mt_preset}-preset Transformer,\n{mt_updates} updates, beam {beam}. Language model: {lm_data}, "
            f"{lm_preset}-preset Transformer LM, {lm_updates} updates.\nBoth systems have the same size, data, "
            f"updates and seed, trained side by side; model sizes, data and batches are in the scale\ncolumn and "
            f"the per-benchmark files. Wall time of the whole demo (data preparation, training, evaluation):\n"
            f"{wall // 60} min {wall % 60} s on {facts['cores']} CPU cores.\nRegenerate these tables from the "
            f"kept logs (from the repository root):\n`{facts['regenerate']}`\n")

    return Study(
        name=name, title=TITLE, note=note, report=report, out=f"results/{name}", work=f"work/{name}", seeds=(1,),
        fresh=True, jobs=2,
        parts=(
            Part(name="translation", datasets=(mt_data,), systems=(SOFTMAX, DAGPAM_FIXED),
                 evaluate={**LIMITS, "beam": beam},
                 run={"preset": mt_preset, "max_update": mt_updates,
                      "extra_args": ("--validate-interval-updates", str(mt_updates // 4), "--no-epoch-checkpoints")}),
            Part(name="lm", datasets=(lm_data,), systems=(SOFTMAX, DAGPAM_FIXED), evaluate={"checkpoint": "last"},
                 run={"preset": lm_preset, "max_update": lm_updates,
                      "extra_args": ("--validate-interval-updates", str(lm_updates // 4), "--no-epoch-checkpoints")}),
        ))
