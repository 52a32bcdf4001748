"""gpam_tools: the pipeline around the fairseq_gpam plugin.

Data preparation, training, evaluation, studies, results tables, analysis and
benchmarks, behind one command line (``python -m gpam_tools COMMAND --help``, or
the ``gpam`` console script). The plugin (``fairseq_gpam``, loaded by
``fairseq-train --user-dir fairseq_gpam``) never imports this package.
"""
