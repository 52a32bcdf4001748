"""End to end through ``gpam train`` / ``gpam evaluate`` / ``gpam score`` on tiny seeded models and a
stand-in dataset in the data contract's layout: train -> evaluate (BLEU, perplexity) -> average, and the
checks that keep a result honest (every test sentence translated, checkpoints of one model only)."""

import json
import math
import re
from pathlib import Path

import pytest
import torch

from standin_data import prepare, run_gpam, run_script


def logged_params(run_dir: Path) -> int:
    """The parameter count fairseq-train printed for the run's model."""
    found = re.search(r"num\. shared model params: ([0-9,]+)", (run_dir / "train.log").read_text())
    return int(found.group(1).replace(",", ""))


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    prepare("ci_deen", root, vocab=600, limit=600, eval_limit=50)
    prepare("ci_lm", root, limit=300)
    return root


@pytest.fixture(scope="module")
def mt_run(data_root, tmp_path_factory):
    """A tiny daGPAM de->en model, trained 12 updates, with epoch checkpoints."""
    save_root = tmp_path_factory.mktemp("runs")
    proc = run_gpam("train", "ci_deen", "--preset", "tiny", "--max-update", "12",
                      "--data-root", data_root, "--save-root", save_root, "--seeds", "3",
                      "--", "--max-tokens", "1024", "--save-interval-updates", "6")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    run_dir = save_root / "ci_deen.de-en" / "tiny-postln" / "dagpam-fixed0.2" / "seed3"
    return run_dir, proc


def test_train_writes_command_script_copy_log_and_scale(mt_run):
    run_dir, proc = mt_run
    for name in ("checkpoint_last.pt", "checkpoint_best.pt", "train.log", "command.sh", "run-info.json", ".code"):
        assert (run_dir / name).is_file(), name
    command = (run_dir / "command.sh").read_text()
    assert "--arch gpam_transformer_tiny" in command and "--seed 3" in command
    assert "--criterion gpam_label_smoothed_cross_entropy" in command
    # the pass-through argument comes last and wins; run-info accounts for it
    info = json.loads((run_dir / "run-info.json").read_text())
    assert info["max_tokens"] == 1024 and info["update_freq"] == 1 and info["max_update"] == 12
    assert info["effective_batch_tokens"] == 1024 * info["workers"]
    assert info["system"] == "dagpam-fixed0.2" and info["seed"] == "3" and info["train_lines"] == "600"
    # the code it was trained with: the fingerprint a cut-off run must match to resume
    assert info["code_fingerprint"] == (run_dir / ".code").read_text().strip()
    # the log is tee'd: what fairseq printed is in the file
    log = (run_dir / "train.log").read_text()
    assert '"train_num_updates": "12"' in log and "train_gpam_neg_mass" in log
    assert "done training" in proc.stdout


def test_evaluate_translation_scores_every_sentence(mt_run):
    run_dir, _ = mt_run
    proc = run_gpam("evaluate", run_dir, "--checkpoint", "last",
                      "--max-len-a", "1.2", "--max-len-b", "5", "--batch-size", "7")
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads((run_dir / "eval-translation.checkpoint_last.json").read_text())
    # 50 test sentences in batches of 7: the last batch is partial and must still be translated
    assert result["test_sentences"] == result["hypotheses"] == 50
    assert result["sacrebleu_signature"].startswith("nrefs:1|case:mixed|eff:no|tok:13a")
    assert 0 <= result["sacrebleu"] <= 100 and 0 <= result["bleu_tokenized"] <= 100
    assert "BLEU4 = " in result["fairseq_bleu_line"]
    hyps = (run_dir / result["hypotheses_file"]).read_text().splitlines()
    assert len(hyps) == 50
    assert result["updates"] == 12 and result["arch"] == "gpam_transformer_tiny"
    assert result["params"] == logged_params(run_dir)
    assert "compound" not in " ".join(result)  # De-En: no compound splitting


def test_scorer_refuses_a_missing_hypothesis_and_keeps_the_old_result(mt_run, tmp_path):
    run_dir, _ = mt_run
    generate = run_dir / "generate.checkpoint_last.test.txt"
    if not generate.exists():
        pytest.skip("needs test_evaluate_translation_scores_every_sentence to have run first")
    lines = generate.read_text().splitlines(keepends=True)
    dropped = [l for l in lines if not re.match(r"[HDSTP]-49\t", l)]
    short = tmp_path / "generate.txt"
    short.write_text("".join(dropped))
    out = tmp_path / "result.json"
    out.write_text('{"earlier": true}\n')
    info = json.loads((run_dir / "run-info.json").read_text())
    ref = Path(info["data_bin"]).parents[1] / "text" / "ci_deen" / "test.raw.en"
    proc = run_gpam("score", short, "--ref", ref, "--out", out)
    assert proc.returncode == 2
    assert "49 hypotheses for 50 test sentences" in proc.stderr
    assert "--required-batch-size-multiple 1" in proc.stderr
    assert out.read_text() == '{"earlier": true}\n'
    proc = run_gpam("score", generate, "--ref", ref, "--out", out,
                      "--set-count", "params=5.8M")
    assert proc.returncode == 2 and "--set-count takes KEY=N with N a whole number" in proc.stderr
    assert out.read_text() == '{"earlier": true}\n'


def test_compound_split_bleu_splits_hyphens():
    from gpam_tools.run.scoring import compound_split

    assert compound_split("ein Rhein-Main-Gebiet und Karl-Heinz") == \
        "ein Rhein ##AT##-##AT## Main ##AT##-##AT## Gebiet und Karl ##AT##-##AT## Heinz"
    assert compound_split("- no -- change") == "- no -- change"


def test_average_checkpoints_is_the_parameter_mean(mt_run, tmp_path):
    run_dir, _ = mt_run
    torch.serialization.add_safe_globals([__import__("argparse").Namespace])
    state = torch.load(run_dir / "checkpoint_last.pt", weights_only=True)
    avg_dir = tmp_path / "avg"
    avg_dir.mkdir()
    for epoch, scale in ((1, 1.0), (2, 3.0), (3, 8.0)):
        copy = dict(state)
        copy["model"] = {k: v * scale if v.is_floating_point() else v for k, v in state["model"].items()}
        torch.save(copy, avg_dir / f"checkpoint{epoch}.pt")
    proc = run_gpam("average-checkpoints", "--last", "2", "--out", avg_dir / "avg.pt", avg_dir)
    assert proc.returncode == 0, proc.stderr
    averaged = torch.load(avg_dir / "avg.pt", weights_only=True)["model"]
    key = "encoder.layers.0.fc1.weight"
    torch.testing.assert_close(averaged[key], state["model"][key] * 5.5)  # mean of x3 and x8 (the last two)


def test_evaluation_averages_the_newest_checkpoints_of_a_run(mt_run):
    """``gpam evaluate --average N`` scores checkpoint_avgN.pt, the mean of the run's newest N checkpoints."""
    from gpam_tools.run.evaluate import average_checkpoints

    run_dir, _ = mt_run
    states = [torch.load(run_dir / f"checkpoint_1_{u}.pt", weights_only=True)["model"] for u in (6, 12)]
    averaged = torch.load(average_checkpoints(run_dir, 2), weights_only=True)["model"]
    key = "encoder.layers.0.fc1.weight"
    torch.testing.assert_close(averaged[key], (states[0][key] + states[1][key]) / 2)
    (run_dir / "checkpoint_avg2.pt").unlink()


def test_average_refuses_checkpoints_of_different_models(mt_run, lm_run, tmp_path):
    run_dir, _ = mt_run
    out = tmp_path / "avg.pt"
    proc = run_gpam("average-checkpoints", "--out", out,
                      run_dir / "checkpoint_last.pt", lm_run / "checkpoint_last.pt")
    assert proc.returncode == 2
    assert "is not the same model" in proc.stderr and "average checkpoints of one run only" in proc.stderr
    assert not out.exists() and not out.with_name("avg.pt.tmp").exists()


@pytest.fixture(scope="module")
def lm_run(data_root, tmp_path_factory):
    save_root = tmp_path_factory.mktemp("lmruns")
    proc = run_gpam("train", "ci_lm", "--preset", "tiny", "--attention", "softmax",
                      "--max-update", "6", "--data-root", data_root, "--save-root", save_root)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return save_root / "ci_lm" / "tiny-preln" / "softmax" / "seed1"


def test_evaluate_lm_states_context_window_and_tokens_per_sample(lm_run):
    proc = run_gpam("evaluate", lm_run, "--context-window", "16")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "tokens per sample 64, context window 16" in proc.stdout
    result = json.loads((lm_run / "eval-lm.checkpoint_best.json").read_text())
    assert result["tokens_per_sample"] == 64 and result["context_window"] == 16
    assert result["arch"] == "transformer_lm" and result["tokens_scored"] > 1000
    assert result["params"] == logged_params(lm_run) and result["updates"] == 6
    assert math.isclose(result["perplexity"], 2 ** result["loss_base2"], rel_tol=1e-3)
