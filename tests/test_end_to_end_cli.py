"""fairseq's own command-line tools with ``--user-dir fairseq_gpam``, on real text shipped in the repo.

preprocess -> train -> generate (BLEU) for translation, preprocess -> train -> eval-lm
(perplexity) for language modelling, checkpoints saved, resumed and loaded under
PyTorch's ``weights_only`` default.
"""

import os
import re
import subprocess
import sys

import pytest
import torch

from conftest import CORPORA, PLUGIN_DIR

ENV = {**os.environ, "PYTHONWARNINGS": "ignore", "OMP_NUM_THREADS": "2"}
BIN = os.path.dirname(sys.executable)


def run(tool, *args, cwd):
    """Run a fairseq console script; return its combined output, failing the test with it on error."""
    proc = subprocess.run([os.path.join(BIN, tool), *map(str, args)], cwd=cwd, env=ENV,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=600)
    assert proc.returncode == 0, f"{tool} failed:\n{proc.stdout[-4000:]}"
    return proc.stdout


TRAIN_COMMON = ["--user-dir", PLUGIN_DIR, "--optimizer", "adam", "--lr", "2e-3", "--lr-scheduler",
                "inverse_sqrt", "--warmup-updates", "10", "--dropout", "0", "--seed", "1", "--no-progress-bar",
                "--log-format", "simple", "--log-interval", "10", "--num-workers", "0", "--no-epoch-checkpoints"]


@pytest.fixture(scope="module")
def translation_run(tmp_path_factory):
    """A tiny daGPAM translation model trained for 40 updates on the ci_deen sample."""
    work = tmp_path_factory.mktemp("mt")
    d = CORPORA / "ci_deen"
    run("fairseq-preprocess", "--source-lang", "de", "--target-lang", "en", "--trainpref", d / "train",
        "--validpref", d / "valid", "--testpref", d / "test", "--destdir", "bin", "--joined-dictionary",
        "--thresholdsrc", "2", "--thresholdtgt", "2", "--workers", "1", cwd=work)
    log = run("fairseq-train", "bin", "--task", "translation", "--arch", "gpam_transformer_tiny",
              "--criterion", "gpam_label_smoothed_cross_entropy", "--label-smoothing", "0.1",
              "--gpam-diagnostics-interval", "10", "--max-tokens", "2048", "--max-update", "40",
              "--save-dir", "ckpt", *TRAIN_COMMON, cwd=work)
    return work, log


def test_training_logs_fairseq_loss_and_gpam_metrics(translation_run):
    _, log = translation_run
    assert "done training" in log
    valid = [line for line in log.splitlines() if "valid on 'valid' subset" in line][-1]
    for key in ("loss", "nll_loss", "ppl", "gpam_lambda_neg", "gpam_neg_mass", "gpam_res_enc0", "gpam_res_dec1"):
        assert re.search(rf"\| {key} [0-9.]+", valid), f"{key} missing from: {valid}"
    # fairseq reports ppl = 2 ** nll_loss (base 2)
    nll = float(re.search(r"\| nll_loss ([0-9.]+)", valid).group(1))
    ppl = float(re.search(r"\| ppl ([0-9.]+)", valid).group(1))
    assert ppl == pytest.approx(2 ** nll, rel=2e-3)


def test_generate_translates_every_test_sentence_and_scores_bleu(translation_run):
    work, _ = translation_run
    out = run("fairseq-generate", "bin", "--user-dir", PLUGIN_DIR, "--path", "ckpt/checkpoint_last.pt",
              "--beam", "5", "--batch-size", "32", "--required-batch-size-multiple", "1", "--max-len-a", "1.2",
              "--max-len-b", "10", "--scoring", "sacrebleu", cwd=work)
    hypotheses = [line for line in out.splitlines() if line.startswith("H-")]
    assert len(hypotheses) == 200 == len((CORPORA / "ci_deen" / "test.en").read_text().splitlines())
    bleu = re.search(r"BLEU = ([0-9.]+)", out)
    assert bleu and 0.0 <= float(bleu.group(1)) <= 100.0


def test_checkpoint_loads_with_weights_only_and_resumes(translation_run):
    work, _ = translation_run
    ckpt = work / "ckpt" / "checkpoint_last.pt"
    # without the plugin the weights_only loader refuses the argparse.Namespace inside
    bare = subprocess.run([sys.executable, "-c", f"import torch; torch.load({str(ckpt)!r}, weights_only=True)"],
                          capture_output=True, text=True, env=ENV)
    assert bare.returncode != 0 and "Namespace" in bare.stderr
    state = torch.load(ckpt, weights_only=True)  # the plugin (imported by conftest) allow-lists it
    assert any(k.endswith("neg_query_weight") for k in state["model"])
    log = run("fairseq-train", "bin", "--task", "translation", "--arch", "gpam_transformer_tiny",
              "--criterion", "gpam_label_smoothed_cross_entropy", "--label-smoothing", "0.1",
              "--max-tokens", "2048", "--max-update", "45", "--save-dir", "ckpt", *TRAIN_COMMON, cwd=work)
    assert re.search(r"Loaded checkpoint ckpt/checkpoint_last.pt \(epoch \d+ @ 40 updates\)", log)
    assert "num_updates 45" in log


def test_fairseq_baseline_checkpoint_loads_with_the_plugin(translation_run):
    work, _ = translation_run
    run("fairseq-train", "bin", "--task", "translation", "--arch", "transformer_tiny", "--criterion",
        "label_smoothed_cross_entropy", "--label-smoothing", "0.1", "--max-tokens", "2048", "--max-update", "5",
        "--save-dir", "ckpt_base", *TRAIN_COMMON, cwd=work)
    out = run("fairseq-generate", "bin", "--user-dir", PLUGIN_DIR, "--path", "ckpt_base/checkpoint_last.pt",
              "--beam", "5", "--batch-size", "64", "--required-batch-size-multiple", "1", "--max-len-a", "1.2",
              "--max-len-b", "10", cwd=work)
    assert "Translated 200 sentences" in out


def test_language_model_trains_and_eval_lm_reports_perplexity(tmp_path):
    d = CORPORA / "ci_lm"
    run("fairseq-preprocess", "--only-source", "--trainpref", d / "wiki.train.tokens", "--validpref",
        d / "wiki.valid.tokens", "--testpref", d / "wiki.test.tokens", "--destdir", "bin", "--thresholdsrc", "3",
        "--workers", "1", cwd=tmp_path)
    run("fairseq-train", "bin", "--task", "language_modeling", "--arch", "gpam_transformer_lm_tiny",
        "--criterion", "gpam_cross_entropy", "--gpam-lambda-mode", "layer", "--tokens-per-sample", "64",
        "--max-tokens", "2048", "--max-update", "30", "--save-dir", "ckpt", *TRAIN_COMMON, cwd=tmp_path)
    out = run("fairseq-eval-lm", "bin", "--user-dir", PLUGIN_DIR, "--path", "ckpt/checkpoint_last.pt",
              "--gen-subset", "test", "--tokens-per-sample", "64", "--context-window", "32", "--max-tokens",
              "2048", "--num-workers", "0", cwd=tmp_path)
    ppl = float(re.search(r"Perplexity: ([0-9.]+)", out).group(1))
    vocab = len((tmp_path / "bin" / "dict.txt").read_text().splitlines()) + 4
    assert 1.0 < ppl < vocab, "30 updates must beat the uniform distribution over the vocabulary"
