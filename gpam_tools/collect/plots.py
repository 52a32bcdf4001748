"""Validation-loss curves: one PNG per setting, a line per run (solid: softmax, dashed: every other system)."""

import io
import logging
from collections import defaultdict
from pathlib import Path

from gpam_tools.atomic import write_bytes_atomic
from gpam_tools.collect.grouping import setting_label, setting_of


def plot_valid_loss(runs, out_dir: Path):
    """One PNG per benchmark setting: validation loss (base 2) against updates, a line per run."""
    # importing fairseq (the run layer does) leaves the root logger at DEBUG: keep matplotlib's quiet
    logging.getLogger("matplotlib").setLevel(logging.WARNING)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    by_setting = defaultdict(list)
    for run in runs:
        if run["log"]["valid"]:
            by_setting[setting_of(run["info"])].append(run)
    for setting, group in sorted(by_setting.items()):
        fig, ax = plt.subplots(figsize=(6, 4))
        for run in sorted(group, key=lambda r: (r["info"]["system"], int(r["info"]["seed"]))):
            updates, losses = zip(*run["log"]["valid"])
            style = "-" if run["info"]["system"] == "softmax" else "--"
            ax.plot(updates, losses, style, marker="o", markersize=3,
                    label=f"{run['info']['system']} seed {run['info']['seed']}")
        ax.set_xlabel("updates")
        ax.set_ylabel("validation loss (base 2)")
        ax.set_title(setting_label(setting), fontsize=9)
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
        fig.tight_layout()
        name = "valid_loss." + ".".join(s for s in setting if s) + ".png"
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=100)
        plt.close(fig)
        write_bytes_atomic(out_dir / name, buffer.getvalue())
        written.append(name)
    return written
