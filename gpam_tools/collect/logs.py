"""Facts read from the log ``fairseq-train`` writes (json log format): the parameter count, the
validation loss (base 2) per update, the last update and the training wall time."""

import json
import re
from datetime import datetime
from pathlib import Path

_STAMP = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) \|")


def _when(line: str):
    """The time stamp of a fairseq log line, or None."""
    stamp = _STAMP.match(line)
    return datetime.strptime(stamp.group(1), "%Y-%m-%d %H:%M:%S") if stamp else None


def _stats(line: str):
    """The json record of a fairseq log line, or None for a line cut short by a kill."""
    try:
        return json.loads(line[line.index("{"):])
    except json.JSONDecodeError:
        return None


def parse_train_log(path: Path) -> dict:
    """Parameters, validation losses, updates and training time from a fairseq-train log (json format).

    A log may hold several segments: a run cut off mid-training and restarted resumes from its last
    checkpoint and appends to the same log. A finished segment counts with fairseq's own "done
    training in" figure; a cut-off one counts from its checkpoint loading to the last checkpoint it
    saved, so the updates it lost (and repeated after the restart) are not counted twice.
    """
    out = {"valid": [], "params": None, "updates": None, "train_seconds": None, "segments": 0}
    if not path.is_file():
        return out
    total, seg_start, seg_saved = None, None, None

    def close_cut_off_segment():
        nonlocal total
        if seg_start is not None and seg_saved is not None:
            total = (total or 0) + (seg_saved - seg_start).total_seconds()

    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        lower = line.lower()
        if "num. shared model params:" in line or "num. model params:" in line:
            m = re.search(r"params: ([\d,]+)", line)
            out["params"] = int(m.group(1).replace(",", ""))
        elif ("loaded checkpoint" in lower or "no existing checkpoint found" in lower) and _when(line):
            close_cut_off_segment()
            out["segments"] += 1
            seg_start, seg_saved = _when(line), None
        elif "saved checkpoint" in lower and _when(line):
            seg_saved = _when(line)
        elif "| valid |" in line and "{" in line:
            stats = _stats(line)
            if stats:
                out["valid"].append((int(float(stats["valid_num_updates"])), float(stats["valid_loss"])))
        elif "| train |" in line and "{" in line:
            stats = _stats(line)
            if stats:
                out["updates"] = int(float(stats.get("train_num_updates", 0)))
        elif "done training in" in line:
            total = (total or 0) + float(re.search(r"done training in ([\d.]+) seconds", line).group(1))
            seg_start = seg_saved = None
    close_cut_off_segment()
    out["train_seconds"] = total
    # a resumed run logs validation again: keep the latest value per update count
    out["valid"] = sorted(dict(out["valid"]).items())
    return out

