"""Average the parameters of several fairseq checkpoints of one model into a new checkpoint.

    gpam average-checkpoints --out AVG.pt CKPT1.pt CKPT2.pt ...
    gpam average-checkpoints --out AVG.pt --last N RUN_DIR

``--last N`` takes the N newest epoch checkpoints (``checkpoint<epoch>.pt``) of RUN_DIR, or the
N newest update checkpoints (``checkpoint_<epoch>_<updates>.pt``) when the run saved those.
Floating-point tensors are averaged in float64; everything else (config, counters) comes from
the newest checkpoint. All checkpoints must be the same architecture with the same tensor
names and shapes, else nothing is written. The output is written to a temporary file and
renamed into place. (fairseq ships an averaging script in its repository but not in its pip
package; this is our own.)
"""

import argparse
import io
import re
import sys
from pathlib import Path

import torch

from gpam_tools.atomic import write_bytes_atomic
from gpam_tools.checkpoint_tools.load import load_checkpoint_state

EPOCH_CKPT = re.compile(r"checkpoint(\d+)\.pt$")
UPDATE_CKPT = re.compile(r"checkpoint_(\d+)_(\d+)\.pt$")


class AverageError(Exception):
    pass


def newest_checkpoints(run_dir: Path, n: int):
    """The ``n`` newest epoch (or else update) checkpoints of a run, oldest first."""
    by_update = sorted((int(m.group(2)), p) for p in run_dir.iterdir() if (m := UPDATE_CKPT.match(p.name)))
    by_epoch = sorted((int(m.group(1)), p) for p in run_dir.iterdir() if (m := EPOCH_CKPT.match(p.name)))
    found = by_update or by_epoch
    if len(found) < n:
        raise AverageError(f"{run_dir} holds {len(found)} epoch/update checkpoints, fewer than the {n} "
                           f"to average; train with --keep-last-epochs {n} (the full recipes do) or average fewer")
    return [p for _, p in found[-n:]]


def _arch(state) -> str:
    cfg = state.get("cfg") or {}
    model = cfg.get("model") if isinstance(cfg, dict) else None
    return getattr(model, "arch", None) or (model or {}).get("_name", "?") if model is not None else "?"


def average(paths):
    """The newest checkpoint's state with its ``model`` replaced by the mean over ``paths``."""
    total, reference, ref_path = None, None, None
    for path in paths:
        try:
            state = load_checkpoint_state(path)
        except Exception as err:  # truncated, not a torch file, or holds a class that is not allowed
            raise AverageError(f"{path} is not a readable fairseq checkpoint ({type(err).__name__}: "
                               f"{str(err)[:200]})") from None
        model = state["model"]
        if total is None:
            total = {k: v.double() if v.is_floating_point() else v for k, v in model.items()}
            reference, ref_path = state, path
            continue
        if _arch(state) != _arch(reference) or model.keys() != total.keys() or any(
            model[k].shape != total[k].shape for k in total
        ):
            raise AverageError(f"{path} (arch {_arch(state)}) is not the same model as {ref_path} "
                               f"(arch {_arch(reference)}): average checkpoints of one run only")
        for k, v in model.items():
            if v.is_floating_point():
                total[k] += v.double()
        reference = state
    n = len(paths)
    reference["model"] = {
        k: (v / n).to(reference["model"][k].dtype) if v.is_floating_point() else reference["model"][k]
        for k, v in total.items()
    }
    return reference


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="gpam average-checkpoints", description=__doc__.splitlines()[0])
    parser.add_argument("inputs", nargs="+", type=Path, help="checkpoints, or one run directory with --last")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--last", type=int, help="average the newest N checkpoints of the run directory")
    args = parser.parse_args(argv)
    try:
        if args.last:
            if len(args.inputs) != 1 or not args.inputs[0].is_dir():
                raise AverageError("--last N takes exactly one run directory")
            paths = newest_checkpoints(args.inputs[0], args.last)
        else:
            paths = args.inputs
        for p in paths:
            if not p.is_file():
                raise AverageError(f"checkpoint {p} does not exist")
        state = average(paths)
    except AverageError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    buffer = io.BytesIO()
    torch.save(state, buffer)
    write_bytes_atomic(args.out, buffer.getvalue())
    print(f"averaged {len(paths)} checkpoints ({', '.join(p.name for p in paths)}) -> {args.out}")
    return 0

