"""One training run: the recipe table, the run directory and its facts, training, evaluation and scoring.

``run_spec`` is the contract (:class:`RunSpec`, :func:`resolve`, :func:`run_dir`); ``train``,
``evaluate`` and ``eval_lm`` drive fairseq; ``scoring`` computes BLEU; ``fingerprint`` says which code a
run was trained by.
"""
