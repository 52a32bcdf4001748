"""Your own corpus: the softmax baseline against daGPAM (fixed lambda- = 0.2, lambda+ = 1.2) on any prepared
dataset, several seeds side by side, then the table.

    gpam prepare custom --name mine.es-en --src es --tgt en --train corpus/all --split 2000,2000
    gpam study own-corpus --dataset mine.es-en --seeds 1,2,3
    less results/own/mine.es-en/summary.md

The dataset's prep-info.json says whether it is translation or language modelling; the model is the
--preset's (cpu: sized for a 2-core CPU; tiny: a pipeline check; full: the published recipe).
"""

from gpam_tools.run.recipes import PRESETS
from gpam_tools.study import DAGPAM_FIXED, DAGPAM_LAYER, SOFTMAX, Part, Study


def study(dataset: str = "", preset: str = "cpu", updates: int = 1000, trainable: bool = False) -> Study:
    """dataset: a prepared dataset (gpam prepare ... --name); preset: cpu, tiny or full; updates per run
    (the run path carries them as tag u<N>); trainable: also daGPAM with lambda- trainable per layer."""
    if not dataset:
        raise ValueError("--dataset is required: the name the dataset was prepared under (gpam prepare ... --name)")
    if preset not in PRESETS:
        raise ValueError(f"--preset must be one of {', '.join(PRESETS)}, not '{preset}'")
    systems = (SOFTMAX, DAGPAM_FIXED) + ((DAGPAM_LAYER,) if trainable else ())
    checks = str(max(1, updates // 5))
    return Study(
        name="own-corpus", title=f"softmax baseline vs daGPAM on {dataset}", seeds=(1, 2, 3), jobs=2,
        out=f"results/own/{dataset}", work=f"work/own/{dataset}",
        parts=(Part(name="main", datasets=(dataset,), systems=systems,
                    run={"preset": preset, "max_update": updates, "tag": f"u{updates}",
                         "extra_args": ("--validate-interval-updates", checks, "--save-interval-updates", checks,
                                        "--keep-interval-updates", "1", "--no-epoch-checkpoints")},
                    evaluate={"checkpoint": "last", "max_len_a": 1.2, "max_len_b": 10}),))
