"""Make fairseq's checkpoint files safe to load and safe to lose a process over.

1. ``torch.load`` now defaults to ``weights_only=True``, which refuses any class it
   was not told about. fairseq checkpoints of argparse-configured models store
   their options as an ``argparse.Namespace``; nothing else in them needs more
   than plain containers and tensors. We allow-list exactly that class, and keep
   the protection on for everything else.
2. fairseq writes the first checkpoint of a save atomically (``.tmp`` file, then
   rename), but makes ``checkpoint_last.pt`` / ``checkpoint_best.pt`` with
   ``PathManager.copy``, i.e. ``shutil.copyfile`` straight onto the old file: a
   process killed during that copy leaves a truncated ``checkpoint_last.pt``, and
   the restarted run cannot resume. We route local copies through a temporary
   file and ``os.replace`` (atomic on POSIX), so the old file stays whole until
   the new one is complete.
"""

import argparse
import os
import shutil

import torch

SAFE_CHECKPOINT_GLOBALS = (argparse.Namespace,)
GPAM_ONLY_WEIGHTS = ("neg_query_weight", "lambdas.theta")  # what daGPAM adds to fairseq's names


def allow_fairseq_checkpoint_globals() -> None:
    """Register the classes fairseq checkpoints hold with ``torch.serialization``."""
    add_safe_globals = getattr(torch.serialization, "add_safe_globals", None)
    if add_safe_globals is not None:  # torch < 2.4 loads everything anyway
        add_safe_globals(list(SAFE_CHECKPOINT_GLOBALS))


def atomic_copy(src_path: str, dst_path: str) -> str:
    """Copy ``src_path`` to ``dst_path`` so that ``dst_path`` is never seen half-written."""
    tmp_path = f"{dst_path}.tmp-copy"
    try:
        shutil.copyfile(src_path, tmp_path)
        os.replace(tmp_path, dst_path)
    finally:
        if os.path.exists(tmp_path):
            os.remove(tmp_path)
    return dst_path


def make_checkpoint_copies_atomic() -> None:
    """Replace ``fairseq.file_io.PathManager.copy`` for local paths by :func:`atomic_copy`."""
    from fairseq.file_io import PathManager

    fairseq_copy = PathManager.copy
    if getattr(fairseq_copy, "gpam_atomic", False):
        return

    def copy(src_path: str, dst_path: str, overwrite: bool = False):
        if PathManager.path_requires_pathmanager(dst_path):  # remote storage: fairseq's own copy
            return fairseq_copy(src_path, dst_path, overwrite=overwrite)
        return atomic_copy(src_path, dst_path)

    copy.gpam_atomic = True
    PathManager.copy = staticmethod(copy)


def refuse_softmax_weights(model, state_dict) -> None:
    """Raise a clear error when ``state_dict`` is a softmax model's: every weight is there
    except the ones daGPAM adds."""
    missing = [k for k in model.state_dict() if k not in state_dict]
    if missing and all(k.endswith(GPAM_ONLY_WEIGHTS) for k in missing):
        raise RuntimeError(
            f"the checkpoint has none of the daGPAM weights this model needs ({len(missing)} missing, "
            f"e.g. {missing[0]}): it is a softmax fairseq model. Warm-start from it with "
            "`python scripts/warm_start.py --baseline CKPT --arch <gpam arch> [--gpam-* flags] --out gpam_init.pt`, "
            "then train with --restore-file gpam_init.pt --reset-optimizer --reset-dataloader --reset-meters"
        )
