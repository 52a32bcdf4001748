"""Power of the paired t-test over seeds: the arithmetic behind a study's number of seeds.

A study trains a baseline and a system with the same seeds 1..n and compares them seed by seed:
d_i = score(system, seed i) - score(baseline, seed i). With the d_i modelled as independent
normal draws (mean delta, standard deviation sigma), the two-sided paired t-test at level alpha
rejects "delta = 0" when |mean(d)| / (sd(d) / sqrt(n)) > t_{1-alpha/2, n-1}. Its power against a
true difference delta is that of a non-central t with n-1 degrees of freedom and non-centrality
delta / (sigma / sqrt(n)) (e.g. Cohen 1988, ch. 2; the formula G*Power uses for "matched pairs").

Every function takes sigma as known. Planned from a few seeds, sigma is itself uncertain:
``sd_upper_bound`` gives a one-sided upper confidence bound to plan with instead.
"""

import math
from dataclasses import dataclass
from typing import Sequence

from scipy import optimize, stats

ALPHA = 0.05
TARGET_POWER = 0.8
MAX_SEEDS = 1000


@dataclass(frozen=True)
class PairedSummary:
    """Mean, sample standard deviation and two-sided (1 - alpha) t-interval of paired differences."""
    n: int
    mean: float
    sd: float
    ci_low: float
    ci_high: float
    p_value: float


def summarize(differences: Sequence[float], alpha: float = ALPHA) -> PairedSummary:
    """Summary of n >= 2 paired differences d_i (the t-interval mean +- t_{1-alpha/2,n-1} sd/sqrt(n))."""
    d = [float(x) for x in differences]
    n = len(d)
    if n < 2:
        raise ValueError(f"a paired spread needs at least 2 pairs, got {n}")
    mean = sum(d) / n
    sd = math.sqrt(sum((x - mean) ** 2 for x in d) / (n - 1))
    half = stats.t.ppf(1 - alpha / 2, n - 1) * sd / math.sqrt(n)
    if sd > 0:
        p_value = float(2 * stats.t.sf(abs(mean) / (sd / math.sqrt(n)), n - 1))
    else:
        p_value = 1.0 if mean == 0 else 0.0
    return PairedSummary(n, mean, sd, mean - half, mean + half, p_value)


def _check(sd: float, n: int, alpha: float) -> None:
    if not sd > 0:
        raise ValueError(f"the standard deviation of the differences must be > 0, got {sd}")
    if n < 2:
        raise ValueError(f"a paired t-test needs at least 2 pairs, got {n}")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must lie in (0, 1), got {alpha}")


def power(effect: float, sd: float, n: int, alpha: float = ALPHA) -> float:
    """Probability that the two-sided paired t-test on n pairs rejects delta = 0 when delta = ``effect``."""
    _check(sd, n, alpha)
    df = n - 1
    ncp = abs(effect) / (sd / math.sqrt(n))
    crit = stats.t.ppf(1 - alpha / 2, df)
    upper = float(stats.nct.sf(crit, df, ncp))
    # The wrong-side rejection term; scipy's nct returns nan deep in that tail (large df and ncp),
    # where the term is below the normal tail Phi(-crit - ncp), i.e. nil.
    lower = float(stats.nct.cdf(-crit, df, ncp))
    if not math.isfinite(lower):
        lower = 0.0
    if not math.isfinite(upper):
        upper = 1.0 - float(stats.nct.cdf(crit, df, ncp))
    return min(1.0, upper + lower)


def seeds_needed(effect: float, sd: float, target: float = TARGET_POWER, alpha: float = ALPHA,
                 max_seeds: int = MAX_SEEDS) -> int:
    """The smallest number of pairs n >= 2 whose power against ``effect`` reaches ``target``.

    Power grows with n, so a bisection over n finds it; raises ValueError past ``max_seeds``.
    """
    if effect == 0:
        raise ValueError("an effect of 0 cannot be detected with any number of seeds")
    if power(effect, sd, max_seeds, alpha) < target:
        raise ValueError(f"more than {max_seeds} pairs needed for power {target} against {effect} (sd {sd})")
    low, high = 2, max_seeds          # invariant: power(high) >= target; low may or may not reach it
    if power(effect, sd, low, alpha) >= target:
        return low
    while high - low > 1:
        mid = (low + high) // 2
        if power(effect, sd, mid, alpha) >= target:
            high = mid
        else:
            low = mid
    return high


def minimum_detectable_effect(sd: float, n: int, target: float = TARGET_POWER, alpha: float = ALPHA) -> float:
    """The |delta| that n pairs detect with probability ``target`` (the power curve inverted)."""
    _check(sd, n, alpha)
    if not alpha < target < 1:
        raise ValueError(f"the target power must lie in (alpha, 1), got {target}")
    upper = sd
    while power(upper, sd, n, alpha) < target:
        upper *= 2
    return float(optimize.brentq(lambda e: power(e, sd, n, alpha) - target, 0.0, upper, xtol=1e-10))


def sd_upper_bound(sd: float, n: int, confidence: float = 0.8) -> float:
    """One-sided upper confidence bound on sigma from a sample sd of n values: sd sqrt((n-1) / chi2_{1-c, n-1})."""
    if n < 2:
        raise ValueError(f"a standard deviation needs at least 2 values, got {n}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence}")
    return sd * math.sqrt((n - 1) / stats.chi2.ppf(1 - confidence, n - 1))
