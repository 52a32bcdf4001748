"""The gpam_ criteria: fairseq's loss, unchanged, plus daGPAM diagnostics."""

import pytest
import torch
from fairseq import metrics
from fairseq.criterions.cross_entropy import CrossEntropyCriterion
from fairseq.criterions.label_smoothed_cross_entropy import LabelSmoothedCrossEntropyCriterion

from conftest import build_translation_model, random_batch
from fairseq_gpam.criterions.gpam_diagnostics import (
    GpamCrossEntropyCriterion,
    GpamLabelSmoothedCrossEntropyCriterion,
)
from fairseq_gpam.diagnostics import collect_activity, rank_collapse_residual


def make_sample(seed=0):
    src, src_lengths, prev = random_batch(44, 3, 7, 6, seed=seed)
    target = torch.roll(prev, -1, dims=1)
    target[:, -1] = 2
    target = target.masked_fill(prev == 1, 1)
    return {"net_input": {"src_tokens": src, "src_lengths": src_lengths, "prev_output_tokens": prev},
            "target": target, "ntokens": int((target != 1).sum()), "nsentences": 3, "id": torch.arange(3)}


def test_rank_collapse_residual_properties():
    x = torch.randn(5, 2, 8)
    constant = x[:1].expand(5, 2, 8)
    assert rank_collapse_residual(constant).item() == pytest.approx(0.0, abs=1e-6)
    # zero-mean rows: the residual is the whole matrix
    centred = x - x.mean(0, keepdim=True)
    assert rank_collapse_residual(centred).item() == pytest.approx(1.0, abs=1e-6)
    # padding is ignored: garbage in padded rows changes nothing
    mask = torch.zeros(2, 5, dtype=torch.bool)
    mask[1, 3:] = True
    noisy = x.clone()
    noisy[3:, 1] = 100.0
    assert rank_collapse_residual(noisy, mask).item() == pytest.approx(rank_collapse_residual(x, mask).item())
    r = rank_collapse_residual(x).item()
    assert 0.0 < r < 1.0


@pytest.mark.parametrize("gpam_cls,base_cls,extra", [
    (GpamCrossEntropyCriterion, CrossEntropyCriterion, {}),
    (GpamLabelSmoothedCrossEntropyCriterion, LabelSmoothedCrossEntropyCriterion, {"label_smoothing": 0.1}),
])
def test_loss_is_exactly_fairseqs(dict_dir, gpam_cls, base_cls, extra):
    task, model = build_translation_model(dict_dir, "gpam_transformer_tiny", ["--gpam-lambda-neg", "0.3"])
    model.train()
    sample = make_sample()
    base = base_cls(task, False, **extra)
    gpam = gpam_cls(task, False, **extra, gpam_diagnostics_interval=1)
    loss_b, size_b, log_b = base(model, sample)
    loss_g, size_g, log_g = gpam(model, sample)  # a measuring batch (explicit attention path)
    torch.testing.assert_close(loss_g, loss_b, atol=1e-5, rtol=1e-6)
    assert size_g == size_b
    assert {k for k in log_g if not k.startswith("gpam_")} == set(log_b)
    for key, value in log_b.items():
        assert float(log_g[key]) == pytest.approx(float(value), rel=1e-5), key
    assert log_g["gpam_lambda_neg"] == pytest.approx(0.3)
    assert log_g["gpam_neg_mass"] > 0
    assert {f"gpam_res_enc{i}" for i in range(2)} | {f"gpam_res_dec{i}" for i in range(2)} <= set(log_g)
    assert all(0 < log_g[k] <= 1 for k in log_g if k.startswith("gpam_res_"))


def test_measurements_follow_the_interval_and_metrics_reduce(dict_dir):
    task, model = build_translation_model(dict_dir, "gpam_transformer_tiny", ["--gpam-lambda-mode", "head"])
    model.train()
    crit = GpamCrossEntropyCriterion(task, False, gpam_diagnostics_interval=3)
    logs = [crit(model, make_sample(i))[2] for i in range(6)]
    measured = [i for i, log in enumerate(logs) if "gpam_neg_mass" in log]
    assert measured == [0, 3]
    assert all("gpam_lambda_neg" in log for log in logs)
    model.eval()
    assert "gpam_neg_mass" in crit(model, make_sample(9))[2], "validation batches always measure"
    with metrics.aggregate() as agg:
        GpamCrossEntropyCriterion.reduce_metrics(logs)
        values = agg.get_smoothed_values()
    assert values["gpam_neg_mass"] == pytest.approx((logs[0]["gpam_neg_mass"] + logs[3]["gpam_neg_mass"]) / 2,
                                                    abs=1e-4)
    assert values["loss"] > 0 and "ppl" in values


def test_interval_zero_turns_measurements_off(dict_dir):
    task, model = build_translation_model(dict_dir, "gpam_transformer_tiny", [])
    crit = GpamCrossEntropyCriterion(task, False, gpam_diagnostics_interval=0)
    log = crit(model.eval(), make_sample())[2]
    assert "gpam_neg_mass" not in log and "gpam_lambda_neg" in log
    with pytest.raises(ValueError, match="--gpam-diagnostics-interval"):
        GpamCrossEntropyCriterion(task, False, gpam_diagnostics_interval=-1)


def test_collect_activity_restores_the_fast_path(dict_dir):
    _, model = build_translation_model(dict_dir, "gpam_transformer_tiny", [])
    sample = make_sample()
    with collect_activity(model) as stats:
        model(**sample["net_input"])
    assert "neg_mass" in stats and "res_enc0" in stats
    modules = [m for m in model.modules() if hasattr(m, "collect_stats")]
    assert modules and not any(m.collect_stats for m in modules)
    assert all(not h for layer in model.encoder.layers for h in (layer._forward_hooks,))
