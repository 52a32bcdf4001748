"""Make fairseq's checkpoint files safe to load and safe to lose a process over.

1. ``torch.load`` defaults to ``weights_only=True`` (torch >= 2.6, the floor
   setup.py declares), which refuses any class it
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
    torch.serialization.add_safe_globals(list(SAFE_CHECKPOINT_GLOBALS))


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


def refuse_mismatched_attention_weights(model, state_dict) -> None:
    """Raise a RuntimeError saying what differs when ``state_dict``'s daGPAM weights cannot fit
    ``model``: a softmax model's weights, a fixed lambda- against a trainable one (or the reverse),
    lambda- per layer against per head, W- shared against per head. Anything else (sizes,
    architectures) is left to torch's own message."""
    from fairseq_gpam.diagnostics import dagpam_modules

    missing = [k for k in model.state_dict() if k not in state_dict]
    if missing and all(k.endswith(GPAM_ONLY_WEIGHTS) for k in missing) and not any(
        k.endswith(GPAM_ONLY_WEIGHTS) for k in state_dict
    ):
        raise RuntimeError(
            f"the checkpoint has none of the daGPAM weights this model needs ({len(missing)} missing, "
            f"e.g. {missing[0]}): it is a softmax fairseq model (or a daGPAM model of constant lambda- = 0, "
            "which computes the same). Warm-start from it with "
            "`gpam warm-start --baseline CKPT --arch <gpam arch> [--gpam-* flags] --out gpam_init.pt`, "
            "then train with --restore-file gpam_init.pt --reset-optimizer --reset-dataloader --reset-meters"
        )
    differences = []
    for name, module in dagpam_modules(model):
        prefix = name + "." if name else ""
        differences += _lambda_difference(prefix, module, state_dict.get(prefix + "lambdas.theta"))
        differences += _neg_query_difference(prefix, module, state_dict.get(prefix + "neg_query_weight"))
    if differences:
        raise RuntimeError(
            "the checkpoint's daGPAM settings differ from this model's: " + "; ".join(differences[:3])
            + (f" (and {len(differences) - 3} more)" if len(differences) > 3 else "")
            + ". Build the model with the checkpoint's --gpam-* flags to load it"
        )


def _lambda_mode_of(theta) -> str:
    return "fixed" if theta is None else ("layer" if theta.numel() == 1 else "head")


def _lambda_difference(prefix: str, module, saved_theta):
    saved, own = _lambda_mode_of(saved_theta), _lambda_mode_of(module.lambdas.theta)
    if saved == own:
        return []
    describe = {"fixed": "a fixed lambda-", "layer": "one trainable lambda- per module",
                "head": "a trainable lambda- per head"}
    return [f"{prefix}lambdas: the checkpoint has {describe[saved]} (--gpam-lambda-mode {saved}), "
            f"this model {describe[own]} (--gpam-lambda-mode {own})"]


def _neg_query_difference(prefix: str, module, saved_weight):
    own = module.neg_query_weight
    if own is None or saved_weight is None:
        # no W- in the model: a constant lambda- = 0 (an unused saved W- is dropped on load);
        # no W- in the checkpoint: it was saved at lambda- = 0, this model has lambda- > 0
        return [] if own is None else [
            f"{prefix}neg_query_weight: the checkpoint has no W- (it was trained with a constant "
            f"--gpam-lambda-neg 0), this model has lambda- > 0 (--gpam-lambda-neg {module.options.lambda_neg})"]
    if saved_weight.shape[1:] != own.shape[1:] or saved_weight.size(0) == own.size(0):
        return []  # the same sharing, or another head size: torch names the size mismatch
    sharing = {1: "module"}
    saved, mine = (sharing.get(int(w.size(0)), "head") for w in (saved_weight, own))
    return [f"{prefix}neg_query_weight: the checkpoint has W- per {saved} (--gpam-neg-query-sharing {saved}), "
            f"this model per {mine} (--gpam-neg-query-sharing {mine})"]
