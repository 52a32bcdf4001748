"""gpam warm-start (gpam_tools.checkpoint_tools.warm_start): a softmax checkpoint warm-starts a gpam_ model.

With lambda- = 0 the warm-started model computes what the baseline computes (same
log-probabilities to float rounding, same beam-search translations); with other flags W-
and the lambdas start as the flags say; fairseq-train continues from the result with
--restore-file; a checkpoint of another architecture is refused and nothing is written.
"""

import math
import re
import subprocess
import sys
from argparse import Namespace
from types import SimpleNamespace

import pytest
import torch

from conftest import PLUGIN_DIR, REPO, build_lm_model
from reliability_helpers import ENV, ci_deen_sample_bin, tool

from gpam_tools.checkpoint_tools import warm_start as WARM_START

BASELINE_TRAIN = ["--task", "translation", "--arch", "transformer_tiny", "--criterion", "label_smoothed_cross_entropy",
                  "--label-smoothing", "0.1", "--optimizer", "adam", "--lr", "5e-3", "--max-tokens", "512",
                  "--dropout", "0", "--seed", "1", "--cpu", "--num-workers", "0", "--disable-validation",
                  "--no-progress-bar", "--no-epoch-checkpoints"]


def warm_start_cli(*args, cwd):
    """The documented command, in its own interpreter."""
    return subprocess.run([sys.executable, "-m", "gpam_tools", "warm-start", *map(str, args)], cwd=cwd,
                          env={**ENV, "PYTHONPATH": str(REPO)},
                          capture_output=True, text=True, timeout=300)


def warm_start(capsys, *args):
    """gpam warm-start's main() in this process: (exit code, stdout, stderr)."""
    capsys.readouterr()
    code = WARM_START.main([str(a) for a in args])
    out, err = capsys.readouterr()
    return SimpleNamespace(returncode=code, stdout=out, stderr=err)


@pytest.fixture(scope="module")
def baseline(tmp_path_factory):
    """A transformer_tiny baseline trained for 8 updates on the ci_deen sample."""
    data = ci_deen_sample_bin(tmp_path_factory)
    work = tmp_path_factory.mktemp("warm")
    tool("fairseq-train", data, *BASELINE_TRAIN, "--max-update", 8, "--save-dir", work / "base", cwd=work)
    return data, work, work / "base" / "checkpoint_last.pt"


def load(path):
    from fairseq import checkpoint_utils

    models, cfg, task = checkpoint_utils.load_model_ensemble_and_task([str(path)])
    return models[0].eval(), cfg, task


def test_lambda_zero_warm_start_reproduces_the_baseline(baseline):
    data, work, base_ckpt = baseline
    out = warm_start_cli("--baseline", base_ckpt, "--arch", "gpam_transformer_tiny", "--gpam-lambda-neg", 0,
                         "--out", work / "init0.pt", cwd=work)
    assert out.returncode == 0, out.stderr
    ref, _, task = load(base_ckpt)
    gpam, cfg, _ = load(work / "init0.pt")
    assert cfg.model.arch == "gpam_transformer_tiny" and type(gpam).__name__ == "GpamTransformerModel"
    for key, value in ref.state_dict().items():
        assert torch.equal(gpam.state_dict()[key], value), key
    task.load_dataset("valid")
    batch = next(task.get_batch_iterator(task.dataset("valid"), max_tokens=2048).next_epoch_itr(shuffle=False))
    with torch.no_grad():
        want = ref.get_normalized_probs(ref(**batch["net_input"]), log_probs=True)
        got = gpam.get_normalized_probs(gpam(**batch["net_input"]), log_probs=True)
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
    generator = task.build_generator([ref], Namespace(beam=4, max_len_a=1.2, max_len_b=10))
    hyps = [[h[0]["tokens"].tolist() for h in task.inference_step(generator, [m], batch)] for m in (ref, gpam)]
    assert hyps[0] == hyps[1]


def test_flags_initialise_the_negative_query_and_lambdas(baseline, capsys):
    _, work, base_ckpt = baseline
    out = warm_start(capsys, "--baseline", base_ckpt, "--arch", "gpam_transformer_tiny", "--gpam-lambda-neg", 0.3,
                     "--gpam-lambda-mode", "head", "--gpam-lambda-max", 0.6, "--gpam-neg-query-init", "xavier",
                     "--gpam-positions", "encoder_self,decoder_self", "--out", work / "init_x.pt")
    assert out.returncode == 0, out.stderr
    weights = torch.load(work / "init_x.pt", weights_only=True)["model"]
    base = torch.load(base_ckpt, weights_only=True)["model"]
    thetas = {k: v for k, v in weights.items() if k.endswith("lambdas.theta")}
    negs = {k: v for k, v in weights.items() if k.endswith("neg_query_weight")}
    # tiny = 2+2 layers, 2 heads; encoder-decoder attention stays softmax
    assert len(thetas) == len(negs) == 4 and not any("encoder_attn" in k for k in negs)
    for theta in thetas.values():
        torch.testing.assert_close(0.6 * torch.sigmoid(theta), torch.full((2,), 0.3))
    for w in negs.values():
        head_dim = w.size(-1)
        assert not torch.allclose(w, -torch.eye(head_dim)) and w.abs().max() <= math.sqrt(6 / (2 * head_dim))
    assert all(torch.equal(weights[k], v) for k, v in base.items())


def test_fairseq_train_continues_from_the_warm_start(baseline, capsys):
    data, work, base_ckpt = baseline
    out = warm_start(capsys, "--baseline", base_ckpt, "--arch", "gpam_transformer_tiny", "--out", work / "init.pt")
    assert out.returncode == 0, out.stderr
    assert "lambda- = 0.2, W- = neg_identity" in out.stdout
    log = tool("fairseq-train", data, *BASELINE_TRAIN,
               "--arch", "gpam_transformer_tiny", "--user-dir", PLUGIN_DIR, "--restore-file", work / "init.pt",
               "--reset-optimizer", "--reset-dataloader", "--reset-meters", "--max-update", 2,
               "--save-dir", work / "tuned", "--log-format", "simple", "--log-interval", 1, cwd=work).stdout
    assert re.search(r"Loaded checkpoint \S+init.pt \(epoch 1 @ 0 updates\)", log)
    # starts from the baseline's trained weights: the first loss is far below a fresh model's
    first_line = next(line for line in log.splitlines() if "num_updates=1," in line)
    first = float(re.search(r" loss=([0-9.]+)", first_line).group(1))
    fresh = math.log2(len((data / "dict.en.txt").read_text().splitlines()) + 4)
    assert first < fresh - 0.5, (first, fresh)
    assert "done training" in log


def test_a_checkpoint_of_another_architecture_is_refused(baseline, capsys, tmp_path):
    _, work, base_ckpt = baseline
    out = warm_start(capsys, "--baseline", base_ckpt, "--arch", "gpam_transformer_iwslt_de_en", "--out",
                     tmp_path / "x.pt")
    assert out.returncode == 2 and not (tmp_path / "x.pt").exists()
    assert ("is a transformer_tiny model (fairseq model 'transformer'); --arch gpam_transformer_iwslt_de_en can "
            "only be warm-started from transformer_iwslt_de_en") in out.stderr
    assert "--arch gpam_transformer_tiny" in out.stderr


def test_a_language_model_checkpoint_is_refused_for_a_translation_model(baseline, capsys, tmp_path):
    _, work, _ = baseline
    _, lm = build_lm_model(tmp_path / "lm", "transformer_lm_gpt2_tiny")
    # the two fields of a fairseq checkpoint the script reads: cfg.model and the weights
    torch.save({"cfg": {"model": Namespace(arch="transformer_lm_gpt2_tiny")}, "model": lm.state_dict()},
               tmp_path / "lm.pt")
    out = warm_start(capsys, "--baseline", tmp_path / "lm.pt", "--arch", "gpam_transformer_tiny", "--out",
                     tmp_path / "x.pt")
    assert out.returncode == 2 and not (tmp_path / "x.pt").exists()
    assert "is a transformer_lm_gpt2_tiny model (fairseq model 'transformer_lm')" in out.stderr


def test_a_gpam_checkpoint_and_a_corrupt_file_are_refused(baseline, capsys, tmp_path):
    _, work, base_ckpt = baseline
    first = warm_start(capsys, "--baseline", base_ckpt, "--arch", "gpam_transformer_tiny", "--out", tmp_path / "g.pt")
    assert first.returncode == 0, first.stderr
    out = warm_start(capsys, "--baseline", tmp_path / "g.pt", "--arch", "gpam_transformer_tiny", "--out",
                     tmp_path / "x.pt")
    assert out.returncode == 2 and "already a daGPAM model (gpam_transformer_tiny)" in out.stderr
    (tmp_path / "cut.pt").write_bytes(base_ckpt.read_bytes()[:5000])
    out = warm_start(capsys, "--baseline", tmp_path / "cut.pt", "--arch", "gpam_transformer_tiny", "--out",
                     tmp_path / "x.pt")
    assert out.returncode == 2 and "is not a readable fairseq checkpoint" in out.stderr
    assert not (tmp_path / "x.pt").exists() and not list(tmp_path.glob("*.tmp"))
