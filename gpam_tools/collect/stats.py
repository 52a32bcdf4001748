"""Statistics over seeds: mean and sample standard deviation, the paired t-test over seeds with its
interval and minimum detectable effect, and sacreBLEU's paired bootstrap resampling (Koehn 2004) of two
systems' hypotheses for one seed."""

import statistics

from gpam_tools.stats import paired_power

BOOTSTRAP_SAMPLES = 1000


def mean_std(values):
    """(mean, sample standard deviation) of the values that are not None; None where undefined."""
    values = [v for v in values if v is not None]
    if not values:
        return None, None
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else None)


def fmt(mean, std, digits=2):
    """'mean ± std' ('–' without a mean, no '±' without a spread)."""
    if mean is None:
        return "–"
    return f"{mean:.{digits}f}" + (f" ± {std:.{digits}f}" if std is not None else "")


def paired_bootstrap(base_hyps, sys_hyps, refs):
    """Two-sided p-value of the BLEU difference (sacreBLEU's paired bootstrap tests |BLEU_sys - BLEU_base|)."""
    from sacrebleu.metrics import BLEU
    from sacrebleu.significance import PairedTest

    test = PairedTest([("baseline", base_hyps), ("system", sys_hyps)], {"BLEU": BLEU()}, [refs],
                      test_type="bs", n_samples=BOOTSTRAP_SAMPLES)
    _, scores = test()
    return scores["BLEU"][1].p_value


def paired_seeds(base_vals, sys_vals):
    """The seeds with a value for both the baseline and the compared system, in order."""
    return sorted(s for s in set(base_vals) & set(sys_vals) if base_vals[s] is not None and sys_vals[s] is not None)


def paired_over_seeds(diffs):
    """('p (n=N)', '[low, high]', 'MDE (n=N, sd S)') of the paired differences d_i = system - baseline, one
    per seed both systems have (the seed fixes initialisation and data order in both):

    - the two-sided paired t-test of "mean d = 0";
    - the 95% t-interval of the mean difference;
    - the smallest |difference| the paired t-test on these n seeds detects with 80% power if the true
      spread is the measured sd.

    All three come from ``stats.paired_power``. With fewer than 2 pairs, or differences that are all equal,
    each is '–'."""
    if len(diffs) < 2 or max(diffs) == min(diffs):
        return "–", "–", "–"
    s = paired_power.summarize(diffs)
    mde = paired_power.minimum_detectable_effect(s.sd, s.n)
    return (f"{s.p_value:.3f} (n={s.n})", f"[{s.ci_low:+.2f}, {s.ci_high:+.2f}]",
            f"{mde:.2f} (n={s.n}, sd {s.sd:.2f})")
