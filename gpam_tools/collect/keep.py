"""What a finished run keeps in the results tree: its light files, never its checkpoints.

``keep_runs(RUNS, DEST, [REL ...])`` copies, for each run (a directory with run-info.json) under
RUNS, the files the collector reads (run-info.json, train.log, command.sh, eval-*.json, the
eval-lm logs, the hypotheses, the generation commands) to DEST/REL; each run lands in one rename,
so a reader never sees half of a run. ``gpam keep-runs`` is the command line.
"""

import argparse
import fnmatch
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Iterable, List, Optional

LIGHT_FILES = ("run-info.json", "train.log", "command.sh", "eval-*.json", "eval-lm.*.log", "hyps.*",
               "generate.*.command.sh")


class NotARun(ValueError):
    """A path named as a run holds no run-info.json."""


def runs_under(root: Path) -> List[str]:
    """The relative path of every run (a directory with run-info.json) under ``root``, sorted."""
    return sorted(p.parent.relative_to(root).as_posix() for p in Path(root).rglob("run-info.json"))


def keep_run(source: Path, target: Path) -> None:
    """Copy ``source``'s light files to ``target``, replacing an earlier copy in one rename."""
    target.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}."))
    for path in sorted(source.iterdir()):
        if path.is_file() and any(fnmatch.fnmatchcase(path.name, pattern) for pattern in LIGHT_FILES):
            shutil.copy2(path, stage / path.name)
    stage.chmod(0o755)
    replace_directory(target, stage)


def replace_directory(target: Path, new: Path) -> None:
    """Put the directory ``new`` where ``target`` is, in one rename (an earlier ``target`` goes after);
    ``new`` must be beside ``target`` (same file system)."""
    old = target.with_name(target.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if target.is_dir():
        target.rename(old)
    new.rename(target)
    shutil.rmtree(old, ignore_errors=True)


def keep_runs(runs: Path, dest: Path, selected: Optional[Iterable[str]] = None) -> List[str]:
    """Keep the runs ``selected`` (relative paths; default: every run under ``runs``); returns them."""
    runs, dest = Path(runs), Path(dest)
    chosen = list(selected) if selected else runs_under(runs)
    for rel in chosen:  # all checked before the first copy
        if not (runs / rel / "run-info.json").is_file():
            raise NotARun(f"{runs / rel} is not a run (no run-info.json); name a run directory under {runs}")
    for rel in chosen:
        keep_run(runs / rel, dest / rel)
    return chosen


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="gpam keep-runs", description="Copy the light files of training runs (logs, settings, scores, "
        "hypotheses; never checkpoints) into a results tree with the same layout, for gpam collect.")
    parser.add_argument("runs", type=Path, help="the runs tree (e.g. work/runs)")
    parser.add_argument("dest", type=Path, help="the results tree (e.g. results/mine/runs)")
    parser.add_argument("selected", nargs="*", help="run paths relative to RUNS (default: every run)")
    args = parser.parse_args(argv)
    if not args.runs.is_dir():
        print(f"gpam keep-runs: error: {args.runs} is not a directory", file=sys.stderr)
        return 2
    try:
        for rel in keep_runs(args.runs, args.dest, args.selected):
            print(f"kept {args.dest / rel}")
    except NotARun as err:
        print(f"gpam keep-runs: error: {err}", file=sys.stderr)
        return 2
    return 0
