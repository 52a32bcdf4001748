#!/usr/bin/env python
"""Per-layer mechanism analysis of fairseq Transformer checkpoints (the paper's Figure 4 measures).

For each checkpoint, on a split of a binarised fairseq data directory, per layer
(layer 0 = the input of the first layer, layer l = the output of layer l; encoder
and decoder separately for translation models):

    residual   ||X - 1 x^T||_F / ||X||_F of the token states (Dong et al. 2021;
               fairseq_gpam.diagnostics.rank_collapse_residual), mean over sequences
    cosine     mean pairwise cosine similarity between the token states of a
               sequence (padding excluded), mean over sequences
    grad_q     Frobenius norm of d loss / d W_q of the layer's self-attention
               (loss = mean token cross-entropy of the batch), mean over batches

and the self-attention maps of the longest sequence of the first batch drawn with a diverging colour
scale centred at 0, so negative weights (daGPAM, diff, cog, ...) show in blue.

Several checkpoints may share a ``--label`` (e.g. seeds of one variant): their
per-layer values are averaged. Outputs into --out:

    <prefix>.csv, <prefix>.md      per label and layer
    <prefix>.png                   residual / cosine / grad_q against layer, one line per label
    <prefix>_attention_<label>.png attention maps of the first checkpoint of each label

Usage:
    gpam analyze --data DATA_BIN --split test \\
        --checkpoint ckpt_softmax.pt --label softmax --checkpoint ckpt_dagpam.pt --label dagpam
"""

import argparse
import logging
import math
import os
import sys
from collections import defaultdict
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import torch
import torch.nn.functional as F

from gpam_tools import REPO
from gpam_tools.analysis.per_layer_report import plot_layers, plot_maps, write_tables
from gpam_tools.checkpoint_tools.load import load_checkpoint_state



class UninterpretableCheckpoint(SystemExit):
    """The checkpoint cannot be analysed; the message says why and what is expected."""

    def __init__(self, path: Path, reason: str):
        super().__init__(
            f"error: cannot interpret {path}: {reason}\n"
            "gpam analyze needs a fairseq checkpoint (a dict with 'model' and 'cfg' or 'args') "
            "of a Transformer model whose layers have self_attn.q_proj (gpam_transformer*, gpam_transformer_lm*, "
            "transformer, transformer_lm), and the binarised data directory it was trained on."
        )


def load(path: Path, data: Path):
    """(model, task) of a checkpoint, or an UninterpretableCheckpoint with the reason."""
    import fairseq_gpam  # noqa: F401  (registers the gpam_ models)
    from fairseq import checkpoint_utils

    if not path.is_file():
        raise UninterpretableCheckpoint(path, "no such file")
    try:
        state = load_checkpoint_state(path)  # weights_only: nothing in the file runs
    except Exception as err:  # not a torch file, truncated, or holds classes weights_only refuses
        raise UninterpretableCheckpoint(path, f"torch.load failed ({type(err).__name__}: {str(err)[:200]})")
    if not isinstance(state, dict) or "model" not in state or not (state.get("cfg") or state.get("args")):
        keys = sorted(state)[:8] if isinstance(state, dict) else type(state).__name__
        raise UninterpretableCheckpoint(path, f"not a fairseq checkpoint (found {keys})")
    try:
        models, _cfg, task = checkpoint_utils.load_model_ensemble_and_task(
            [str(path)], arg_overrides={"data": str(data)}
        )
    except Exception as err:
        raise UninterpretableCheckpoint(path, f"fairseq could not rebuild the model ({type(err).__name__}: {err})")
    model = models[0]
    if not layer_groups(model):
        raise UninterpretableCheckpoint(
            path, f"model {type(model).__name__} has no Transformer layers with self_attn.q_proj"
        )
    return model, task


def layer_groups(model) -> Dict[str, list]:
    """{'enc': layers, 'dec': layers} of the parts that have Transformer layers with self_attn.q_proj."""
    groups = {}
    for prefix, part in (("enc", getattr(model, "encoder", None)), ("dec", getattr(model, "decoder", None))):
        layers = getattr(part, "layers", None)
        if layers is not None and len(layers) and all(
            hasattr(getattr(layer, "self_attn", None), "q_proj") for layer in layers
        ):
            groups[prefix] = list(layers)
    return groups


def mean_pairwise_cosine(x: torch.Tensor, padding: Optional[torch.Tensor]) -> torch.Tensor:
    """x: T x B x C; padding: B x T (True = pad). Mean over sequences of the mean cosine over pairs i != j."""
    x = F.normalize(x.detach().float().transpose(0, 1), dim=-1)  # B x T x C
    keep = torch.ones(x.shape[:2], dtype=torch.bool) if padding is None else ~padding.bool()
    values = []
    for seq, k in zip(x, keep):
        states = seq[k]
        n = states.size(0)
        if n < 2:
            continue
        sim = states @ states.T
        values.append((sim.sum() - sim.diagonal().sum()) / (n * (n - 1)))
    return torch.stack(values).mean() if values else torch.tensor(float("nan"))


def padding_masks(sample, pad: int) -> Dict[str, Optional[torch.Tensor]]:
    net_input = sample["net_input"]
    masks = {"enc": net_input["src_tokens"].eq(pad)}
    prev = net_input.get("prev_output_tokens")
    masks["dec"] = prev.eq(pad) if prev is not None else net_input["src_tokens"].eq(pad)
    return masks


def analyse(model, task, split: str, max_batches: int, max_tokens: int) -> Tuple[Dict[str, List[float]], dict]:
    """Per-layer metrics (keys 'enc:residual', ...: lists over layers 0..L) and the first sequence's maps."""
    from fairseq_gpam.diagnostics import rank_collapse_residual

    try:
        task.load_dataset(split)
    except (FileNotFoundError, OSError) as err:
        raise SystemExit(f"error: cannot load split {split!r}: {err}")
    dataset = task.dataset(split)
    itr = task.get_batch_iterator(
        dataset=dataset, max_tokens=max_tokens, max_positions=model.max_positions(),
        ignore_invalid_inputs=True, required_batch_size_multiple=1, seed=1, num_workers=0,
    ).next_epoch_itr(shuffle=False)
    pad = task.target_dictionary.pad() if task.target_dictionary is not None else task.source_dictionary.pad()
    groups = layer_groups(model)
    sums: Dict[str, List[float]] = defaultdict(lambda: [])
    counts: Dict[str, List[int]] = defaultdict(lambda: [])
    model.eval()  # no dropout; gradients are still computed
    captured: Dict[Tuple[str, int], torch.Tensor] = {}
    hooks = []
    for prefix, layers in groups.items():
        hooks.append(layers[0].register_forward_pre_hook(_capture_input(captured, prefix)))
        for i, layer in enumerate(layers):
            hooks.append(layer.register_forward_hook(_capture_output(captured, prefix, i + 1)))
    maps = {}
    try:
        for batch_index, sample in enumerate(itr):
            if batch_index >= max_batches:
                break
            captured.clear()
            model.zero_grad(set_to_none=True)
            net_output = model(**sample["net_input"])
            lprobs = model.get_normalized_probs(net_output, log_probs=True)
            loss = F.nll_loss(lprobs.view(-1, lprobs.size(-1)).float(), sample["target"].view(-1),
                              ignore_index=pad, reduction="mean")
            loss.backward()
            masks = padding_masks(sample, pad)
            for (prefix, index), states in captured.items():
                _add(sums, counts, f"{prefix}:residual", index, rank_collapse_residual(states, masks[prefix]).item())
                _add(sums, counts, f"{prefix}:cosine", index, mean_pairwise_cosine(states, masks[prefix]).item())
            for prefix, layers in groups.items():
                for i, layer in enumerate(layers):
                    grad = layer.self_attn.q_proj.weight.grad
                    _add(sums, counts, f"{prefix}:grad_q", i + 1, float(grad.norm()) if grad is not None else math.nan)
            if batch_index == 0:
                maps = attention_maps(model, groups, sample)
    finally:
        for hook in hooks:
            hook.remove()
        model.zero_grad(set_to_none=True)
    if not sums:
        raise SystemExit(f"error: split {split!r} gave no batch")
    metrics = {key: [s / c if c else math.nan for s, c in zip(sums[key], counts[key])] for key in sums}
    return metrics, maps


def _add(sums, counts, key, index, value):
    while len(sums[key]) <= index:
        sums[key].append(0.0)
        counts[key].append(0)
    if math.isfinite(value):
        sums[key][index] += value
        counts[key][index] += 1


def _capture_input(captured, prefix):
    def hook(module, args):
        captured[(prefix, 0)] = args[0].detach()
    return hook


def _capture_output(captured, prefix, index):
    def hook(module, args, output):
        x = output[0] if isinstance(output, tuple) else output
        captured[(prefix, index)] = x.detach()
    return hook


@torch.no_grad()
def attention_maps(model, groups, sample) -> Dict[Tuple[str, int], torch.Tensor]:
    """Per-head self-attention weights (H x T x S) of every layer for the longest sequence of the batch."""
    tokens = sample["net_input"]["src_tokens"]
    pad = getattr(model, "decoder", model).dictionary.pad() if hasattr(getattr(model, "decoder", None), "dictionary") else 1
    pick = int(tokens.ne(pad).sum(1).argmax())  # batches mix lengths: the padded rows say little
    first = {k: (v[pick: pick + 1] if torch.is_tensor(v) and v.dim() > 0 else v)
             for k, v in sample["net_input"].items()}
    maps, hooks = {}, []
    for prefix, layers in groups.items():
        for i, layer in enumerate(layers):
            hooks.append(layer.self_attn.register_forward_pre_hook(_ask_weights, with_kwargs=True))
            hooks.append(layer.self_attn.register_forward_hook(_keep_weights(maps, prefix, i + 1)))
    try:
        model(**first)
    finally:
        for hook in hooks:
            hook.remove()
    return maps


def _ask_weights(module, args, kwargs):
    from fairseq.modules import MultiheadAttention

    kwargs["need_weights"] = True
    kwargs["need_head_weights"] = True
    if type(module) is MultiheadAttention and kwargs.get("incremental_state") is None:
        # fairseq's own module takes PyTorch's fused path outside decoding, which
        # averages the heads whatever need_head_weights says; a throw-away cache
        # sends it down its explicit path (same result, per-head weights).
        kwargs["incremental_state"] = {}
    return args, kwargs


def _keep_weights(maps, prefix, index):
    def hook(module, args, output):
        if output[1] is not None:
            maps[(prefix, index)] = output[1][:, 0].detach().float()  # H x T x S
    return hook


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="gpam analyze", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", type=Path, action="append", required=True, help="repeatable")
    parser.add_argument("--label", action="append", help="one per --checkpoint; equal labels are averaged")
    parser.add_argument("--data", type=Path, required=True, help="binarised fairseq data directory")
    parser.add_argument("--split", default="test")
    parser.add_argument("--max-batches", type=int, default=10)
    parser.add_argument("--max-tokens", type=int, default=1024)
    parser.add_argument("--out", type=Path, default=REPO / "results" / "analysis" / "per_layer")
    parser.add_argument("--prefix", default="per_layer")
    parser.add_argument("--note", default="", help="scale statement written into the table and figure")
    args = parser.parse_args(argv)
    labels = args.label or [p.stem for p in args.checkpoint]
    if len(labels) != len(args.checkpoint):
        parser.error("give one --label per --checkpoint (or none)")
    if not (args.data / "dict.txt").is_file() and not any(args.data.glob("dict.*.txt")):
        raise SystemExit(f"error: {args.data} has no dict*.txt; pass the binarised data directory the model was trained on")
    logging.getLogger("matplotlib").setLevel(logging.WARNING)
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    args.out.mkdir(parents=True, exist_ok=True)

    per_label: Dict[str, List[Dict[str, List[float]]]] = defaultdict(list)
    first_maps = {}
    for path, label in zip(args.checkpoint, labels):
        model, task = load(path, args.data)
        metrics, maps = analyse(model, task, args.split, args.max_batches, args.max_tokens)
        per_label[label].append(metrics)
        first_maps.setdefault(label, (path, maps))
        print(f"analysed {path} as {label}", file=sys.stderr)
    results = {label: _average(runs) for label, runs in per_label.items()}
    counts = ", ".join(f"{label}: {len(runs)} checkpoint(s)" for label, runs in per_label.items())
    note = (f"{args.note} Split {args.split!r} of {args.data}, up to {args.max_batches} batches of "
            f"{args.max_tokens} tokens; {counts}.").strip()
    write_tables(results, args.out, args.prefix, note)
    plot_layers(results, args.out, args.prefix, note)
    for label, (path, maps) in first_maps.items():
        plot_maps(maps, args.out, f"{args.prefix}_attention_{label}",
                  f"{label}: self-attention of the longest sequence in the first {args.split} batch ({path.name}); colour centred at 0")
    print((args.out / f"{args.prefix}.md").read_text())
    return 0


def _average(runs: List[Dict[str, List[float]]]) -> Dict[str, List[float]]:
    out = {}
    for key in runs[0]:
        length = max(len(r.get(key, [])) for r in runs)
        out[key] = []
        for i in range(length):
            vals = [r[key][i] for r in runs if i < len(r.get(key, [])) and math.isfinite(r[key][i])]
            out[key].append(sum(vals) / len(vals) if vals else math.nan)
    return out

