"""The committed result tables are what `gpam collect` makes of the committed logs: rebuilding
each directory's tables from its kept runs gives the same markdown and CSV files, byte for byte
(a hand edit, or a table left stale after new runs, fails here)."""

from pathlib import Path

import pytest

from standin_data import REPO, run_gpam

RESULTS = REPO / "results"
COMPARISON_TITLE = "Measured comparison at CPU scale: softmax baseline vs daGPAM"
DEEP_TITLE = "Deep study at CPU scale: softmax baseline vs daGPAM (6+6-layer translation, 8-layer LM)"

# directory -> (refs, title, note file or None): the arguments its producer passes to gpam collect
COLLECTED = {
    "comparison": ("comparison/refs", COMPARISON_TITLE, "comparison_note.md"),
    "comparison/pilot": ("comparison/refs", "Pilot: 250-update translation runs", "comparison/pilot/NOTE.md"),
    "comparison/superseded": ("comparison/refs", "Superseded: resumed translation runs",
                              "comparison/superseded/NOTE.md"),
    "demo": ("demo/refs", "Offline demo: softmax baseline vs daGPAM", "demo/NOTE.md"),
    "deep": ("deep/refs", DEEP_TITLE, None),
}
NOT_FROM_COLLECT = {"NOTE.md", "README.md", "report.md"}  # report.md: the demo's report (gpam demo-report)
# a pilot's update count (gpam update-count, results/study-plan.md section 6): file -> (runs, its options)
UPDATE_COUNTS = {"deep/update-count.deen_docs.md": ("deep/runs/deen_docs.de-en/cpu-deep-preln-pilot",
                                                    "--floor", "2000", "--cap", "2500"),
                 "deep/update-count.en_lm.md": ("deep/runs/en_lm/cpu-deep-preln-pilot",
                                                "--floor", "1500", "--cap", "3000", "--last-point", "2500")}


def tables(directory: Path) -> dict:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())
            if p.suffix in (".md", ".csv") and p.name not in NOT_FROM_COLLECT
            and not p.name.startswith("update-count.")}


@pytest.mark.parametrize("name", sorted(COLLECTED))
def test_committed_tables_are_regenerated_from_the_committed_logs(name, tmp_path):
    directory = RESULTS / name
    assert (directory / "runs").is_dir(), f"results/{name}/runs is missing: its tables cannot be regenerated"
    refs, title, note = COLLECTED[name]
    proc = run_gpam("collect", directory / "runs", "--refs", RESULTS / refs, "--out", tmp_path,
                    "--title", title, *(("--note-file", RESULTS / note) if note else ()))
    assert proc.returncode == 0, proc.stderr[-3000:]
    committed, rebuilt = tables(directory), tables(tmp_path)
    assert committed, f"results/{name} holds no tables"
    assert sorted(committed) == sorted(rebuilt)
    for file_name, content in rebuilt.items():
        assert committed[file_name] == content, f"results/{name}/{file_name} differs from what its logs give"


def test_the_first_alternatives_table_is_regenerated_from_its_logs(tmp_path):
    """The alternatives study's first runs (kept in their own layout) give its committed table."""
    directory = RESULTS / "analysis" / "alternatives"
    proc = run_gpam("collect", "runs", "--out", tmp_path, cwd=directory)
    assert proc.returncode == 0, proc.stderr[-3000:]
    for name in ("alternatives.md", "alternatives.csv"):
        assert (tmp_path / name).read_bytes() == (directory / name).read_bytes(), name


@pytest.mark.parametrize("name", sorted(UPDATE_COUNTS))
def test_committed_update_counts_are_what_the_pilot_logs_give(name):
    runs, *options = UPDATE_COUNTS[name]
    proc = run_gpam("update-count", *sorted((RESULTS / runs).glob("*/seed1")), *options)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout == (RESULTS / name).read_text(), f"results/{name} differs from what its logs give"
