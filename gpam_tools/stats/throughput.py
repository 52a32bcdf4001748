"""``gpam throughput``: seconds per update of a short fairseq-train run, in wall time and in CPU time.

    OMP_NUM_THREADS=1 gpam throughput --log run.log [--json run.json] -- fairseq-train DATA ... \\
        --log-format json --log-interval 5 --max-update 25 --disable-validation --no-save
    gpam throughput --overhead TRAIN_LOG ...     (finished runs: time outside the training steps)
    gpam throughput --summary FIGURES.json ...   (a table of the --json files)

Runs the command, keeps its output in ``--log``, and at every ``train_inner`` record (fairseq's
json log; ``num_updates`` in it) reads the clock and the process's CPU time (user + system, from
``/proc/<pid>/stat``, Linux). The figures are taken between the first and the last record, so
start-up (data loading, model building) and the first interval are left out. On a machine shared
with other work the wall figure is an upper bound; the CPU figure is what the run itself used (a
one-thread run on an idle core needs about that wall time, plus cache and memory contention).
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import List, Optional, Tuple

TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def cpu_seconds(pid: int) -> Optional[float]:
    """User + system CPU seconds of ``pid`` (its threads included), or None off Linux / once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / TICKS       # utime, stime (fields 14 and 15 of stat)


def updates_of(line: str) -> Optional[int]:
    """``num_updates`` of a fairseq json ``train_inner`` line, else None."""
    if "| train_inner |" not in line or "{" not in line:
        return None
    try:
        return int(float(json.loads(line[line.index("{"):])["num_updates"]))
    except (ValueError, KeyError, TypeError):
        return None


def rates(records: List[Tuple[int, float, Optional[float]]]) -> dict:
    """Seconds per update (wall, CPU) between the first and the last (updates, wall, cpu) record."""
    if len(records) < 2 or records[-1][0] <= records[0][0]:
        raise ValueError("fewer than two train_inner records: log in json (--log-format json), "
                         "and raise --max-update or lower --log-interval")
    (u0, w0, c0), (u1, w1, c1) = records[0], records[-1]
    out = {"updates_timed": u1 - u0, "first_update": u0, "last_update": u1, "wall_s_per_update": (w1 - w0) / (u1 - u0)}
    if c0 is not None and c1 is not None:
        out["cpu_s_per_update"] = (c1 - c0) / (u1 - u0)
    return out


def overhead(log: Path) -> Tuple[float, float]:
    """(seconds in training steps, seconds of training in all) of a finished fairseq-train json log.

    Steps: the sum of the ``train_wall`` of every ``train_inner`` record; all: fairseq's "done training
    in N seconds". Their ratio is what validation, checkpoint saving and logging add to the steps.
    """
    steps, total = 0.0, None
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        if "loaded checkpoint" in line.lower():
            raise ValueError(f"{log}: a resumed run (several segments; fairseq's total counts the last only): "
                             "give logs of runs trained without interruption")
        if updates_of(line) is not None:
            steps += float(json.loads(line[line.index("{"):]).get("train_wall", 0))
        elif "done training in" in line:
            total = float(line.split("done training in", 1)[1].split()[0])
    if total is None or steps <= 0:
        raise ValueError(f"{log}: not a finished fairseq-train json log (no 'done training in' or no train_inner)")
    return steps, total


def report_overheads(logs: List[Path]) -> int:
    """One line per log; a log that cannot be read this way is named and skipped (2 when none could)."""
    read = 0
    for log in logs:
        try:
            steps, total = overhead(log)
        except (OSError, ValueError) as err:
            print(f"gpam throughput: skipped {err}", file=sys.stderr)
            continue
        read += 1
        print(f"{log}: steps {steps:.0f} s, training {total:.0f} s, overhead x{total / steps:.3f}")
    return 0 if read else 2


def report_summary(paths: List[Path]) -> int:
    """A markdown table of the figures ``--json`` wrote (one row per file, named by its stem)."""
    lines = ["| run | updates timed | wall s/update | CPU s/update |", "|---|---|---|---|"]
    for path in paths:
        try:
            f = json.loads(path.read_text(encoding="utf-8"))
            lines.append(f"| {path.stem} | {f['first_update']}-{f['last_update']} | {f['wall_s_per_update']:.2f} | "
                         f"{f['cpu_s_per_update']:.2f} |")
        except (OSError, ValueError, KeyError, TypeError) as err:
            print(f"gpam throughput: {path}: not a figures file of gpam throughput --json ({err})", file=sys.stderr)
            return 2
    print("\n".join(lines))
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["--summary"]:
        return report_summary([Path(a) for a in argv[1:]])
    if argv[:1] == ["--overhead"]:
        if len(argv) < 2:
            print("usage: gpam throughput --overhead TRAIN_LOG [TRAIN_LOG ...]", file=sys.stderr)
            return 2
        return report_overheads([Path(a) for a in argv[1:]])
    ours, command = (argv[:argv.index("--")], argv[argv.index("--") + 1:]) if "--" in argv else (argv, [])
    p = argparse.ArgumentParser(prog="gpam throughput", description=__doc__,
                                usage="gpam throughput --log LOG [--json JSON] -- COMMAND ...\n"
                                      "       gpam throughput --overhead TRAIN_LOG ... | --summary FIGURES.json ...",
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--log", type=Path, required=True, help="where the command's output is kept")
    p.add_argument("--json", type=Path, help="also write the figures (and the command) to this JSON file")
    args = p.parse_args(ours)
    if not command:
        p.error("give the training command after --, e.g. -- fairseq-train DATA --log-format json ...")
    args.log.parent.mkdir(parents=True, exist_ok=True)
    records = []
    with open(args.log, "w", encoding="utf-8", buffering=1) as log:    # line-buffered: follow it with tail -f
        try:
            # unbuffered: a Python child writing to a pipe would otherwise hand its log over in blocks,
            # and the records would be timed when a block arrives rather than when written
            proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                    env={**os.environ, "PYTHONUNBUFFERED": "1"})
        except OSError as err:
            p.error(f"cannot start {command[0]}: {err}")
        for line in proc.stdout:
            log.write(line)
            updates = updates_of(line)
            if updates is not None:
                records.append((updates, time.monotonic(), cpu_seconds(proc.pid)))
        code = proc.wait()
    if code != 0:
        print(f"gpam throughput: the command exited with {code}; see {args.log}", file=sys.stderr)
        return code
    try:
        figures = rates(records)
    except ValueError as err:
        print(f"gpam throughput: {err}", file=sys.stderr)
        return 2
    figures["omp_num_threads"] = os.environ.get("OMP_NUM_THREADS")
    figures["command"] = command
    text = ", ".join(f"{k} {v:.2f}" if isinstance(v, float) else f"{k} {v}" for k, v in figures.items()
                     if k != "command")
    print(text)
    if args.json:
        from gpam_tools.atomic import write_json_atomic
        write_json_atomic(args.json, figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
