"""``gpam update-count``: the update count a pilot's validation curves ask for (results/study-plan.md, section 6).

    gpam update-count RUN_DIR|train.log ... --floor 2000 --cap 2500 [--last-point U] [--every 250] [--window 500]
                      [--min-gain 0.01]

The rule, applied to every run given together (the systems of one setting): the count is the first
validation point u (a multiple of ``--every``) from ``--floor`` to below ``--cap`` after which the validation loss (base 2) of **every**
run improves by less than ``--min-gain`` (relative) over the next ``--window`` updates:

    gain(u) = (L(u) - L(u + window)) / L(u) < min_gain   for every run.

If no point below the cap qualifies, the count is the cap (the loss is still falling there). If the
logs stop before the rule can decide, it says which update the pilot must reach. ``--last-point`` ends
the points tested earlier than the cap: a pilot that stops at the cap cannot test the points whose
window passes it (the LM pilot of the plan, section 6). A rise of more than
``--diverged`` (relative) between two validations is reported as divergence: the plan then halves the
learning rate and repeats the pilot.

Prints a markdown table (validation loss and gain per run and update) and the decision; exit status 0
when decided, 1 when the logs are too short or a run diverged, 2 on bad input.
"""

import argparse
import sys
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from gpam_tools.collect.logs import parse_train_log

Curve = List[Tuple[int, float]]


def gains(curve: Curve, window: int) -> Dict[int, float]:
    """Relative improvement (L(u) - L(u + window)) / L(u) at every u whose u + window was validated."""
    loss = dict(curve)
    return {u: (loss[u] - loss[u + window]) / loss[u] for u in loss if u + window in loss}


def divergences(curve: Curve, rise: float) -> List[Tuple[int, int, float]]:
    """(u, next u, relative rise) wherever the loss rose by more than ``rise`` between two validations."""
    return [(u0, u1, (l1 - l0) / l0) for (u0, l0), (u1, l1) in zip(curve, curve[1:]) if (l1 - l0) / l0 > rise]


def decide(per_run: Dict[str, Dict[int, float]], floor: int, cap: int, window: int, min_gain: float,
           every: int, last_point: Optional[int] = None) -> Tuple[Optional[int], str]:
    """(count, reason) from every run's ``gains`` over ``window``, or (None, what is missing) when the
    curves end before the rule can decide.

    The points tested are the multiples of ``every`` from ``floor`` to below ``cap``, or to
    ``last_point`` included (validations at epoch ends fall between them and are not tested); at the
    cap the count is the cap whatever its gain."""
    end = cap if last_point is None else last_point + 1
    for u in range(-(-floor // every) * every, end, every):
        if not all(u in g for g in per_run.values()):
            return None, f"undecided: the rule at update {u} needs every run's validation at updates {u} and {u + window}"
        if all(g[u] < min_gain for g in per_run.values()):
            return u, f"every run improves by less than {min_gain:.0%} over the {window} updates after {u}"
    tested = "below the cap" if last_point is None else f"{last_point}"
    return cap, (f"no point from {floor} to {tested} has every run improving by less than {min_gain:.0%}: "
                 f"the count is the cap")


def table(curves: Dict[str, Curve], per_run: Dict[str, Dict[int, float]], window: int) -> List[str]:
    """The markdown table: every run's validation loss and its gain over ``window`` at every update."""
    names = list(curves)
    loss = {name: dict(curve) for name, curve in curves.items()}
    updates = sorted({u for curve in curves.values() for u, _ in curve})
    head = "| update | " + " | ".join(f"{n}: valid loss | {n}: gain over next {window}" for n in names) + " |"
    lines = [head, "|---" * (1 + 2 * len(names)) + "|"]
    for u in updates:
        cells = []
        for n in names:
            cells.append(f"{loss[n][u]:.3f}" if u in loss[n] else "")
            cells.append(f"{per_run[n][u]:+.2%}" if u in per_run[n] else "")
        lines.append(f"| {u} | " + " | ".join(cells) + " |")
    return lines


def run_name(path: Path) -> str:
    """``system/seedN`` of a run directory (or of the directory holding a train.log)."""
    run = path.parent if path.name == "train.log" else path
    return f"{run.parent.name}/{run.name}"


def main(argv: Optional[Sequence[str]] = None) -> int:
    p = argparse.ArgumentParser(prog="gpam update-count", description=__doc__.split("\n\n")[2],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", nargs="+", metavar="RUN_DIR|train.log", help="the pilot's runs (one per system)")
    p.add_argument("--floor", type=int, required=True, help="the smallest count the rule may choose")
    p.add_argument("--cap", type=int, required=True, help="the largest count; chosen when nothing earlier qualifies")
    p.add_argument("--last-point", type=int, help="the last point tested (default: the last multiple of --every "
                   "below the cap); the points after it are not candidates")
    p.add_argument("--every", type=int, default=250, help="the validation interval: the points tested (default 250)")
    p.add_argument("--window", type=int, default=500, help="updates over which the gain is measured (default 500)")
    p.add_argument("--min-gain", type=float, default=0.01, help="relative gain below which a run has flattened (default 0.01)")
    p.add_argument("--diverged", type=float, default=0.05, help="relative rise between validations called divergence (default 0.05)")
    args = p.parse_args(argv)
    if not 0 < args.floor <= args.cap or args.window <= 0 or args.every <= 0:
        p.error(f"need 0 < --floor <= --cap, --window > 0 and --every > 0 (got floor {args.floor}, cap {args.cap}, "
                f"window {args.window}, every {args.every})")
    if args.last_point is not None and not args.floor <= args.last_point < args.cap:
        p.error(f"--last-point must lie from --floor to below --cap (got {args.last_point}; floor {args.floor}, "
                f"cap {args.cap})")
    curves: Dict[str, Curve] = {}
    for given in args.runs:
        path = Path(given)
        log = path / "train.log" if path.is_dir() else path
        if not log.is_file():
            p.error(f"{given}: no train.log there; pass a run directory or its train.log")
        curve = parse_train_log(log)["valid"]
        if not curve:
            p.error(f"{log}: no validation records (fairseq's json log format, validation during training)")
        name = run_name(path)
        curves[name if name not in curves else given] = curve
    per_run = {name: gains(curve, args.window) for name, curve in curves.items()}
    print("\n".join(table(curves, per_run, args.window)))
    diverged = {name: d for name, curve in curves.items() if (d := divergences(curve, args.diverged))}
    for name, rises in diverged.items():
        for u0, u1, r in rises:
            print(f"\n{name}: validation loss rose {r:.1%} from update {u0} to {u1}: divergence (> {args.diverged:.0%})")
    count, reason = decide(per_run, args.floor, args.cap, args.window, args.min_gain, args.every, args.last_point)
    last = "" if args.last_point is None else f", last point {args.last_point}"
    rule = (f"floor {args.floor}, cap {args.cap}{last}, every {args.every}, window {args.window}, "
            f"gain below {args.min_gain:.0%}")
    print(f"\nupdate count: {count if count is not None else '-'} ({rule}): {reason}")
    return 1 if count is None or diverged else 0


if __name__ == "__main__":
    sys.exit(main())
