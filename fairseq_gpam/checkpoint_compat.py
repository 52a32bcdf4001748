"""Let fairseq's tools load fairseq checkpoints under PyTorch >= 2.6.

``torch.load`` now defaults to ``weights_only=True``, which refuses any class it
was not told about. fairseq checkpoints of argparse-configured models store
their options as an ``argparse.Namespace``; nothing else in them needs more
than plain containers and tensors. We allow-list exactly that class, and keep
the protection on for everything else.
"""

import argparse

import torch

SAFE_CHECKPOINT_GLOBALS = (argparse.Namespace,)


def allow_fairseq_checkpoint_globals() -> None:
    """Register the classes fairseq checkpoints hold with ``torch.serialization``."""
    add_safe_globals = getattr(torch.serialization, "add_safe_globals", None)
    if add_safe_globals is not None:  # torch < 2.4 loads everything anyway
        add_safe_globals(list(SAFE_CHECKPOINT_GLOBALS))
