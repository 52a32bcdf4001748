"""gpam_tools: the pipeline around the fairseq_gpam plugin.

Data preparation, training, evaluation, studies, results tables, analysis and
benchmarks, behind one command line (``python -m gpam_tools COMMAND --help``, or
the ``gpam`` console script). The layout:

    run/        one training run: recipes, the run directory, train, evaluate, score
    study/      many runs: the study runner and the study specifications (study/specs/)
    prepare/    datasets: benchmarks, shipped corpora, your own corpus
    collect/    tables and plots of a results tree
    stats/      seeds and power, paired differences, throughput, the unigram floor
    analysis/   what the layers of trained models do (rank collapse, gradients, attention)
    bench/      speed and memory against fairseq's softmax; the GPU check
    checkpoint_tools/  loading (weights only), averaging, warm starts

The plugin (``fairseq_gpam``, loaded by
``fairseq-train --user-dir fairseq_gpam``) never imports this package.
"""

from pathlib import Path

# the repository's root: the plugin, the shipped corpora, results/ and work/ are found from here
REPO = Path(__file__).resolve().parents[1]
