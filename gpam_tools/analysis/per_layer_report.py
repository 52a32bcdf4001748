"""Tables and figures of ``gpam analyze`` (per-layer residual, cosine, grad W_q; attention maps)."""

import io
import math
from pathlib import Path
from typing import Dict, List

from gpam_tools.atomic import write_bytes_atomic, write_text_atomic

METRICS = ("residual", "cosine", "grad_q")


def write_tables(results: Dict[str, Dict[str, List[float]]], out: Path, prefix: str, note: str) -> None:
    csv = ["label,part,layer,residual,cosine,grad_q"]
    md = [f"# Per-layer analysis: {prefix}", "", note, "",
          "| label | part | layer | residual | cosine | grad W_q |", "|---|---|---|---|---|---|"]
    for label, metrics in results.items():
        for part in ("enc", "dec"):
            if f"{part}:residual" not in metrics:
                continue
            for layer in range(len(metrics[f"{part}:residual"])):
                vals = [metrics.get(f"{part}:{m}", [])[layer] if layer < len(metrics.get(f"{part}:{m}", []))
                        else math.nan for m in METRICS]
                csv.append(f"{label},{part},{layer}," + ",".join(f"{v:.6g}" for v in vals))
                md.append(f"| {label} | {part} | {layer} | " + " | ".join(
                    "" if not math.isfinite(v) else f"{v:.4g}" for v in vals) + " |")
    write_text_atomic(out / f"{prefix}.csv", "\n".join(csv) + "\n")
    write_text_atomic(out / f"{prefix}.md", "\n".join(md) + "\n")


def plot_layers(results, out: Path, prefix: str, note: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    parts = [p for p in ("enc", "dec") if any(f"{p}:residual" in m for m in results.values())]
    fig, axes = plt.subplots(len(parts), 3, figsize=(13, 3.6 * len(parts)), squeeze=False)
    titles = {"residual": "||X - 1x^T|| / ||X||", "cosine": "mean pairwise cosine", "grad_q": "||dL/dW_q||"}
    for row, part in enumerate(parts):
        for col, metric in enumerate(METRICS):
            ax = axes[row][col]
            for label, metrics in results.items():
                values = metrics.get(f"{part}:{metric}")
                if values:
                    xs = [i for i, v in enumerate(values) if math.isfinite(v)]
                    ax.plot(xs, [values[i] for i in xs], marker="o", ms=3, label=label)
            ax.set_title(f"{part}: {titles[metric]}", fontsize=10)
            ax.set_xlabel("layer (0 = input)")
            if metric == "grad_q":
                ax.set_yscale("log")
            ax.legend(fontsize=8)
    fig.suptitle(note, fontsize=7)
    fig.tight_layout()
    save_figure(fig, out / f"{prefix}.png")
    plt.close(fig)


def plot_maps(maps, out: Path, name: str, title: str, max_heads: int = 4) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import TwoSlopeNorm

    if not maps:
        return
    keys = sorted(maps)
    chosen = sorted({keys[0], keys[len(keys) // 2], keys[-1]})
    heads = min(max_heads, max(maps[k].size(0) for k in chosen))
    fig, axes = plt.subplots(len(chosen), heads, figsize=(2.6 * heads, 2.6 * len(chosen)), squeeze=False)
    for row, key in enumerate(chosen):
        weights = maps[key]
        for h in range(heads):
            ax = axes[row][h]
            ax.set_xticks([])
            ax.set_yticks([])
            if h >= weights.size(0):
                ax.axis("off")
                continue
            w = weights[h].numpy()
            bound = max(float(abs(w).max()), 1e-6)
            # diverging scale centred at 0: red positive, blue negative weights
            image = ax.imshow(w, cmap="RdBu_r", norm=TwoSlopeNorm(vmin=-bound, vcenter=0.0, vmax=bound))
            ax.set_title(f"{key[0]} layer {key[1]} head {h}  (min {w.min():.3f})", fontsize=7)
            fig.colorbar(image, ax=ax, fraction=0.046, pad=0.02)
    fig.suptitle(title, fontsize=8)
    fig.tight_layout()
    save_figure(fig, out / f"{name}.png")
    plt.close(fig)


def save_figure(fig, path: Path, dpi: int = 110) -> None:
    """``fig`` as a PNG at ``path``, written atomically."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    write_bytes_atomic(path, buffer.getvalue())
