"""What a fairseq checkpoint was trained as, read once in Python, and refusals of one that does not fit.

Loaded with ``torch.load(..., weights_only=True)`` (the plugin allow-lists fairseq's config
classes); only the config and tensor shapes are looked at. The values read (data path, languages,
architecture) are plain Python strings handed to argument lists, never to a shell or ``eval``.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import torch

from fairseq_gpam.checkpoint_compat import allow_fairseq_checkpoint_globals


class CheckpointError(Exception):
    """The checkpoint cannot be used as asked; the message says why and what to do."""


@dataclass(frozen=True)
class CheckpointFacts:
    path: Path
    arch: str
    task: str                      # fairseq task name: translation | language_modeling | ...
    src: str                       # "" for language models
    tgt: str
    data: str                      # cfg.task.data: the data-bin directory it was trained on ("" if unknown)
    tokens_per_sample: Optional[int]
    params: int                    # floating-point parameters, tied weights counted once
    updates: Optional[int]
    epoch: Optional[int]


def _get(section, name, default=None):
    if section is None:
        return default
    if isinstance(section, dict):
        return section.get(name, default)
    return getattr(section, name, default)


def _text(value) -> str:
    return value if isinstance(value, str) else ""


def _int(value) -> Optional[int]:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def load_state(path: Path) -> dict:
    """The checkpoint's state dict (tensors on CPU), loaded with torch's safe loader."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist; pass a run directory written by "
                              f"scripts/train.sh (gpam train) or the path of an existing checkpoint")
    allow_fairseq_checkpoint_globals()
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # truncated file, not a torch file, a class outside the allow-list, ...
        first = (str(err).splitlines() or [""])[0][:200]
        raise CheckpointError(f"{path} cannot be read as a fairseq checkpoint ({err.__class__.__name__}: "
                              f"{first}); pass a checkpoint written by fairseq-train") from None
    if not isinstance(state, dict) or not isinstance(state.get("model"), dict):
        raise CheckpointError(f"{path} is not a fairseq checkpoint (no 'model' entry); "
                              f"pass a checkpoint written by fairseq-train")
    return state


# float buffers fairseq saves in a state dict that are not model parameters
_BOOKKEEPING_BUFFERS = {"version", "_float_tensor"}


def describe(path: Path, state: dict) -> CheckpointFacts:
    cfg = state.get("cfg") or {}
    args = state.get("args")
    model_cfg = _get(cfg, "model") or args
    task_cfg = _get(cfg, "task") or args
    history = state.get("optimizer_history") or [{}]
    last = history[-1] if isinstance(history, list) and isinstance(history[-1], dict) else {}
    extra = state.get("extra_state") if isinstance(state.get("extra_state"), dict) else {}
    # tied weights (shared embeddings) are saved once per name but share storage: count them once;
    # fairseq's encoder and decoder save a one-element `version` buffer, which is no parameter
    seen, params = set(), 0
    for name, t in state["model"].items():
        if str(name).rsplit(".", 1)[-1] in _BOOKKEEPING_BUFFERS:
            continue
        if torch.is_tensor(t) and t.is_floating_point():
            key = (t.untyped_storage().data_ptr(), t.storage_offset(), tuple(t.shape))
            if key not in seen:
                seen.add(key)
                params += t.numel()
    return CheckpointFacts(
        path=Path(path),
        arch=_text(_get(model_cfg, "arch")) or _text(_get(model_cfg, "_name")) or "unknown",
        task=_text(_get(task_cfg, "_name")) or _text(_get(args, "task")) or "unknown",
        src=_text(_get(task_cfg, "source_lang")), tgt=_text(_get(task_cfg, "target_lang")),
        data=_text(_get(task_cfg, "data")), tokens_per_sample=_int(_get(task_cfg, "tokens_per_sample")),
        params=params, updates=_int(last.get("num_updates")),
        epoch=_int(_get(extra.get("train_iterator"), "epoch")),
    )


def _dict_size(path: Path) -> int:
    """Size of a fairseq dictionary file: its lines plus the 4 special symbols."""
    with open(path, encoding="utf-8") as f:
        return sum(1 for _ in f) + 4


def check(path, task=None, data=None, arch=None, src=None, tgt=None) -> CheckpointFacts:
    """The checkpoint's facts, refusing it (CheckpointError) when it is not a ``task`` model, not
    ``arch``, not the ``src``->``tgt`` direction, or has another vocabulary than ``data``."""
    state = load_state(Path(path))
    facts = describe(path, state)
    if task and facts.task != task:
        raise CheckpointError(f"{path} is a {facts.task} checkpoint (arch {facts.arch}) "
                              f"but this command evaluates {task}; pass a {task} checkpoint")
    if arch and facts.arch != arch:
        raise CheckpointError(f"{path} holds architecture {facts.arch}, not the requested {arch}; "
                              f"use a fresh --save-dir (or --tag) for a different model, or ask for "
                              f"--arch {facts.arch}")
    if src and tgt and facts.src and (facts.src, facts.tgt) != (src, tgt):
        raise CheckpointError(f"{path} translates {facts.src}->{facts.tgt}, not {src}->{tgt}; "
                              f"pass --src {facts.src} --tgt {facts.tgt} or the other direction's checkpoint")
    if data:
        name = f"dict.{facts.tgt}.txt" if facts.task == "translation" and facts.tgt else "dict.txt"
        dict_path = Path(data) / name
        weights = state["model"].get("decoder.embed_tokens.weight")
        if torch.is_tensor(weights) and dict_path.is_file():
            rows, size = weights.shape[0], _dict_size(dict_path)
            if rows != size:
                raise CheckpointError(
                    f"{path} was trained with a {rows}-word vocabulary but {dict_path} has {size} "
                    f"entries: the checkpoint belongs to other data; pass the data directory it "
                    f"was trained on, or a checkpoint trained on {data}")
    return facts
