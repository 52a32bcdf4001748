"""gpam throughput: seconds per update read between fairseq's train_inner records (no training here)."""

import json
import sys

import pytest

from gpam_tools import cli
from gpam_tools.stats.throughput import rates, updates_of

# A stand-in for fairseq-train: five json train_inner records, 5 updates apart, each after busy CPU work,
# printed without flushing (as fairseq does into a pipe): the tool must see each when it is written.
FAKE_TRAIN = r"""
import json, time
for k in range(1, 6):
    end = time.process_time() + 0.05
    while time.process_time() < end:
        pass
    print("2026-01-01 00:00:00 | INFO | train_inner | " + json.dumps({"num_updates": str(5 * k), "loss": "1"}))
print("done training (json)")
"""


def test_updates_are_read_from_train_inner_lines_only():
    line = '2026-12-03 08:35:06 | INFO | train_inner | {"epoch": 1, "num_updates": "15", "wps": "230.5"}'
    assert updates_of(line) == 15
    assert updates_of(line.replace("train_inner", "valid")) is None
    assert updates_of("2026-12-03 | INFO | train_inner | {cut off") is None


def test_rates_leave_out_the_first_interval():
    got = rates([(5, 100.0, 10.0), (10, 110.0, 14.0), (25, 140.0, 26.0)])
    assert got["wall_s_per_update"] == pytest.approx(2.0) and got["cpu_s_per_update"] == pytest.approx(0.8)
    assert got["updates_timed"] == 20
    with pytest.raises(ValueError, match="fewer than two"):
        rates([(5, 1.0, 1.0)])


def test_command_times_a_run_and_keeps_its_log(tmp_path, capsys):
    log, out = tmp_path / "run.log", tmp_path / "run.json"
    assert cli.main(["throughput", "--log", str(log), "--json", str(out), "--",
                     sys.executable, "-c", FAKE_TRAIN]) == 0
    figures = json.loads(out.read_text())
    assert figures["updates_timed"] == 20 and figures["first_update"] == 5
    # 4 intervals of 5 updates, each after >= 0.05 s of CPU work: >= 0.01 CPU s per update
    assert figures["cpu_s_per_update"] >= 0.009
    assert figures["wall_s_per_update"] >= figures["cpu_s_per_update"] * 0.9
    assert log.read_text().count("train_inner") == 5
    assert "cpu_s_per_update" in capsys.readouterr().out


def test_a_failing_command_reports_its_exit_code(tmp_path, capsys):
    assert cli.main(["throughput", "--log", str(tmp_path / "x.log"), "--",
                     sys.executable, "-c", "import sys; sys.exit(3)"]) == 3
    assert "exited with 3" in capsys.readouterr().err


def _record(updates, train_wall):
    return ("2026-01-01 00:00:00 | INFO | train_inner | "
            + json.dumps({"num_updates": str(updates), "train_wall": str(train_wall)}))


def test_overhead_is_training_time_over_step_time(tmp_path, capsys):
    done = tmp_path / "done.log"
    done.write_text("\n".join([_record(10, 40), _record(20, 60), "x | INFO | valid | {}",
                               "x | INFO | fairseq_cli.train | done training in 110.0 seconds"]) + "\n")
    resumed = tmp_path / "resumed.log"
    resumed.write_text("\n".join(["x | INFO | fairseq.trainer | Loaded checkpoint c.pt (epoch 1 @ 10 updates)",
                                  _record(20, 50), "x | done training in 60.0 seconds"]) + "\n")
    assert cli.main(["throughput", "--overhead", str(done), str(resumed)]) == 0
    captured = capsys.readouterr()
    assert "steps 100 s, training 110 s, overhead x1.100" in captured.out
    assert "resumed run" in captured.err and str(resumed) not in captured.out
    assert cli.main(["throughput", "--overhead", str(resumed)]) == 2


def test_summary_tabulates_the_figures_files(tmp_path, capsys):
    (tmp_path / "mt6.json").write_text(json.dumps({"first_update": 5, "last_update": 20, "wall_s_per_update": 8.891,
                                                   "cpu_s_per_update": 4.944}))
    assert cli.main(["throughput", "--summary", str(tmp_path / "mt6.json")]) == 0
    assert "| mt6 | 5-20 | 8.89 | 4.94 |" in capsys.readouterr().out
    (tmp_path / "bad.json").write_text("{}")
    assert cli.main(["throughput", "--summary", str(tmp_path / "bad.json")]) == 2
