"""The offline demo (`gpam study demo`) end to end (its --smoke size) on stand-in data in the contract's layout:
it trains both systems, prints and writes the side-by-side table with its scale, and the
results collector regenerates that table from the files the demo keeps."""

import csv
import re
import shlex
import subprocess
import sys

import pytest

from standin_data import REPO, held_lock, prepare, run_gpam, tree_snapshot


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo")
    prepare("ci_deen", root / "data", vocab=600, limit=800, eval_limit=60)
    prepare("ci_lm", root / "data", limit=300)
    out = root / "results" / "demo-smoke"
    proc = run_gpam("study", "demo", "--smoke", "--data-root", root / "data", "--work", root / "work",
                    "--out", out, timeout=1200)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return out, proc


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_demo_prints_and_writes_the_side_by_side_table(demo):
    out, proc = demo
    summary = (out / "summary.md").read_text()
    assert "Scaled-down CPU run" in summary and "not a reproduction of the paper" in summary
    assert "Wall time of the whole demo" in summary
    rows = read_csv(out / "summary.csv")
    metrics = {r["metric"] for r in rows}
    assert {"tokenized BLEU", "sacreBLEU", "test perplexity"} <= metrics
    for row in rows:
        # both systems measured, with the same seed, the difference taken from those two numbers
        base, dagpam = float(row["baseline"]), float(row["compared"])
        assert row["seeds (baseline/compared)"] == "1/1"
        assert float(row["difference"]) == pytest.approx(dagpam - base, abs=0.011)
        assert "params" in row["scale"] and "updates" in row["scale"] and "CPU cores" in row["scale"]
        assert row["paper baseline"] == "–"  # a CPU run is never put beside the paper's figures
    sacre = next(r for r in rows if r["metric"] == "sacreBLEU")
    # one seed: no winner, no p-value
    assert sacre["p (paired bootstrap, per seed)"] == "–" and sacre["better mean"] == "one seed: no conclusion"
    ppl = next(r for r in rows if r["metric"] == "test perplexity")
    assert float(ppl["baseline"]) > 1 and float(ppl["compared"]) > 1
    # printed too
    assert "test perplexity" in proc.stdout and "sacreBLEU" in proc.stdout
    assert "Scaled-down CPU run" in proc.stdout


def test_demo_keeps_the_scale_of_every_run_and_plots(demo):
    out, _ = demo
    runs = read_csv(out / "ci_deen.runs.csv") + read_csv(out / "ci_lm.runs.csv")
    assert sorted(r["system"] for r in runs) == ["dagpam-fixed0.2", "dagpam-fixed0.2", "softmax", "softmax"]
    for run in runs:
        assert int(run["parameters"]) > 0 and int(run["updates"]) > 0
        assert run["hardware"].startswith("CPU only")
    plots = sorted(p.name for p in out.glob("valid_loss.*.png"))
    assert len(plots) == 2
    for plot in plots:
        assert (out / plot).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_notes_command_regenerates_the_demo_table_from_its_logs(demo, tmp_path):
    out, _ = demo
    before = tree_snapshot(out)
    # the command NOTE.md gives, run where it says (the repository root), writing elsewhere
    command = re.search(r"from the repository root\):\n`(gpam collect [^`]+)`",
                        (out / "NOTE.md").read_text()).group(1)
    args = shlex.split(command)
    args[args.index("--out") + 1] = str(tmp_path)
    proc = subprocess.run([sys.executable, "-m", "gpam_tools", *args[1:]], cwd=REPO, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (tmp_path / "summary.csv").read_text() == (out / "summary.csv").read_text()
    assert (tmp_path / "ci_deen.md").read_text() == (out / "ci_deen.md").read_text()
    assert tree_snapshot(out) == before


def test_demo_refuses_an_unwritable_out_or_a_second_demo_before_any_work(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("keep me\n")
    data, work = tmp_path / "data", tmp_path / "work"
    proc = run_gpam("study", "demo", "--smoke", "--data-root", data, "--work", work, "--out", blocker / "demo")
    assert_refused(proc, f"cannot write to {blocker}: choose a writable --out")
    assert blocker.read_text() == "keep me\n"
    with held_lock(work / ".lock"):
        proc = run_gpam("study", "demo", "--smoke", "--data-root", data, "--work", work, "--out", tmp_path / "out")
    assert_refused(proc, f"another gpam study is writing {work} right now")
    assert not data.exists() and not (work / "runs").exists() and not (tmp_path / "out").exists()


def assert_refused(proc, phrase):
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-2000:])
    assert "Traceback" not in proc.stderr and phrase in proc.stderr, proc.stderr[-2000:]
    assert "Start iterating" not in proc.stdout + proc.stderr  # no training started


def test_demo_reports_one_seed_without_a_winner_with_translations_and_the_multi_seed_verdict(demo):
    out, proc = demo
    report = (out / "report.md").read_text()
    assert report in proc.stdout
    assert "one seed: no conclusion" in report and "unigram model" in report
    assert "better mean" not in report and "bootstrap" not in report
    assert "reference" in report and "softmax" in report and "dagpam-fixed0.2" in report
    assert "results/comparison" in report and "verdict" in report
