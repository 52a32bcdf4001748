"""The committed result tables are what `gpam collect` makes of the committed logs: rebuilding
each directory's tables from its kept runs gives the same markdown and CSV files, byte for byte
(a hand edit, or a table left stale after new runs, fails here)."""

from pathlib import Path

import pytest

from standin_data import REPO, run_gpam

RESULTS = REPO / "results"
COMPARISON_TITLE = "Measured comparison at CPU scale: softmax baseline vs daGPAM"

# directory -> (refs, title, note file): the arguments its producer passes to gpam collect
COLLECTED = {
    "comparison": ("comparison/refs", COMPARISON_TITLE, "comparison_note.md"),
    "comparison/pilot": ("comparison/refs", "Pilot: 250-update translation runs", "comparison/pilot/NOTE.md"),
    "comparison/superseded": ("comparison/refs", "Superseded: resumed translation runs",
                              "comparison/superseded/NOTE.md"),
    "demo": ("demo/refs", "Offline demo: softmax baseline vs daGPAM", "demo/NOTE.md"),
}
NOT_FROM_COLLECT = {"NOTE.md", "README.md", "report.md"}  # report.md: the demo's report (gpam demo-report)


def tables(directory: Path) -> dict:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())
            if p.suffix in (".md", ".csv") and p.name not in NOT_FROM_COLLECT}


@pytest.mark.parametrize("name", sorted(COLLECTED))
def test_committed_tables_are_regenerated_from_the_committed_logs(name, tmp_path):
    directory = RESULTS / name
    assert (directory / "runs").is_dir(), f"results/{name}/runs is missing: its tables cannot be regenerated"
    refs, title, note = COLLECTED[name]
    proc = run_gpam("collect", directory / "runs", "--refs", RESULTS / refs, "--out", tmp_path,
                    "--title", title, "--note-file", RESULTS / note)
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
