"""Validation-loss curves: one PNG per setting, a line per run, one colour and line style per system."""

import io
import logging
from collections import defaultdict
from pathlib import Path

from gpam_tools.atomic import write_bytes_atomic
from gpam_tools.collect.grouping import setting_label, setting_of

LINE_STYLES = ("-", "--", "-.", ":")


def system_styles(systems) -> dict:
    """system -> (matplotlib colour, line style): softmax first and solid, then the others by name.

    Up to 40 systems get distinct pairs, so the alternatives' eight systems can be told apart by line alone.
    """
    ordered = sorted(set(systems), key=lambda s: (s != "softmax", s))
    return {system: (f"C{i % 10}", LINE_STYLES[(i + i // 10) % len(LINE_STYLES)])
            for i, system in enumerate(ordered)}


def plot_valid_loss(runs, out_dir: Path):
    """One PNG per benchmark setting: validation loss (base 2) against updates, a line per run;
    the runs of one system (its seeds) share a colour, a line style and one legend entry."""
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
        by_system = defaultdict(list)
        for run in sorted(group, key=lambda r: int(r["info"]["seed"])):
            by_system[run["info"]["system"]].append(run)
        fig, ax = plt.subplots(figsize=(6, 4))
        for system, (colour, style) in system_styles(by_system).items():
            seeds = [r["info"]["seed"] for r in by_system[system]]
            label = f"{system} (seed {seeds[0]})" if len(seeds) == 1 else f"{system} ({len(seeds)} seeds)"
            for i, run in enumerate(by_system[system]):
                updates, losses = zip(*run["log"]["valid"])
                ax.plot(updates, losses, style, color=colour, marker="o", markersize=3,
                        label=label if i == 0 else None)
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
