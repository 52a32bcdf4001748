#!/usr/bin/env python
"""Pure-attention depth study and the softmax Jacobian check behind the paper's Lemma 3.

1. Rank collapse with depth (Dong, Cordonnier & Loukas 2021, "Attention is not
   all you need: pure attention loses rank doubly exponentially with depth"):
   stacks of 1..L attention layers with no skip connections, no MLPs and no
   layer norms, X_{l} = Attn_l(X_{l-1}), every layer a freshly initialised module
   of the plugin (fairseq's initialisation; daGPAM with lambda- = 0.2 and W- = -I,
   differential attention with its layer-dependent lambda_init), for every
   ``--gpam-attention`` variant. Reported: the residual ratio
   ||X - 1 x^T||_F / ||X||_F after each layer (fairseq_gpam.diagnostics.rank_collapse_residual),
   mean and spread over seeds.

2. Lemma 3: for p = softmax(z), J = diag(p) - p p^T and the total absolute
   gradient sum_ij |J_ij| equals 2 (1 - ||p||^2), largest (2 (1 - 1/n)) at the
   uniform distribution, i.e. at complete collapse. Checked with autograd's
   Jacobian against the formula on random logits of many temperatures.

Outputs (into --out, default results/analysis/depth/):
    residual_vs_depth.{csv,md,png}, softmax_jacobian.{csv,md,png}

Usage: gpam depth-study            (about 11 s of CPU time)
"""

import argparse
import math
from pathlib import Path
from typing import Dict, List

import torch

from gpam_tools import REPO
from gpam_tools.analysis.per_layer_report import save_figure
from gpam_tools.atomic import write_text_atomic

VARIANTS = ("softmax", "dagpam", "non", "nap", "coda", "diff", "cog")


def build_layer(variant: str, dim: int, heads: int, layer_number: int) -> torch.nn.Module:
    """One freshly initialised self-attention module of ``variant`` (dropout 0)."""
    from fairseq.modules import MultiheadAttention

    from fairseq_gpam.modules.attention_factory import build_variant_attention
    from fairseq_gpam.modules.gpam_config import GpamOptions
    from fairseq_gpam.modules.variants import DifferentialMultiheadAttention

    if variant == "softmax":
        return MultiheadAttention(dim, heads, self_attention=True)
    module = build_variant_attention(GpamOptions(attention=variant), "encoder_self", dim, heads, self_attention=True)
    if isinstance(module, DifferentialMultiheadAttention):
        module.set_layer_number(layer_number)
    return module


@torch.no_grad()
def residual_curve(variant: str, depth: int, seed: int, tokens: int, batch: int, dim: int, heads: int) -> List[float]:
    """Residual ratio after layers 1..depth of one random pure-attention stack."""
    from fairseq_gpam.diagnostics import rank_collapse_residual

    torch.manual_seed(seed)
    x = torch.randn(tokens, batch, dim, dtype=torch.float64)
    curve = []
    for layer_number in range(1, depth + 1):
        layer = build_layer(variant, dim, heads, layer_number).double().eval()
        x, _ = layer(x, x, x, need_weights=False)
        ratio = rank_collapse_residual(x).item() if torch.isfinite(x).all() else float("nan")
        curve.append(ratio)
    return curve


def softmax_jacobian_check(sizes, samples: int, seed: int) -> List[Dict[str, float]]:
    """Per n: worst |autograd - 2(1-||p||^2)|, largest total seen, and the total at uniform p."""
    torch.manual_seed(seed)
    rows = []
    for n in sizes:
        worst, largest, points = 0.0, 0.0, []
        temperatures = torch.logspace(-1, 1.5, samples, dtype=torch.float64)
        for temp in temperatures:
            z = torch.randn(n, dtype=torch.float64) * temp
            total, formula, sq = _total_abs_gradient(z)
            worst = max(worst, abs(total - formula))
            largest = max(largest, total)
            points.append((sq, total))
        uniform_total, uniform_formula, _ = _total_abs_gradient(torch.zeros(n, dtype=torch.float64))
        rows.append({
            "n": n, "samples": samples, "max_abs_error": worst, "largest_total_random": largest,
            "total_at_uniform_autograd": uniform_total, "formula_at_uniform": 2 * (1 - 1 / n),
            "uniform_is_max": float(largest <= uniform_total + 1e-12),
            "uniform_error": abs(uniform_total - uniform_formula), "_points": points,
        })
    return rows


def _total_abs_gradient(z: torch.Tensor):
    jac = torch.autograd.functional.jacobian(lambda t: torch.softmax(t, -1), z)
    p = torch.softmax(z, -1)
    sq = float(p.square().sum())
    return float(jac.abs().sum()), 2 * (1 - sq), sq


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="gpam depth-study", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    parser.add_argument("--depth", type=int, default=24)
    parser.add_argument("--seeds", type=int, default=5, help="seeds 1..N, averaged")
    parser.add_argument("--tokens", type=int, default=32)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--jacobian-sizes", type=int, nargs="+", default=[2, 4, 8, 16, 32])
    parser.add_argument("--jacobian-samples", type=int, default=200)
    parser.add_argument("--out", type=Path, default=REPO / "results" / "analysis" / "depth")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(1)

    scale = (f"pure attention (no skip, no MLP, no LayerNorm), random init, {args.tokens} tokens x "
             f"{args.batch} sequences, d={args.dim}, {args.heads} heads, fp64, seeds 1..{args.seeds}")
    curves: Dict[str, List[List[float]]] = {
        v: [residual_curve(v, args.depth, s, args.tokens, args.batch, args.dim, args.heads)
            for s in range(1, args.seeds + 1)]
        for v in args.variants
    }
    csv = ["variant,depth,residual_mean,residual_min,residual_max,finite_seeds"]
    means: Dict[str, List[float]] = {}
    for v, runs in curves.items():
        means[v] = []
        for d in range(args.depth):
            vals = [r[d] for r in runs if math.isfinite(r[d])]
            m = sum(vals) / len(vals) if vals else float("nan")
            means[v].append(m)
            lo, hi = (min(vals), max(vals)) if vals else (float("nan"), float("nan"))
            csv.append(f"{v},{d + 1},{m:.6g},{lo:.6g},{hi:.6g},{len(vals)}")
    write_text_atomic(args.out / "residual_vs_depth.csv", "\n".join(csv) + "\n")
    shown = [d for d in (1, 2, 4, 8, 12, 16, 24) if d <= args.depth]
    md = ["# Residual ratio ||X - 1 x^T|| / ||X|| of pure-attention stacks vs depth", "",
          f"Scale: {scale}. Mean over seeds; nan = the stack overflowed (no normalisation anywhere); "
          "values near 1e-7 are the fp32 resolution of the measure (complete collapse).", "",
          "| variant | " + " | ".join(f"L={d}" for d in shown) + " |",
          "|---|" + "---|" * len(shown)]
    for v in means:
        md.append(f"| {v} | " + " | ".join(f"{means[v][d - 1]:.3g}" for d in shown) + " |")
    md += ["", "Regenerate: `gpam depth-study`"]
    write_text_atomic(args.out / "residual_vs_depth.md", "\n".join(md) + "\n")

    rows = softmax_jacobian_check(args.jacobian_sizes, args.jacobian_samples, seed=0)
    jcsv = ["n,samples,max_abs_error,largest_total_random,total_at_uniform_autograd,formula_at_uniform,uniform_is_max"]
    jmd = ["# Softmax Jacobian: sum_ij |J_ij| = 2 (1 - ||p||^2), largest at uniform p (Lemma 3)", "",
           f"autograd Jacobian of softmax at {args.jacobian_samples} random logit vectors per n "
           "(scale 10^-1 .. 10^1.5), fp64, against the formula.", "",
           "| n | max abs error | largest total (random p) | total at uniform (autograd) | 2(1-1/n) | uniform is max |",
           "|---|---|---|---|---|---|"]
    for r in rows:
        jcsv.append(f"{r['n']},{r['samples']},{r['max_abs_error']:.3g},{r['largest_total_random']:.6f},"
                    f"{r['total_at_uniform_autograd']:.6f},{r['formula_at_uniform']:.6f},{int(r['uniform_is_max'])}")
        jmd.append(f"| {r['n']} | {r['max_abs_error']:.2g} | {r['largest_total_random']:.4f} | "
                   f"{r['total_at_uniform_autograd']:.4f} | {r['formula_at_uniform']:.4f} | "
                   f"{'yes' if r['uniform_is_max'] else 'NO'} |")
    jmd += ["", "Regenerate: `gpam depth-study`"]
    write_text_atomic(args.out / "softmax_jacobian.csv", "\n".join(jcsv) + "\n")
    write_text_atomic(args.out / "softmax_jacobian.md", "\n".join(jmd) + "\n")
    plot(args, curves, means, rows, scale)
    print("\n".join(md + [""] + jmd))
    return 0


def plot(args, curves, means, rows, scale) -> None:
    import logging

    import matplotlib

    logging.getLogger("matplotlib").setLevel(logging.WARNING)  # fairseq's import sets the root logger to DEBUG
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    depths = list(range(1, args.depth + 1))
    for v, m in means.items():
        ax.plot(depths, m, marker="o", ms=3, label=v)
    ax.set_yscale("log")
    ax.set_xlabel("depth (attention layers)")
    ax.set_ylabel("||X - 1x^T|| / ||X||  (mean over seeds)")
    ax.set_title("Pure-attention stacks at random init", fontsize=10)
    ax.text(0.01, 0.01, scale, transform=ax.transAxes, fontsize=6, va="bottom")
    ax.legend(fontsize=8, ncol=2)
    fig.tight_layout()
    save_figure(fig, args.out / "residual_vs_depth.png", dpi=120)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6, 4.5))
    for r in rows:
        if r["n"] in (4, 32):
            xs, ys = zip(*r["_points"])
            ax.scatter(xs, ys, s=6, label=f"autograd, n={r['n']}")
            ax.scatter([1 / r["n"]], [r["total_at_uniform_autograd"]], marker="*", s=120, edgecolor="k",
                       label=f"uniform p, n={r['n']}")
    grid = torch.linspace(0, 1, 101)
    ax.plot(grid, 2 * (1 - grid), "k--", lw=1, label="2(1 - ||p||^2)")
    ax.set_xlabel("||p||^2")
    ax.set_ylabel("sum_ij |d softmax_i / d z_j|")
    ax.set_title("Softmax total absolute gradient (Lemma 3)", fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, args.out / "softmax_jacobian.png", dpi=120)
    plt.close(fig)

