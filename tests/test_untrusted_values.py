"""Nothing read from a checkpoint or a prep-info.json runs as a command (issue 16, item 1).

A checkpoint's config and a dataset's prep-info.json are data someone else may have written.
Every string field is filled with shell metacharacters that would create a marker file if any
command evaluated them (``eval``, an unquoted expansion, a shell string); each command that reads
them (gpam train, gpam evaluate, gpam score and the scripts that wrap them) either works with the
odd value or refuses it with a clear message, and the marker never appears.
"""

import json
import shutil
from pathlib import Path

import pytest
import torch

from standin_data import REPO, prepare, run_gpam, run_script, tree_snapshot


def payloads(marker: Path):
    return [f"x;touch {marker};", f"$(touch {marker})", f"`touch {marker}`", f"'; touch {marker}; '",
            f"\"; touch {marker}; \"", f"x\ntouch {marker}"]


def refused(proc, *phrases):
    assert proc.returncode == 2, (proc.returncode, proc.stdout[-1500:], proc.stderr[-1500:])
    assert "Traceback" not in proc.stderr
    for phrase in phrases:
        assert phrase in proc.stderr, (phrase, proc.stderr[-1500:])


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Data (ci_deen, ci_lm), a tiny LM run, and the marker path no command may create."""
    root = tmp_path_factory.mktemp("untrusted")
    data = root / "data"
    prepare("ci_deen", data, vocab=400, limit=200, eval_limit=20)
    prepare("ci_lm", data, limit=200)
    proc = run_gpam("train", "ci_lm", "--preset", "tiny", "--attention", "softmax", "--max-update", "3",
                    "--data-root", data, "--save-root", root / "runs")
    assert proc.returncode == 0, proc.stderr[-3000:]
    return root, data, root / "runs" / "ci_lm" / "tiny-preln" / "softmax" / "seed1", root / "PWNED"


def crafted_checkpoint(path: Path, marker: Path, task: str, data: str, model=None):
    """A checkpoint whose every config string holds shell metacharacters (``data`` as given)."""
    odd = payloads(marker)
    state = {
        "model": model or {"decoder.embed_tokens.weight": torch.zeros(8, 4)},
        "cfg": {"task": {"_name": task, "data": data, "source_lang": odd[1], "target_lang": odd[2],
                         "tokens_per_sample": 64},
                "model": {"_name": odd[3], "arch": odd[4]}, "common": {"user_dir": odd[0]}},
        "args": None,
        "optimizer_history": [{"num_updates": 3, "criterion_name": odd[5]}],
        "extra_state": {"note": odd[0]},
    }
    torch.save(state, path)
    return path


def test_crafted_checkpoint_runs_nothing(world, tmp_path):
    root, data, lm_run, marker = world
    odd = payloads(marker)
    run = tmp_path / "run"
    run.mkdir()
    # a translation checkpoint naming a data directory that is a shell command
    crafted_checkpoint(run / "checkpoint_best.pt", marker, "translation", odd[0])
    for proc in (run_gpam("evaluate", run), run_script("scripts/evaluate_translation.sh", run)):
        refused(proc, "does not exist")
    # its languages are commands too: refused against real data as a direction the data does not hold
    proc = run_gpam("evaluate", run, "--data", data / "data-bin" / "ci_deen")
    refused(proc, "does not match the data")
    # a language-model checkpoint: the same for fairseq-eval-lm
    crafted_checkpoint(run / "checkpoint_last.pt", marker, "language_modeling", odd[1])
    for proc in (run_gpam("evaluate", run, "--checkpoint", "last"),
                 run_script("scripts/evaluate_lm.sh", run, "--checkpoint", "last")):
        refused(proc, "does not exist")
    # a task name that is a command
    crafted_checkpoint(run / "checkpoint_best.pt", marker, odd[2], odd[0])
    refused(run_gpam("evaluate", run), "gpam evaluate scores translation and language_modeling models")
    # resuming a run whose checkpoint_last.pt was crafted: refused, nothing written
    target = root / "runs" / "ci_lm" / "tiny-preln" / "softmax" / "seed9"
    target.mkdir(parents=True)
    shutil.copy(run / "checkpoint_last.pt", target / "checkpoint_last.pt")
    before = tree_snapshot(root / "runs")
    proc = run_gpam("train", "ci_lm", "--preset", "tiny", "--attention", "softmax", "--seeds", "9",
                    "--data-root", data, "--save-root", root / "runs")
    refused(proc, "holds architecture", "holds a checkpoint of another model")
    assert tree_snapshot(root / "runs") == before
    shutil.rmtree(target)
    assert not marker.exists()


def test_a_checkpoint_trained_on_an_oddly_named_directory_is_evaluated(world, tmp_path):
    """The odd value works: the data path, metacharacters and all, is only ever a path."""
    root, data, lm_run, marker = world
    odd_root = tmp_path / f"data $(touch {marker}) `touch {marker}`"
    shutil.copytree(data / "data-bin" / "ci_lm", odd_root / "data-bin" / "ci_lm")
    state = torch.load(lm_run / "checkpoint_last.pt", weights_only=True)
    state["cfg"]["task"]["data"] = str(odd_root / "data-bin" / "ci_lm")
    run = tmp_path / "run; touch PWNED"
    run.mkdir()
    torch.save(state, run / "checkpoint_last.pt")
    proc = run_gpam("evaluate", run, "--checkpoint", "last", "--context-window", "8")
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads((run / "eval-lm.checkpoint_last.json").read_text())
    assert result["perplexity"] > 1 and result["tokens_per_sample"] == 64
    assert not marker.exists() and not (run / "PWNED").exists() and not (REPO / "PWNED").exists()


def test_crafted_prep_info_runs_nothing(world, tmp_path):
    root, data, _, marker = world
    odd = payloads(marker)
    crafted = tmp_path / "data"
    shutil.copytree(data / "data-bin" / "ci_deen", crafted / "data-bin" / "ci_deen")
    shutil.copytree(data / "text" / "ci_deen", crafted / "text" / "ci_deen")
    info_path = crafted / "data-bin" / "ci_deen" / "prep-info.json"
    info = json.loads(info_path.read_text())
    # every free-text field: accepted as the text it is
    info.update(dataset=odd[0], tokenizer=odd[1], bpe={"type": "sentencepiece", "note": odd[2]},
                source=odd[3], recipe=odd[4], command=odd[5], created=odd[0])
    info_path.write_text(json.dumps(info))
    runs = tmp_path / "runs"
    proc = run_gpam("train", "ci_deen", "--preset", "tiny", "--max-update", "1", "--data-root", crafted,
                    "--save-root", runs, "--", "--max-tokens", "512", "--disable-validation")
    assert proc.returncode == 0, proc.stderr[-3000:]
    run_dir = runs / "ci_deen.de-en" / "tiny-postln" / "dagpam-fixed0.2" / "seed1"
    run_info = json.loads((run_dir / "run-info.json").read_text())
    assert run_info["dataset"] == "ci_deen"  # runs are named by the directory, not by prep-info's text
    proc = run_gpam("evaluate", run_dir, "--checkpoint", "last", "--beam", "1", "--max-len-a", "0", "--max-len-b", "3")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads((run_dir / "eval-translation.checkpoint_last.json").read_text())["hypotheses"] == 20
    # fields the pipeline acts on: refused with the field named
    for field, value, message in (("langs", [odd[0], "en"], "lists languages"),
                                  ("task", odd[1], "names task"),
                                  ("langs", f"de-{odd[2]}", "lists languages")):
        bad = dict(info, **{field: value})
        info_path.write_text(json.dumps(bad))
        refused(run_gpam("train", "ci_deen", "--preset", "tiny", "--data-root", crafted, "--save-root", runs), message)
    refused(run_script("scripts/train.sh", "ci_deen", "--preset", "tiny", "--data-root", crafted,
                       "--save-root", runs), "lists languages")
    assert not marker.exists()
