"""`gpam study` (here with the comparison study, the multi-seed comparison) and `gpam keep-runs` (what
a finished run keeps): the order of the runs, resumption from kept logs, bad input, that only light
files are kept, and one study end to end (en->de, on stand-in data)."""

import csv
import json

import pytest

from standin_data import held_lock, prepare, run_gpam


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """Stand-ins of the comparison's datasets: a run's path follows from its data's prep-info.json."""
    root = tmp_path_factory.mktemp("study-data")
    prepare("deen_docs", root, vocab=600, limit=400, eval_limit=30)
    prepare("en_lm", root, limit=50)
    return root


def run(*args):
    return run_gpam(*args, timeout=60)


def listed(data, out_dir, *parts, extra=()):
    proc = run("study", "comparison", *parts, "--list", "--out", out_dir, "--data-root", data, *extra)
    assert proc.returncode == 0, proc.stderr
    return [line.split() for line in proc.stdout.splitlines()]


def test_runs_are_ordered_seed_by_seed_across_studies(data, tmp_path):
    rows = listed(data, tmp_path, "mt-preln", "lm", extra=("--seeds", "1,2", "--mt-updates", "40"))
    paths = [path for _, path in rows]
    assert len(paths) == 12 and all(state == "pending" for state, _ in rows)
    assert paths[0] == "deen_docs.de-en/cpu-preln-u40/softmax/seed1"
    assert paths[3] == "en_lm/cpu-preln/softmax/seed1"
    # every seed-1 run comes before any seed-2 run, so a cut-off campaign holds complete seeds
    assert all(p.endswith("seed1") for p in paths[:6]) and all(p.endswith("seed2") for p in paths[6:])
    systems = {p.split("/")[2] for p in paths}
    assert systems == {"softmax", "dagpam-fixed0.2", "dagpam-layer0.2"}


def test_the_translation_direction_is_in_the_run_path(data, tmp_path):
    rows = listed(data, tmp_path, "mt-postln", extra=("--mt-direction", "en-de", "--seeds", "2"))
    assert [p for _, p in rows] == [f"deen_docs.en-de/cpu-postln-u1000/{s}/seed2"
                                    for s in ("softmax", "dagpam-fixed0.2", "dagpam-layer0.2")]


def test_a_study_trains_evaluates_keeps_and_tabulates_en_de(data, tmp_path):
    """mt-preln en->de with 2 updates per run: every system trained in that direction, every test
    sentence scored against the German references, only light files kept, a one-seed table (no p-value)."""
    out = tmp_path / "out"
    proc = run_gpam("study", "comparison", "mt-preln", "--mt-direction", "en-de", "--seeds", "1",
                      "--mt-updates", "2", "--jobs", "3", "--data-root", data, "--work", tmp_path / "work",
                      "--out", out)
    assert proc.returncode == 0, proc.stderr[-3000:]
    group = out / "runs" / "deen_docs.en-de" / "cpu-preln-u2"
    for system in ("softmax", "dagpam-fixed0.2", "dagpam-layer0.2"):
        run_dir = group / system / "seed1"
        result = json.loads((run_dir / "eval-translation.checkpoint_last.json").read_text())
        assert (result["src"], result["tgt"], result["hypotheses"]) == ("en", "de", 30)
        assert "--source-lang en --target-lang de" in (run_dir / "command.sh").read_text()
        assert not list(run_dir.glob("*.pt"))
    assert sorted(p.name for p in (out / "refs").iterdir()) == ["deen_docs.test.raw.de"]
    table = (out / "deen_docs.md").read_text()
    assert "deen_docs, en-de, cpu preset" in table and "seed 1: n/a" not in table
    with open(out / "deen_docs.csv", newline="") as f:
        sacre = [r for r in csv.DictReader(f) if r["metric"] == "sacreBLEU"]
    assert len(sacre) == 2  # one per daGPAM system; one seed names no winner and prints no p-value
    assert all(r["better mean"] == "one seed: no conclusion" and r["p (paired bootstrap, per seed)"] == "–"
               for r in sacre)


def test_lambda_sweep_runs_once_at_the_first_seed(data, tmp_path):
    rows = listed(data, tmp_path, "lambda-sweep", extra=("--seeds", "4,5"))
    assert [p for _, p in rows] == [f"en_lm/cpu-preln/dagpam-fixed{lam}/seed4" for lam in ("0.05", "0.1", "0.4", "0.8")]


def test_a_run_with_kept_scores_counts_as_done(data, tmp_path):
    done = tmp_path / "runs/en_lm/cpu-preln/softmax/seed1"
    done.mkdir(parents=True)
    (done / "eval-lm.checkpoint_last.json").write_text("{}")
    half = tmp_path / "runs/en_lm/cpu-preln/dagpam-fixed0.2/seed1"  # trained but never scored
    half.mkdir(parents=True)
    (half / "train.log").write_text("")
    states = dict((p, s) for s, p in listed(data, tmp_path, "lm", extra=("--seeds", "1")))
    assert states["en_lm/cpu-preln/softmax/seed1"] == "done"
    assert states["en_lm/cpu-preln/dagpam-fixed0.2/seed1"] == "pending"


def test_a_cut_off_run_resumes_only_from_a_readable_checkpoint_of_the_same_code(data, tmp_path):
    """A run stopped mid-training resumes from its last checkpoint in --work; one whose checkpoint
    is unreadable (cut off while written), or was trained by other code, starts again. (That
    fairseq's resume is exact is tests/test_resume.py's job.)"""
    import torch

    from gpam_tools.run.fingerprint import code_fingerprint

    runs = tmp_path / "work/runs/en_lm/cpu-preln"
    state = {"model": {"w": torch.zeros(2)}, "optimizer_history": [{"num_updates": 150}]}
    for system, code in (("softmax", code_fingerprint()), ("dagpam-fixed0.2", code_fingerprint()),
                         ("dagpam-layer0.2", "0123456789abcdef")):
        (runs / system / "seed1").mkdir(parents=True)
        torch.save(state, runs / system / "seed1/checkpoint_last.pt")
        (runs / system / "seed1/.code").write_text(code + "\n")
    broken = runs / "dagpam-fixed0.2/seed1/checkpoint_last.pt"
    broken.write_bytes(broken.read_bytes()[:100])
    rows = listed(data, tmp_path / "out", "lm", extra=("--seeds", "1", "--work", tmp_path / "work"))
    assert rows == [["resume", "en_lm/cpu-preln/softmax/seed1", "(from", "update", "150)"],
                    ["pending", "en_lm/cpu-preln/dagpam-fixed0.2/seed1"],
                    ["pending", "en_lm/cpu-preln/dagpam-layer0.2/seed1"]]


def test_bad_input_stops_before_any_work(tmp_path):
    cases = [
        (("mt-big",), "unknown part 'mt-big'"),
        ((), "name at least one part"),
        (("lm", "--seeds", "1;2"), "--seeds must be a comma-separated list of integers"),
        (("lm", "--jobs", "0"), "takes positive integers, not '0'"),
        (("mt-preln", "--mt-direction", "fr-en"), "--mt-direction takes de-en or en-de"),
        (("--collect-only",), "holds no runs yet"),
    ]
    for args, message in cases:
        proc = run("study", "comparison", *args, "--out", tmp_path / "out", "--work", tmp_path / "work")
        assert proc.returncode == 2 and message in proc.stderr, (args, proc.stderr)
    assert not (tmp_path / "out").exists() and not (tmp_path / "work").exists()


def test_keep_runs_copies_light_files_only(tmp_path):
    run_dir = tmp_path / "runs/ds/cpu-preln/softmax/seed1"
    run_dir.mkdir(parents=True)
    light = ["run-info.json", "train.log", "command.sh", "eval-lm.checkpoint_last.json",
             "eval-lm.checkpoint_last.log", "hyps.checkpoint_last.test.detok.en"]
    for name in light:
        (run_dir / name).write_text(json.dumps({"name": name}))
    (run_dir / "checkpoint_last.pt").write_bytes(b"\0" * 1024)
    (run_dir / "tensorboard").mkdir()
    (run_dir / "tensorboard" / "events").write_text("x")
    dest = tmp_path / "kept"
    proc = run("keep-runs", tmp_path / "runs", dest, "ds/cpu-preln/softmax/seed1")
    assert proc.returncode == 0, proc.stderr
    kept = dest / "ds/cpu-preln/softmax/seed1"
    assert sorted(p.name for p in kept.iterdir()) == sorted(light)
    assert json.loads((kept / "train.log").read_text()) == {"name": "train.log"}
    # copying again replaces the run in one step and leaves no staging directory behind
    (run_dir / "train.log").write_text("second")
    assert run("keep-runs", tmp_path / "runs", dest).returncode == 0
    assert (kept / "train.log").read_text() == "second"
    assert sorted(p.name for p in kept.parent.iterdir()) == ["seed1"]


def test_keep_runs_refuses_a_directory_that_is_not_a_run(tmp_path):
    (tmp_path / "runs/x").mkdir(parents=True)
    proc = run("keep-runs", tmp_path / "runs", tmp_path / "kept", "x")
    assert proc.returncode == 2 and "is not a run (no run-info.json)" in proc.stderr
    assert not (tmp_path / "kept" / "x").exists()


def test_unwritable_directories_and_a_second_runner_are_refused(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("keep me\n")
    for flag in ("--out", "--work"):
        dirs = {"--out": tmp_path / "out", "--work": tmp_path / "work", flag: blocker / "sub"}
        proc = run("study", "comparison", "lm", *[x for kv in dirs.items() for x in kv])
        assert proc.returncode == 2, proc.stderr
        assert f"cannot write to {blocker / 'sub'}: choose a writable {flag}" in proc.stderr
    assert blocker.read_text() == "keep me\n"

    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    with held_lock(work / ".lock"):
        proc = run("study", "comparison", "lm", "--out", tmp_path / "out", "--work", work)
    assert proc.returncode == 2
    assert f"another gpam study is writing {work} right now" in proc.stderr
    assert not (work / "runs").exists() and not (work / "logs").exists()


def test_the_code_fingerprint_follows_the_plugin_sources_and_the_run_layer(tmp_path):
    from gpam_tools.run.fingerprint import RUN_LAYER, code_fingerprint

    (tmp_path / "fairseq_gpam/modules").mkdir(parents=True)
    (tmp_path / "fairseq_gpam/modules/attention.py").write_text("A = 1\n")
    for name in RUN_LAYER:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("RECIPE = 1\n")
    first = code_fingerprint(tmp_path)
    assert len(first) == 16 and code_fingerprint(tmp_path) == first
    (tmp_path / "fairseq_gpam/modules/attention.py").write_text("A = 2\n")
    second = code_fingerprint(tmp_path)
    (tmp_path / RUN_LAYER[0]).write_text("RECIPE = 2\n")
    third = code_fingerprint(tmp_path)
    (tmp_path / "fairseq_gpam/README.txt").write_text("not code\n")
    assert len({first, second, third}) == 3 and code_fingerprint(tmp_path) == third


def test_a_dataset_that_is_not_prepared_is_refused_with_the_command_that_prepares_it(tmp_path):
    out, work = tmp_path / "out", tmp_path / "work"
    proc = run("study", "own-corpus", "--dataset", "mine.es-en", "--data-root", tmp_path / "data",
               "--out", out, "--work", work)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "mine.es-en is not prepared" in proc.stderr and "gpam prepare custom --name mine.es-en" in proc.stderr
    assert not out.exists() and not work.exists()
    proc = run("study", "own-corpus", "--out", out, "--work", work)
    assert proc.returncode == 2 and "--dataset is required" in proc.stderr


def test_the_studies_are_listed_and_an_unknown_one_is_named(tmp_path):
    proc = run("study")
    assert proc.returncode == 0
    names = [line.split()[0] for line in proc.stdout.splitlines()[1:]]
    assert {"alternatives", "comparison", "demo", "own-corpus"} <= set(names)
    proc = run("study", "nosuch", "--out", tmp_path / "out")
    assert proc.returncode == 2 and "unknown study 'nosuch': choose one of" in proc.stderr
    assert not (tmp_path / "out").exists()


def test_collect_only_rebuilds_the_committed_demo_byte_for_byte(tmp_path):
    """`--collect-only` keeps the note the study wrote (with its wall time) and regenerates the same tables."""
    import shutil

    from standin_data import REPO

    copy = tmp_path / "demo"
    shutil.copytree(REPO / "results" / "demo", copy)
    proc = run_gpam("study", "demo", "--collect-only", "--out", copy, "--data-root", tmp_path / "nodata", timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    for committed in sorted((REPO / "results" / "demo").iterdir()):
        if committed.is_file():
            assert (copy / committed.name).read_bytes() == committed.read_bytes(), committed.name


def test_evaluation_options_a_task_does_not_take_are_left_out_for_it():
    """own-corpus works on translation or LM data: generation limits go to translation runs only."""
    from gpam_tools.study.specs import own_corpus
    from gpam_tools.study.schedule import PlannedRun
    from gpam_tools.run.run_spec import RunSpec

    part = own_corpus.study(dataset="any").parts[0]
    run = PlannedRun(part, RunSpec(dataset="any"), None)
    assert run.evaluate_options("translation") == {"checkpoint": "last", "max_len_a": 1.2, "max_len_b": 10}
    assert run.evaluate_options("language_modeling") == {"checkpoint": "last"}
