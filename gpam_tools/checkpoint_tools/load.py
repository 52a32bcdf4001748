"""Read a checkpoint without running code from it.

``torch.load(..., weights_only=True)`` unpickles only tensors, plain containers and
the classes allow-listed with ``torch.serialization.add_safe_globals``; fairseq's
checkpoints need one, ``argparse.Namespace``
(``fairseq_gpam.checkpoint_compat.allow_fairseq_checkpoint_globals``). A pickled
object that would call a function on load (``__reduce__``) is refused with an
``UnpicklingError`` before anything runs.
"""

from pathlib import Path
from typing import Any, Union

import torch


def load_checkpoint_state(path: Union[str, Path]) -> Any:
    """The unpickled content of ``path`` on the CPU, tensors and fairseq's Namespace only."""
    from fairseq_gpam.checkpoint_compat import allow_fairseq_checkpoint_globals

    allow_fairseq_checkpoint_globals()
    return torch.load(path, map_location="cpu", weights_only=True)
