"""Bad input stops ``gpam train`` and ``gpam evaluate`` (and the scripts that wrap them) before any work,
with a message naming the problem and the fix, and leaves earlier results untouched."""

import json
import shutil

import pytest

from standin_data import CORPORA, held_lock, prepare, run_gpam, run_script, tree_snapshot


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    prepare("ci_deen", root, vocab=500, limit=300)
    # a second translation dataset with another vocabulary (the same text, another BPE size)
    prepare("deen_docs", root, vocab=700, limit=300, raw_dir=CORPORA / "ci_deen")
    return root


@pytest.fixture(scope="module")
def trained(data_root, tmp_path_factory):
    """Save root with one finished tiny daGPAM run (1 update) and an evaluation result."""
    save_root = tmp_path_factory.mktemp("runs")
    proc = run_gpam("train", "ci_deen", "--preset", "tiny", "--max-update", "1",
                      "--data-root", data_root, "--save-root", save_root)
    assert proc.returncode == 0, proc.stderr[-3000:]
    run_dir = save_root / "ci_deen.de-en" / "tiny-postln" / "dagpam-fixed0.2" / "seed1"
    (run_dir / "eval-translation.checkpoint_best.json").write_text('{"sacrebleu": 12.3}\n')
    return save_root, run_dir


def assert_refused(proc, *phrases):
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-2000:])
    assert "Traceback" not in proc.stderr
    for phrase in phrases:
        assert phrase in proc.stderr, (phrase, proc.stderr[-2000:])
    assert "Start iterating" not in proc.stdout + proc.stderr  # no training started


def train(data_root, save_root, *args):
    return run_gpam("train", *args, "--preset", "tiny", "--data-root", data_root, "--save-root", save_root)


def test_missing_data_dir(tmp_path, trained):
    save_root, _ = trained
    before = tree_snapshot(save_root)
    proc = train(tmp_path / "nowhere", save_root, "ci_deen")
    assert_refused(proc, "data-bin/ci_deen does not exist", "run `gpam prepare ci_deen`", "--data-root")
    assert tree_snapshot(save_root) == before


def test_empty_and_incomplete_data_dir(tmp_path, data_root, trained):
    save_root, _ = trained
    before = tree_snapshot(save_root)
    (tmp_path / "data-bin" / "wmt14.en-de").mkdir(parents=True)
    assert_refused(train(tmp_path, save_root, "wmt14.en-de"), "is empty", "run `gpam prepare wmt14.en-de`")
    partial = tmp_path / "data-bin" / "ci_deen"
    shutil.copytree(data_root / "data-bin" / "ci_deen", partial)
    (partial / "PREPARED").unlink()  # an interrupted preparation
    assert_refused(train(tmp_path, save_root, "ci_deen"), "incomplete (no PREPARED marker", "gpam prepare ci_deen")
    assert tree_snapshot(save_root) == before


def test_language_pair_not_in_the_data(data_root, trained):
    save_root, _ = trained
    before = tree_snapshot(save_root)
    proc = train(data_root, save_root, "ci_deen", "--src", "fr", "--tgt", "en")
    assert_refused(proc, "language pair fr-en does not match the data", "holds de-en",
                   "use --src de --tgt en or --src en --tgt de")
    assert tree_snapshot(save_root) == before


def test_unknown_dataset(data_root, trained):
    """Any prepared dataset trains; a name that is not prepared is refused, listing those that are."""
    save_root, _ = trained
    before = tree_snapshot(save_root)
    proc = train(data_root, save_root, "iwslt15.de-en")
    assert_refused(proc, "data-bin/iwslt15.de-en does not exist", "prepared there: ci_deen, deen_docs")
    assert tree_snapshot(save_root) == before


def test_resuming_a_run_dir_that_holds_another_architecture(data_root, trained):
    save_root, run_dir = trained
    # a daGPAM checkpoint where the softmax baseline of the same setting would resume from
    baseline_dir = run_dir.parent.parent / "softmax" / "seed1"
    baseline_dir.mkdir(parents=True)
    shutil.copy(run_dir / "checkpoint_last.pt", baseline_dir / "checkpoint_last.pt")
    before = tree_snapshot(save_root)
    proc = train(data_root, save_root, "ci_deen", "--attention", "softmax")
    assert_refused(proc, "holds architecture gpam_transformer_tiny, not the requested transformer_tiny",
                   "use a fresh --save-dir (or --tag)")
    assert tree_snapshot(save_root) == before
    shutil.rmtree(baseline_dir)


def test_evaluating_a_checkpoint_of_the_wrong_kind_or_data(data_root, trained):
    save_root, run_dir = trained
    before = tree_snapshot(save_root)
    # a translation checkpoint given to the language-model evaluation
    proc = run_gpam("evaluate", run_dir, "--task", "language_modeling")
    assert_refused(proc, "is a translation checkpoint (arch gpam_transformer_tiny)",
                   "pass a language_modeling checkpoint")
    # a checkpoint scored against data with another vocabulary
    proc = run_gpam("evaluate", run_dir, "--data", data_root / "data-bin" / "deen_docs")
    assert_refused(proc, "was trained with a", "the checkpoint belongs to other data")
    # the reverse direction of a de->en model
    proc = run_gpam("evaluate", run_dir, "--src", "en", "--tgt", "de")
    assert_refused(proc, "translates de->en, not en->de")
    # a missing checkpoint
    proc = run_gpam("evaluate", run_dir / "checkpoint9.pt")
    assert_refused(proc, "does not exist", "pass a run directory written by gpam train")
    # an option of the other task
    proc = run_gpam("evaluate", run_dir, "--context-window", "16")
    assert_refused(proc, "--context-window does not apply to a translation model")
    assert tree_snapshot(save_root) == before
    assert json.loads((run_dir / "eval-translation.checkpoint_best.json").read_text()) == {"sacrebleu": 12.3}


def test_unwritable_save_root_is_named(data_root, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("keep me\n")
    proc = train(data_root, blocker / "runs", "ci_deen")
    assert_refused(proc, f"cannot write to {blocker / 'runs'}/ci_deen.de-en/", "choose a writable --save-root")
    assert blocker.read_text() == "keep me\n"


def test_a_second_run_writing_the_same_directory_is_refused(data_root, trained):
    save_root, run_dir = trained
    (run_dir / ".eval.lock").touch()
    before = tree_snapshot(save_root)
    with held_lock(run_dir / ".lock"):  # train.sh still running in this run directory
        proc = train(data_root, save_root, "ci_deen", "--max-update", "2")
    assert_refused(proc, f"another training is writing {run_dir} right now")
    with held_lock(run_dir / ".eval.lock"):  # an evaluation of this run still going
        proc = run_gpam("evaluate", run_dir, "--checkpoint", "last")
    assert_refused(proc, f"another evaluation is writing {run_dir} right now")
    assert tree_snapshot(save_root) == before


def test_the_shell_wrappers_hand_everything_to_gpam(tmp_path, trained):
    """scripts/train.sh and the evaluation scripts keep their documented command lines (thin wrappers)."""
    save_root, run_dir = trained
    before = tree_snapshot(save_root)
    proc = run_script("scripts/train.sh", "ci_deen", "--preset", "tiny", "--data-root", tmp_path / "nowhere",
                      "--save-root", save_root)
    assert_refused(proc, "data-bin/ci_deen does not exist", "--data-root")
    proc = run_script("scripts/evaluate_lm.sh", run_dir)
    assert_refused(proc, "is a translation checkpoint (arch gpam_transformer_tiny)")
    proc = run_script("scripts/evaluate_translation.sh", run_dir / "checkpoint9.pt")
    assert_refused(proc, "does not exist")
    assert tree_snapshot(save_root) == before
    for script in ("scripts/train.sh", "scripts/evaluate_translation.sh", "scripts/evaluate_lm.sh"):
        proc = run_script(script, "--help")
        assert proc.returncode == 0 and proc.stdout.startswith("usage: gpam "), (script, proc.stderr[-1000:])
