"""gpam power: the paired t-test's power against simulation and published values, and the run reader."""

import json
import math

import numpy as np
import pytest
import sacrebleu
from scipy import stats

from gpam_tools import cli
from gpam_tools.stats import paired_power as pp
from gpam_tools.stats.seed_scores import read_runs, paired_differences, translation_scores


def simulated_power(effect, sd, n, trials=40000, seed=0, alpha=0.05):
    """Share of simulated paired studies (normal differences) whose two-sided t-test rejects."""
    rng = np.random.default_rng(seed)
    d = rng.normal(effect, sd, size=(trials, n))
    t = d.mean(axis=1) / (d.std(axis=1, ddof=1) / math.sqrt(n))
    return float(np.mean(np.abs(t) > stats.t.ppf(1 - alpha / 2, n - 1)))


@pytest.mark.parametrize("effect,sd,n", [(0.5, 0.44, 5), (0.5, 0.82, 10), (1.0, 1.0, 3), (-0.5, 1.45, 8)])
def test_power_matches_simulation(effect, sd, n):
    # 40k trials: the simulated share has a standard error below 0.0025
    assert pp.power(effect, sd, n) == pytest.approx(simulated_power(effect, sd, n), abs=0.01)


def test_power_at_no_effect_is_alpha_and_grows_with_seeds():
    assert pp.power(0.0, 1.0, 5) == pytest.approx(0.05, abs=1e-9)
    values = [pp.power(0.5, 0.82, n) for n in range(2, 1001)]
    assert all(np.isfinite(values)) and all(b >= a - 1e-12 for a, b in zip(values, values[1:]))
    assert values[-1] == pytest.approx(1.0)


def test_seeds_needed_matches_published_sample_sizes():
    # Matched-pairs t-test, two-sided alpha 0.05, power 0.8 (G*Power; Cohen 1988 table 2.4.1):
    # effect size d = 0.5 needs 34 pairs, d = 1 needs 10, d = 0.8 needs 15
    assert pp.seeds_needed(0.5, 1.0) == 34
    assert pp.seeds_needed(1.0, 1.0) == 10
    assert pp.seeds_needed(0.8, 1.0) == 15
    n = pp.seeds_needed(0.5, 0.82)
    assert pp.power(0.5, 0.82, n) >= 0.8 > pp.power(0.5, 0.82, n - 1)


def test_minimum_detectable_effect_inverts_power():
    for sd, n in [(0.44, 5), (0.2, 3), (1.6, 10)]:
        mde = pp.minimum_detectable_effect(sd, n)
        assert pp.power(mde, sd, n) == pytest.approx(0.8, abs=1e-6)
    # large n: the normal approximation (z_0.975 + z_0.8) sd / sqrt(n)
    assert pp.minimum_detectable_effect(1.0, 400) == pytest.approx((1.959964 + 0.841621) / 20, rel=0.01)


def test_interval_and_p_value_match_scipy():
    d = [0.52, -0.34, -0.05, 0.3, 0.11]
    s = pp.summarize(d)
    ref = stats.ttest_1samp(d, 0.0)
    low, high = ref.confidence_interval(0.95)
    assert (s.ci_low, s.ci_high) == (pytest.approx(low), pytest.approx(high))
    assert s.p_value == pytest.approx(ref.pvalue)
    assert s.sd == pytest.approx(np.std(d, ddof=1))


def test_sd_upper_bound_covers_the_true_sd_at_its_confidence():
    rng = np.random.default_rng(1)
    samples = rng.normal(0, 1.0, size=(20000, 3))
    bounds = pp.sd_upper_bound(1.0, 3) * samples.std(axis=1, ddof=1)     # the bound is linear in the sd
    assert pp.sd_upper_bound(0.5, 3) == pytest.approx(0.5 * pp.sd_upper_bound(1.0, 3))
    assert np.mean(bounds >= 1.0) == pytest.approx(0.8, abs=0.01)


def test_bad_values_are_refused():
    with pytest.raises(ValueError, match="at least 2"):
        pp.power(0.5, 1.0, 1)
    with pytest.raises(ValueError, match="> 0"):
        pp.power(0.5, 0.0, 5)
    with pytest.raises(ValueError, match="cannot be detected"):
        pp.seeds_needed(0.0, 1.0)


def test_bleu_without_brevity_penalty_is_bleu_over_its_penalty():
    refs = ["the cat sat on the mat today", "a dog ran in the park", "it was a sunny day at last"]
    hyps = ["the cat sat on the mat", "a dog ran in park", "it was a sunny day"]
    got = translation_scores(hyps, refs)
    bleu = sacrebleu.metrics.BLEU().corpus_score(hyps, [refs])
    assert bleu.bp < 1
    assert got["bleu_nobp"] == pytest.approx(bleu.score / bleu.bp)
    assert got["length_ratio"] == pytest.approx(bleu.sys_len / bleu.ref_len)
    assert got["chrf"] == pytest.approx(sacrebleu.metrics.CHRF().corpus_score(hyps, [refs]).score)


def _translation_run(root, setting, system, seed, hyps, refs):
    run = root / setting / system / f"seed{seed}"
    run.mkdir(parents=True)
    (run / "hyps.checkpoint_last.test.detok.en").write_text("\n".join(hyps) + "\n")
    score = round(sacrebleu.metrics.BLEU().corpus_score(hyps, [refs]).score, 2)
    (run / "eval-translation.checkpoint_last.json").write_text(json.dumps(
        {"dataset": "toy", "tgt": "en", "sacrebleu": score, "hypotheses_file": "hyps.checkpoint_last.test.detok.en"}))


def _lm_run(root, system, seed, ppl):
    run = root / "toy_lm" / "cpu" / system / f"seed{seed}"
    run.mkdir(parents=True)
    (run / "eval-lm.checkpoint_last.json").write_text(json.dumps({"perplexity": ppl}))


@pytest.fixture
def toy_runs(tmp_path):
    root = tmp_path / "runs"
    refs = ["the cat sat on the mat today", "a dog ran in the park", "it was a sunny day at last"]
    (tmp_path / "refs").mkdir()
    (tmp_path / "refs" / "toy.test.raw.en").write_text("\n".join(refs) + "\n")
    outputs = {"softmax": [["the cat sat on the mat", "a dog ran", "it was a day"],
                           ["the cat sat", "a dog ran in the park", "it was sunny"]],
               "dagpam": [["the cat sat on the mat today", "a dog ran", "it was a sunny day"],
                          ["the cat sat on mat", "a dog ran in the park", "it was a sunny day at last"]]}
    for system, per_seed in outputs.items():
        for seed, hyps in enumerate(per_seed, start=1):
            _translation_run(root, "toy.de-en/cpu", system, seed, hyps, refs)
    for system, ppls in {"softmax": [100.0, 104.0, 101.0], "dagpam": [99.0, 104.5, 99.0]}.items():
        for seed, ppl in enumerate(ppls, start=1):
            _lm_run(root, system, seed, ppl)
    return root, refs, outputs


def test_runs_are_paired_by_seed(toy_runs):
    root, refs, outputs = toy_runs
    diffs = paired_differences(read_runs([root]), "softmax")
    assert [round(d, 6) for _, d in diffs[("toy_lm/cpu", "dagpam", "perplexity")]] == [-1.0, 0.5, -2.0]
    nobp = diffs[("toy.de-en/cpu", "dagpam", "bleu_nobp")]
    expected = [translation_scores(outputs["dagpam"][i], refs)["bleu_nobp"]
                - translation_scores(outputs["softmax"][i], refs)["bleu_nobp"] for i in range(2)]
    assert [d for _, d in nobp] == pytest.approx(expected)


def test_command_reports_interval_power_and_mde(toy_runs, capsys):
    root, _, _ = toy_runs
    assert cli.main(["power", "--runs", str(root), "--metric", "perplexity", "--seeds", "3", "5"]) == 0
    out = capsys.readouterr().out
    s = pp.summarize([-1.0, 0.5, -2.0])
    row = next(line for line in out.splitlines() if line.startswith("| toy_lm/cpu | dagpam | test perplexity"))
    assert f"[{s.ci_low:+.2f}, {s.ci_high:+.2f}]" in row
    assert f"n=5: {100 * pp.power(-0.5, s.sd, 5):.0f}%" in row
    assert f"n=5: {pp.minimum_detectable_effect(s.sd, 5):.2f}" in row
    assert f"| {pp.seeds_needed(-0.5, s.sd)} / {pp.seeds_needed(-0.5, pp.sd_upper_bound(s.sd, 3))} |" in row


def test_plan_from_a_given_sd(capsys):
    assert cli.main(["power", "--sd", "1", "--effect", "0.5", "--seeds", "34"]) == 0
    out = capsys.readouterr().out
    assert "seeds for 80% power: 34" in out and "n=34: power 80.8%" in out


def test_bad_input_gets_a_message_not_a_traceback(tmp_path, capsys):
    assert cli.main(["power", "--runs", str(tmp_path / "missing")]) == 2
    assert "no such directory" in capsys.readouterr().err
    assert cli.main(["power", "--runs", str(tmp_path)]) == 2
    assert "check --runs and --baseline" in capsys.readouterr().err
    bad = tmp_path / "r" / "s" / "softmax" / "seed1"
    bad.mkdir(parents=True)
    (bad / "eval-lm.checkpoint_last.json").write_text("{not json")
    assert cli.main(["power", "--runs", str(tmp_path / "r")]) == 2
    assert "not a readable JSON file" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["power", "--runs", str(tmp_path), "--effect", "bleu"])


def test_the_study_plans_power_file_regenerates_from_the_committed_runs(capsys):
    """results/study-plan/power-comparison.md is `gpam power`'s output, byte for byte (the command is in it)."""
    import shlex
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    committed = (repo / "results" / "study-plan" / "power-comparison.md").read_text(encoding="utf-8")
    command = next(line for line in committed.splitlines() if line.startswith("Generated by `"))
    argv = shlex.split(command.split("`")[1])
    assert argv[:2] == ["gpam", "power"]
    cwd = Path.cwd()
    try:
        import os
        os.chdir(repo)
        assert cli.main(argv[1:]) == 0
    finally:
        os.chdir(cwd)
    assert capsys.readouterr().out == committed
