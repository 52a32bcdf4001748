"""The deep study's specification (gpam_tools/study/specs/deep.py) expands to the runs results/study-plan.md plans."""

import json
from collections import Counter

import pytest

from gpam_tools import cli


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """deen_docs and en_lm as listing sees them: a run's path follows from prep-info.json (nothing is trained)."""
    root = tmp_path_factory.mktemp("deep-data")
    for name, task, langs in (("deen_docs", "translation", ["de", "en"]), ("en_lm", "language_modeling", ["en"])):
        data_bin = root / "data-bin" / name
        data_bin.mkdir(parents=True)
        for split in ("train", "valid", "test"):
            for lang in langs:
                (data_bin / (f"{split}.de-en.{lang}.idx" if len(langs) == 2 else f"{split}.idx")).touch()
        (data_bin / "prep-info.json").write_text(json.dumps(
            {"dataset": name, "task": task, "langs": langs, "lines": {"train": 108024}}))
        (data_bin / "PREPARED").touch()
    return root


def listed(capsys, data, out_dir, *args):
    assert cli.main(["study", "deep", *args, "--list", "--out", str(out_dir), "--data-root", str(data)]) == 0
    return [line.split() for line in capsys.readouterr().out.splitlines()]


def test_main_parts_are_the_planned_paired_runs(data, tmp_path, capsys):
    rows = listed(capsys, data, tmp_path, "mt-preln", "lm", "mt-layer", "--seeds", "1,2,3,4,5,6,7,8")
    paths = [p for _, p in rows]
    assert all(state == "pending" for state, _ in rows)
    settings = Counter(p.rsplit("/", 1)[0] for p in paths)
    assert settings == {"deen_docs.de-en/cpu-deep-preln-u2500/softmax": 8,
                        "deen_docs.de-en/cpu-deep-preln-u2500/dagpam-fixed0.2": 8,
                        "deen_docs.de-en/cpu-deep-preln-u2500/dagpam-layer0.2": 8,
                        "en_lm/cpu-deep-preln-u3000/softmax": 8, "en_lm/cpu-deep-preln-u3000/dagpam-fixed0.2": 8}
    assert len(set(paths)) == len(paths) == 40                      # no run planned twice
    # seed by seed: a cut-off campaign holds whole pairs
    seeds = [int(p.rsplit("seed", 1)[1]) for p in paths]
    assert seeds == sorted(seeds)


def test_pilots_run_the_first_seed_only_and_options_reach_the_paths(data, tmp_path, capsys):
    rows = listed(capsys, data, tmp_path, "pilot-mt", "pilot-lm", "--seeds", "3,4")
    assert [p for _, p in rows] == ["deen_docs.de-en/cpu-deep-preln-pilot/softmax/seed3",
                                    "deen_docs.de-en/cpu-deep-preln-pilot/dagpam-fixed0.2/seed3",
                                    "en_lm/cpu-deep-preln-pilot/softmax/seed3",
                                    "en_lm/cpu-deep-preln-pilot/dagpam-fixed0.2/seed3"]
    rows = listed(capsys, data, tmp_path, "mt-postln", "--mt-updates", "3000", "--seeds-planned", "5")
    assert len(listed(capsys, data, tmp_path, "mt-preln")) == 20      # default: the primary's 10 seeds x 2 systems
    assert [p for _, p in rows][:2] == ["deen_docs.de-en/cpu-deep-postln-u3000/softmax/seed1",
                                        "deen_docs.de-en/cpu-deep-postln-u3000/dagpam-fixed0.2/seed1"]
    assert len(rows) == 10


def test_fewer_than_five_seeds_is_refused(data, tmp_path, capsys):
    assert cli.main(["study", "deep", "lm", "--list", "--seeds-planned", "3", "--out", str(tmp_path),
                     "--data-root", str(data)]) == 2
    assert "at least 5" in capsys.readouterr().err


def test_the_alternatives_table_and_its_shallow_reference(data, tmp_path, capsys):
    rows = listed(capsys, data, tmp_path, "alternatives", "shallow", "--seeds", "1,2,3")
    paths = [p for _, p in rows]
    systems = Counter(p.split("/")[2] for p in paths if "-L15-" in p)
    assert systems == {s: 3 for s in ("softmax", "dagpam-fixed0.2", "dagpam-layer0.2", "non", "nap", "coda",
                                      "diff", "cog")}
    assert [p for p in paths if "-L2-" in p] == ["en_lm/cpu-deep-preln-L2-u3000/softmax/seed1"]
