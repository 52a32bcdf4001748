"""Tools that read and write fairseq checkpoints.

    load          the one way the tools read a checkpoint: ``torch.load(..., weights_only=True)``
    average       ``gpam average-checkpoints``: the parameter mean of a run's last checkpoints
    warm_start    ``gpam warm-start``: a daGPAM model initialised from a softmax baseline
"""
