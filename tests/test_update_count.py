"""``gpam update-count``: the plan's rule for the main runs' length, read from pilots' validation curves."""

import json

from gpam_tools.stats import update_count


def pilot_log(tmp_path, system: str, losses: dict):
    """A run directory whose train.log holds fairseq's json validation records ``{update: loss}``."""
    run = tmp_path / system / "seed1"
    run.mkdir(parents=True)
    lines = [f"2026-12-03 10:00:00 | INFO | valid | " + json.dumps({"epoch": 1, "valid_loss": str(loss),
                                                                   "valid_num_updates": str(u)})
             for u, loss in losses.items()]
    (run / "train.log").write_text("\n".join(lines) + "\n")
    return str(run)


def curve(start: float, drops: list, every: int = 250) -> dict:
    """Losses at every, 2*every, ...: start, then minus each drop in turn."""
    out, loss = {}, start
    for i, drop in enumerate([0.0] + drops):
        loss -= drop
        out[every * (i + 1)] = round(loss, 4)
    return out


def test_the_first_point_where_every_run_has_flattened_is_chosen(tmp_path, capsys):
    # losses at 250..3000: a flattens (< 1% over the next 500) from 2000, b only from 2250
    a = pilot_log(tmp_path, "a", curve(8.0, [1.0, 0.8, 0.5, 0.3, 0.2, 0.1, 0.1, 0.02, 0.02, 0.01, 0.01]))
    b = pilot_log(tmp_path, "b", curve(8.0, [1.0, 0.8, 0.5, 0.3, 0.2, 0.1, 0.1, 0.05, 0.02, 0.01, 0.01]))
    assert update_count.main([a, b, "--floor", "2000", "--cap", "2500"]) == 0
    out = capsys.readouterr().out
    assert "update count: 2250 " in out
    # the table shows a's gain at 2000: (L(2000) - L(2500)) / L(2000)
    assert "| 2000 | 5.000 | +0.80% | 5.000 | +1.40% |" in out


def test_still_falling_below_the_cap_gives_the_cap(tmp_path, capsys):
    steady = curve(8.0, [0.2] * 10)
    a, b = pilot_log(tmp_path, "a", steady), pilot_log(tmp_path, "b", steady)
    assert update_count.main([a, b, "--floor", "2000", "--cap", "2500"]) == 0
    assert "update count: 2500 " in capsys.readouterr().out


def test_logs_too_short_to_decide_say_which_update_is_missing(tmp_path, capsys):
    short = curve(8.0, [0.2] * 8)                   # ends at 2250: the point 2000 needs 2500
    a, b = pilot_log(tmp_path, "a", short), pilot_log(tmp_path, "b", short)
    assert update_count.main([a, b, "--floor", "2000", "--cap", "2500"]) == 1
    assert "undecided: the rule at update 2000 needs every run's validation at updates 2000 and 2500" in \
        capsys.readouterr().out
    early = pilot_log(tmp_path, "c", curve(8.0, [0.2, 0.2]))   # ends at 750, long before the floor
    assert update_count.main([early, "--floor", "2000", "--cap", "2500"]) == 1
    assert "undecided: the rule at update 2000" in capsys.readouterr().out


def test_only_points_on_the_validation_grid_are_tested(tmp_path, capsys):
    # an epoch-end validation at 2100 that has flattened is not a point of the rule (every 250)
    losses = curve(8.0, [0.2] * 11)
    losses[2100], losses[2600] = 6.5, 6.48           # between their neighbours; gain 0.3% at 2100
    a = pilot_log(tmp_path, "a", dict(sorted(losses.items())))
    assert update_count.main([a, "--floor", "2000", "--cap", "2500"]) == 0
    assert "update count: 2500 " in capsys.readouterr().out


def test_a_rise_beyond_five_percent_is_reported_as_divergence(tmp_path, capsys):
    rising = curve(8.0, [0.2, -0.6] + [0.0] * 9)     # 7.8 -> 8.4 at update 750: +7.7%
    a = pilot_log(tmp_path, "a", rising)
    assert update_count.main([a, "--floor", "250", "--cap", "2500"]) == 1
    assert "a/seed1: validation loss rose 7.7% from update 500 to 750: divergence" in capsys.readouterr().out


def test_a_pilot_that_ends_at_the_cap_tests_up_to_the_last_point_its_logs_cover(tmp_path, capsys):
    # losses at 250..3000, still falling 2% per 500 updates: the point 2750 would need update 3250
    steady = curve(8.0, [0.1] * 11)
    a = pilot_log(tmp_path, "a", steady)
    assert update_count.main([a, "--floor", "1500", "--cap", "3000"]) == 1
    assert "the rule at update 2750 needs every run's validation at updates 2750 and 3250" in capsys.readouterr().out
    assert update_count.main([a, "--floor", "1500", "--cap", "3000", "--last-point", "2500"]) == 0
    assert "update count: 3000 (floor 1500, cap 3000, last point 2500," in capsys.readouterr().out
    # flattened by 2250 (gain 0.4%): chosen, whatever --last-point says about later points
    flat = pilot_log(tmp_path, "b", curve(8.0, [0.5] * 8 + [0.01] * 3))
    assert update_count.main([flat, "--floor", "1500", "--cap", "3000", "--last-point", "2500"]) == 0
    assert "update count: 2250 " in capsys.readouterr().out
