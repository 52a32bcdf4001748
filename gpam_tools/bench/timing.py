"""Interleaved timing: variants run one after another in rotating order within each round, so a load
change on shared cores hits all of them alike; ratios are medians over rounds of per-round ratios."""

import gc
import statistics
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List


@dataclass
class Timing:
    """Median seconds per variant and the median over rounds of the ratio to the baseline."""

    median: Dict[str, float]
    ratio: Dict[str, float]
    spread: Dict[str, float] = field(default_factory=dict)  # (max - min) / median of the ratios


def interleaved(runs: Dict[str, Callable[[], None]], rounds: int, warmup: int,
                baseline: str) -> Timing:
    names = list(runs)
    for _ in range(warmup):
        for name in names:
            runs[name]()
    times: Dict[str, List[float]] = {name: [] for name in names}
    for r in range(rounds):
        order = names[r % len(names):] + names[: r % len(names)]
        for name in order:
            gc.collect()
            start = time.perf_counter()
            runs[name]()
            times[name].append(time.perf_counter() - start)
    median = {n: statistics.median(t) for n, t in times.items()}
    ratio, spread = {}, {}
    for n in names:
        per_round = [a / b for a, b in zip(times[n], times[baseline])]
        ratio[n] = statistics.median(per_round)
        spread[n] = (max(per_round) - min(per_round)) / ratio[n]
    return Timing(median, ratio, spread)
