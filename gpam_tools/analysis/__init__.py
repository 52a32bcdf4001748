"""Analysis tools (commands of ``gpam``):

    per_layer       ``gpam analyze``: per-layer rank collapse, cosine, grad W_q and attention maps of checkpoints
    per_layer_report  the tables and figures of ``gpam analyze``
    depth_study     ``gpam depth-study``: pure-attention stacks vs depth; the softmax Jacobian check (Lemma 3)
    count_params    ``gpam count-params``: parameters of every gpam_ architecture against its baseline
"""
