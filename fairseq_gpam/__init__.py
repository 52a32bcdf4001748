"""fairseq_gpam: daGPAM attention (Heo & Choi, arXiv 2410.15578) as a fairseq plugin.

Used as ``fairseq-train --user-dir fairseq_gpam ...``. Importing the package
registers the ``gpam_`` models and criteria, makes fairseq checkpoints
loadable under PyTorch >= 2.6 and makes fairseq's checkpoint copies atomic.

Layout: ``modules/`` holds the daGPAM math, the one fairseq attention frame
(``attention_frame.py``) and the variants that plug into it (``variants/``: daGPAM
and its peers), ``models/`` the registered architectures, ``criterions/`` the
diagnostics hook.
"""

from fairseq_gpam.checkpoint_compat import allow_fairseq_checkpoint_globals, make_checkpoint_copies_atomic

allow_fairseq_checkpoint_globals()
make_checkpoint_copies_atomic()

from fairseq_gpam import criterions, models  # noqa: E402,F401  (registers with fairseq)

__version__ = "0.1.0"
