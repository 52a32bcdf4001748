"""Read what a fairseq checkpoint was trained as, and refuse one that does not fit.

    python scripts/gpam_checkpoint.py CHECKPOINT [--task translation] [--data DATA_BIN]
                                      [--arch ARCH] [--src de --tgt en]

prints shell assignments (``CKPT_ARCH=...``, ``CKPT_TASK=...``, ``CKPT_PARAMS=...``,
``CKPT_UPDATES=...``) when the checkpoint fits, else a message naming the problem and the
fix, with exit status 2. Only the checkpoint's config and tensor shapes are looked at.
"""

import argparse
import shlex
import sys
from pathlib import Path

import torch

from fairseq_gpam.checkpoint_compat import allow_fairseq_checkpoint_globals


class CheckpointError(Exception):
    """The checkpoint cannot be used as asked; the message says why and what to do."""


def _get(section, name, default=None):
    if section is None:
        return default
    if isinstance(section, dict):
        return section.get(name, default)
    return getattr(section, name, default)


def load_state(path: Path) -> dict:
    """The checkpoint's state dict (tensors on CPU), loaded with torch's safe loader."""
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist; train first (scripts/train.sh) "
                              f"or pass the path of an existing checkpoint")
    allow_fairseq_checkpoint_globals()
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # truncated file, not a torch file, unknown class, ...
        raise CheckpointError(f"{path} cannot be read as a fairseq checkpoint ({err.__class__.__name__}: "
                              f"{str(err).splitlines()[0][:200]}); pass a checkpoint written by fairseq-train") from None
    if not isinstance(state, dict) or "model" not in state:
        raise CheckpointError(f"{path} is not a fairseq checkpoint (no 'model' entry); "
                              f"pass a checkpoint written by fairseq-train")
    return state


# float buffers fairseq saves in a state dict that are not model parameters
_BOOKKEEPING_BUFFERS = {"version", "_float_tensor"}


def describe(state: dict) -> dict:
    """Architecture, task, languages, parameter count and updates of a checkpoint."""
    cfg = state.get("cfg") or {}
    args = state.get("args")
    model_cfg = _get(cfg, "model") or args
    task_cfg = _get(cfg, "task") or args
    arch = _get(model_cfg, "arch") or _get(model_cfg, "_name") or "unknown"
    task = _get(task_cfg, "_name") or _get(args, "task") or "unknown"
    history = state.get("optimizer_history") or [{}]
    num_updates = history[-1].get("num_updates", "")
    epoch = _get((state.get("extra_state") or {}).get("train_iterator"), "epoch", "")
    # tied weights (shared embeddings) are saved once per name but share storage: count them once;
    # fairseq's encoder and decoder save a one-element `version` buffer, which is no parameter
    seen, params = set(), 0
    for name, t in state["model"].items():
        if name.rsplit(".", 1)[-1] in _BOOKKEEPING_BUFFERS:
            continue
        if torch.is_tensor(t) and t.is_floating_point():
            key = (t.untyped_storage().data_ptr(), t.storage_offset(), tuple(t.shape))
            if key not in seen:
                seen.add(key)
                params += t.numel()
    return {
        "CKPT_ARCH": arch,
        "CKPT_TASK": task,
        "CKPT_SRC": _get(task_cfg, "source_lang") or "",
        "CKPT_TGT": _get(task_cfg, "target_lang") or "",
        "CKPT_PARAMS": params,
        "CKPT_UPDATES": num_updates,
        "CKPT_EPOCH": epoch,
    }


def _dict_size(path: Path) -> int:
    """Size of a fairseq dictionary file: its lines plus the 4 special symbols."""
    with open(path, encoding="utf-8") as f:
        return sum(1 for _ in f) + 4


def check(path: Path, task=None, data=None, arch=None, src=None, tgt=None) -> dict:
    state = load_state(path)
    facts = describe(state)
    if task and facts["CKPT_TASK"] != task:
        raise CheckpointError(f"{path} is a {facts['CKPT_TASK']} checkpoint (arch {facts['CKPT_ARCH']}) "
                              f"but this script evaluates {task}; pass a {task} checkpoint")
    if arch and facts["CKPT_ARCH"] != arch:
        raise CheckpointError(f"{path} holds architecture {facts['CKPT_ARCH']}, not the requested {arch}; "
                              f"use a fresh --save-dir (or --tag) for a different model, or ask for "
                              f"--arch {facts['CKPT_ARCH']}")
    if src and tgt and facts["CKPT_SRC"] and (facts["CKPT_SRC"], facts["CKPT_TGT"]) != (src, tgt):
        raise CheckpointError(f"{path} translates {facts['CKPT_SRC']}->{facts['CKPT_TGT']}, not {src}->{tgt}; "
                              f"pass --src {facts['CKPT_SRC']} --tgt {facts['CKPT_TGT']} or the other direction's checkpoint")
    if data:
        model = state["model"]
        if facts["CKPT_TASK"] == "translation" and facts["CKPT_TGT"]:
            checks = [("decoder.embed_tokens.weight", Path(data) / f"dict.{facts['CKPT_TGT']}.txt")]
        else:
            checks = [("decoder.embed_tokens.weight", Path(data) / "dict.txt")]
        for key, dict_path in checks:
            if key in model and dict_path.is_file():
                rows, size = model[key].shape[0], _dict_size(dict_path)
                if rows != size:
                    raise CheckpointError(
                        f"{path} was trained with a {rows}-word vocabulary but {dict_path} has {size} "
                        f"entries: the checkpoint belongs to other data; pass the data directory it "
                        f"was trained on, or a checkpoint trained on {data}")
    return facts


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("--task")
    parser.add_argument("--data")
    parser.add_argument("--arch")
    parser.add_argument("--src")
    parser.add_argument("--tgt")
    args = parser.parse_args(argv)
    try:
        facts = check(args.checkpoint, args.task, args.data, args.arch, args.src, args.tgt)
    except CheckpointError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    for key, value in facts.items():
        print(f"{key}={shlex.quote(str(value))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
