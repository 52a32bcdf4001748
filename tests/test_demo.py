"""The offline demo end to end (its --smoke size) on stand-in data in the contract's layout:
it trains both systems, prints and writes the side-by-side table with its scale, and the
results collector regenerates that table from the files the demo keeps."""

import csv
import re
import shlex
import subprocess
import sys

import pytest

from standin_data import REPO, prepare, run_script, tree_snapshot


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo")
    prepare("ci_deen", root / "data", vocab=600, limit=800, eval_limit=60)
    prepare("ci_lm", root / "data", limit=300)
    out = root / "results" / "demo-smoke"
    proc = run_script("scripts/demo.sh", "--smoke", "--data-root", root / "data", "--work", root / "work",
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
        base, dagpam = float(row["baseline"]), float(row["daGPAM"])
        assert row["seeds (baseline/daGPAM)"] == "1/1"
        assert float(row["difference"]) == pytest.approx(dagpam - base, abs=0.011)
        assert "params" in row["scale"] and "updates" in row["scale"] and "CPU cores" in row["scale"]
        assert row["paper baseline"] == "–"  # a CPU run is never put beside the paper's figures
    sacre = next(r for r in rows if r["metric"] == "sacreBLEU")
    assert re.fullmatch(r"seed 1: \d\.\d{3}", sacre["p (paired bootstrap, per seed)"])
    ppl = next(r for r in rows if r["metric"] == "test perplexity")
    assert float(ppl["baseline"]) > 1 and float(ppl["daGPAM"]) > 1
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
    command = re.search(r"from the repository root\):\n`(python results/collect\.py [^`]+)`",
                        (out / "NOTE.md").read_text()).group(1)
    args = shlex.split(command)
    args[args.index("--out") + 1] = str(tmp_path)
    proc = subprocess.run([sys.executable, *args[1:]], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (tmp_path / "summary.csv").read_text() == (out / "summary.csv").read_text()
    assert (tmp_path / "ci_deen.md").read_text() == (out / "ci_deen.md").read_text()
    assert tree_snapshot(out) == before
