#!/usr/bin/env python
"""Warm-start a daGPAM (``gpam_``) model from a fairseq softmax-Transformer checkpoint.

usage: gpam warm-start --baseline checkpoint_best.pt \
           --arch gpam_transformer_iwslt_de_en [--gpam-* flags] --out gpam_init.pt
then:  fairseq-train DATA --user-dir fairseq_gpam --arch gpam_transformer_iwslt_de_en [same --gpam-* flags] \
           --restore-file gpam_init.pt --reset-optimizer --reset-dataloader --reset-meters ...

Every parameter of the baseline is copied (a ``gpam_`` model has fairseq's parameter
names); the parameters daGPAM adds -- the negative-query matrix W- of each attention
module and, when trainable, the lambdas -- are initialised as the ``--gpam-*`` flags say
(``--gpam-neg-query-init``, ``--gpam-lambda-neg``, ``--gpam-lambda-mode``, ...; ``--seed``
for ``xavier``). With ``--gpam-lambda-neg 0`` the new model computes exactly what the
baseline computes. The written checkpoint holds no optimizer state and starts at update 0.

A baseline of another model family or another architecture (say ``transformer_lm`` or
``transformer_wmt_en_de`` for ``--arch gpam_transformer_iwslt_de_en``), a checkpoint that
is already a ``gpam_`` model, or weights whose shapes do not fit are refused with a
message naming the problem; nothing is written then. The output is written to a
temporary file and renamed, so a crash never leaves a truncated one.
"""

import argparse
import copy
import io
import sys
from argparse import Namespace
from pathlib import Path
from types import SimpleNamespace
from typing import Dict, List, Tuple

import torch

from gpam_tools.atomic import write_bytes_atomic
from gpam_tools.checkpoint_tools.load import load_checkpoint_state

GPAM_PREFIX = "gpam_"
ADDED_BY_GPAM = ("neg_query_weight", "lambdas.theta")


class WarmStartError(ValueError):
    """The baseline cannot warm-start the requested model; the message says why."""


def parse_args(argv: List[str]) -> Tuple[Namespace, Namespace]:
    """(script options, --gpam-* options as the plugin parses them)."""
    from fairseq_gpam.modules.gpam_config import add_gpam_args

    parser = argparse.ArgumentParser(prog="gpam warm-start", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", required=True, type=Path, help="fairseq checkpoint of a softmax model")
    parser.add_argument("--arch", required=True, help="gpam_ architecture to build, e.g. gpam_transformer_iwslt_de_en")
    parser.add_argument("--out", required=True, type=Path, help="checkpoint to write for --restore-file")
    parser.add_argument("--seed", type=int, default=1, help="seed for randomly initialised daGPAM weights")
    add_gpam_args(parser)
    args = parser.parse_args(argv)
    return args, args


def load_baseline(path: Path) -> dict:
    if not path.is_file():
        raise WarmStartError(f"--baseline {path}: no such file")
    try:
        state = load_checkpoint_state(path)
    except Exception as error:  # truncated, foreign, or holds a class weights_only refuses
        raise WarmStartError(f"--baseline {path} is not a readable fairseq checkpoint ({error})") from None
    if not isinstance(state, dict) or "model" not in state:
        raise WarmStartError(f"--baseline {path} is not a fairseq checkpoint (no 'model' weights)")
    return state


def baseline_model_args(state: dict, path: Path) -> Namespace:
    cfg = state.get("cfg") or {}
    model_args = cfg.get("model") if isinstance(cfg, dict) else getattr(cfg, "model", None)
    if model_args is None:
        model_args = state.get("args")
    if not isinstance(model_args, Namespace) or not hasattr(model_args, "arch"):
        raise WarmStartError(f"--baseline {path} does not record a fairseq architecture (cfg.model.arch)")
    return copy.deepcopy(model_args)


def check_compatible(baseline_arch: str, arch: str, path: Path) -> None:
    """Refuse a baseline that is not the softmax twin of ``arch``."""
    from fairseq.models import ARCH_MODEL_NAME_REGISTRY

    if arch not in ARCH_MODEL_NAME_REGISTRY or not arch.startswith(GPAM_PREFIX):
        known = sorted(a for a in ARCH_MODEL_NAME_REGISTRY if a.startswith(GPAM_PREFIX))
        raise WarmStartError(f"--arch {arch} is not a gpam_ architecture; choose from: {', '.join(known)}")
    if baseline_arch.startswith(GPAM_PREFIX):
        raise WarmStartError(
            f"--baseline {path} is already a daGPAM model ({baseline_arch}); continue it with "
            "fairseq-train --restore-file instead of warm-starting it")
    family = ARCH_MODEL_NAME_REGISTRY[arch][len(GPAM_PREFIX):]  # gpam_transformer -> transformer
    base_family = ARCH_MODEL_NAME_REGISTRY.get(baseline_arch)
    twin = arch[len(GPAM_PREFIX):]
    if base_family != family or (twin in ARCH_MODEL_NAME_REGISTRY and baseline_arch != twin):
        want = twin if twin in ARCH_MODEL_NAME_REGISTRY else f"an architecture of fairseq's '{family}' model"
        raise WarmStartError(
            f"--baseline {path} is a {baseline_arch} model (fairseq model '{base_family}'); "
            f"--arch {arch} can only be warm-started from {want}. Pick the gpam_ twin of the "
            f"baseline's architecture (--arch {GPAM_PREFIX}{baseline_arch}) if it exists.")


class _SizedDictionary:
    """Stands in for a fairseq Dictionary when only its size and special indices matter."""

    def __init__(self, size: int):
        from fairseq.data import Dictionary

        self._reference = Dictionary()
        self._size = size

    def __len__(self):
        return self._size

    def __getattr__(self, name):  # pad(), eos(), unk(), bos()
        return getattr(self._reference, name)


def build_gpam_model(model_args: Namespace, baseline_weights: Dict[str, torch.Tensor], seed: int):
    """The gpam_ model with the baseline's hyperparameters, randomly initialised with ``seed``."""
    from fairseq.models import ARCH_MODEL_REGISTRY

    def rows(key):
        return baseline_weights[key].size(0) if key in baseline_weights else None

    tgt_size = rows("decoder.embed_tokens.weight") or rows("decoder.output_projection.weight")
    src_size = rows("encoder.embed_tokens.weight") or tgt_size
    if tgt_size is None:
        raise WarmStartError("cannot tell the vocabulary size from the baseline (adaptive input?): "
                             "warm-starting supports models with plain token embeddings")
    tgt = _SizedDictionary(tgt_size)
    src = tgt if src_size == tgt_size else _SizedDictionary(src_size)  # --share-all-embeddings needs one
    task = SimpleNamespace(source_dictionary=src, target_dictionary=tgt, dictionary=tgt, output_dictionary=tgt)
    torch.manual_seed(seed)
    return ARCH_MODEL_REGISTRY[model_args.arch].build_model(model_args, task)


def warm_start(baseline: Path, arch: str, gpam_args: Namespace, out: Path, seed: int = 1) -> List[str]:
    """Write the warm-started checkpoint to ``out``; returns the names of the added parameters."""
    import fairseq_gpam  # noqa: F401  (registers the gpam_ models, allow-lists argparse.Namespace)
    from fairseq_gpam.modules.gpam_config import GpamConfigError, GpamOptions

    state = load_baseline(baseline)
    model_args = baseline_model_args(state, baseline)
    check_compatible(model_args.arch, arch, baseline)
    for name, value in vars(gpam_args).items():
        if name.startswith(GPAM_PREFIX):
            setattr(model_args, name, value)
    try:
        GpamOptions.from_cfg(model_args)
    except GpamConfigError as error:
        raise WarmStartError(str(error)) from None
    model_args.arch = arch
    model_args._name = arch

    weights = state["model"]
    model = build_gpam_model(model_args, weights, seed)
    own = model.state_dict()
    wrong_shape = [f"{k}: baseline {tuple(v.shape)} vs model {tuple(own[k].shape)}"
                   for k, v in weights.items() if k in own and own[k].shape != v.shape]
    unknown = [k for k in weights if k not in own]
    if wrong_shape or unknown:
        raise WarmStartError(f"--baseline {baseline} does not fit --arch {arch}: "
                             + "; ".join(wrong_shape + [f"{k} has no place in the model" for k in unknown][:8]))
    added = [k for k in own if k not in weights]
    not_gpam = [k for k in added if not k.endswith(ADDED_BY_GPAM) and not k.endswith("_float_tensor")]
    if not_gpam:
        raise WarmStartError(f"--baseline {baseline} lacks weights the model needs: {', '.join(not_gpam[:8])}")
    own.update(weights)

    new_state = {
        "args": None,
        "cfg": _with_model_args(state.get("cfg"), model_args),
        "model": own,
        "criterion": state.get("criterion"),
        # start like a fresh run: no optimizer state to mismatch, update 0, epoch 1
        "optimizer_history": [{"criterion_name": "", "optimizer_name": "", "lr_scheduler_state": {},
                               "num_updates": 0}],
        "last_optimizer_state": None,
        "task_state": state.get("task_state", {}),
        "extra_state": {"train_iterator": {"version": 2, "epoch": 1, "iterations_in_epoch": 0, "shuffle": True},
                        "val_loss": None, "warm_started_from": str(baseline)},
    }
    buffer = io.BytesIO()
    torch.save(new_state, buffer)
    write_bytes_atomic(out, buffer.getvalue())
    return added


def _with_model_args(cfg, model_args: Namespace):
    if cfg is None:
        return None
    cfg = dict(cfg) if isinstance(cfg, dict) else cfg
    cfg["model"] = model_args
    return cfg


def main(argv: List[str]) -> int:
    args, gpam_args = parse_args(argv)
    try:
        added = warm_start(args.baseline, args.arch, gpam_args, args.out, args.seed)
    except WarmStartError as error:
        print(f"gpam warm-start: error: {error}", file=sys.stderr)
        return 2
    print(f"wrote {args.out}: {args.arch} from {args.baseline}; {len(added)} daGPAM tensors initialised "
          f"(lambda- = {gpam_args.gpam_lambda_neg}, W- = {gpam_args.gpam_neg_query_init})")
    return 0

