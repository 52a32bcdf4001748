"""The daGPAM kernel against a naive per-row reference, and its defining properties
(on the ``--device`` given to pytest, CPU by default)."""

import pytest
import torch

from fairseq_gpam.modules.kernels import dual_softmax_attention

pytestmark = pytest.mark.usefixtures("on_device")

B, H, T, S, D = 3, 4, 5, 7, 8


def naive_dual_attention(q_pos, q_neg, k, v, lam_pos, lam_neg, blocked):
    """Row by row, in float64: A_ij = l+ p+_ij - l- p-_ij over the unblocked keys j.

    blocked: B x T x S bool (True = key j may not be seen by query i).
    """
    bsz, heads, tgt, _ = q_pos.shape
    out = torch.zeros(bsz, heads, tgt, v.size(-1), dtype=torch.float64)
    weights = torch.zeros(bsz, heads, tgt, k.size(2), dtype=torch.float64)
    for b in range(bsz):
        for h in range(heads):
            for i in range(tgt):
                allowed = ~blocked[b, i]
                if not allowed.any():
                    continue
                kb = k[b, h][allowed].double()
                p_pos = torch.softmax(kb @ q_pos[b, h, i].double(), 0)
                p_neg = torch.softmax(kb @ q_neg[b, h, i].double(), 0)
                lp = lam_pos[h] if torch.is_tensor(lam_pos) else lam_pos
                ln = lam_neg[h] if torch.is_tensor(lam_neg) else lam_neg
                row = float(lp) * p_pos - float(ln) * p_neg
                weights[b, h, i, allowed] = row
                out[b, h, i] = row @ v[b, h][allowed].double()
    return out, weights


def inputs(seed=0, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    q_pos, q_neg = (torch.randn(B, H, T, D, generator=g, dtype=dtype, device="cpu") for _ in range(2))
    k, v = (torch.randn(B, H, S, D, generator=g, dtype=dtype, device="cpu") for _ in range(2))
    return tuple(t.to(torch.get_default_device()) for t in (q_pos, q_neg, k, v))


def masks():
    causal = torch.zeros(T, S).masked_fill(torch.ones(T, S, dtype=torch.bool).triu(S - T + 1), float("-inf"))
    padding = torch.zeros(B, S, dtype=torch.bool)
    padding[1, :3] = True  # left padding
    padding[2, -2:] = True  # right padding
    return causal, padding


def blocked_from(attn_mask, key_padding_mask):
    blocked = torch.zeros(B, T, S, dtype=torch.bool)
    if attn_mask is not None:
        blocked |= torch.isinf(attn_mask).unsqueeze(0)
    if key_padding_mask is not None:
        blocked |= key_padding_mask.unsqueeze(1)
    return blocked


@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize("use_causal,use_padding", [(False, False), (True, False), (False, True), (True, True)])
def test_kernel_matches_naive_reference(fused, use_causal, use_padding, device):
    q_pos, q_neg, k, v = inputs()
    causal, padding = masks()
    attn_mask = causal if use_causal else None
    kpm = padding if use_padding else None
    lam_neg = torch.tensor([0.0, 0.1, 0.3, 0.7])
    got = dual_softmax_attention(q_pos, q_neg, k, v, 1 + lam_neg, lam_neg, attn_mask=attn_mask,
                                 key_padding_mask=kpm, fused=fused)
    want, _ = naive_dual_attention(q_pos, q_neg, k, v, 1 + lam_neg, lam_neg, blocked_from(attn_mask, kpm))
    torch.testing.assert_close(got.context.double(), want, atol=2e-5, rtol=1e-4)


def test_weights_match_reference_and_rows_sum_to_one(device):
    q_pos, q_neg, k, v = inputs(1)
    causal, padding = masks()
    got = dual_softmax_attention(q_pos, q_neg, k, v, 1.25, 0.25, attn_mask=causal, key_padding_mask=padding,
                                 need_weights=True)
    _, want = naive_dual_attention(q_pos, q_neg, k, v, 1.25, 0.25, blocked_from(causal, padding))
    torch.testing.assert_close(got.weights.double(), want, atol=1e-6, rtol=1e-5)
    seen = ~blocked_from(causal, padding).all(-1)  # B x T: rows with at least one visible key
    row_sums = got.weights.sum(-1).transpose(0, 1)[:, seen]
    torch.testing.assert_close(row_sums, torch.ones_like(row_sums), atol=1e-5, rtol=0)
    assert (got.weights.transpose(0, 1)[:, ~seen] == 0).all()
    assert (got.weights < 0).any(), "lambda- > 0 must produce negative weights"
    assert got.weights.min() >= -0.25 - 1e-6 and got.weights.max() <= 1.25 + 1e-6


def test_lambda_zero_has_no_negative_weights(device):
    q_pos, q_neg, k, v = inputs(2)
    got = dual_softmax_attention(q_pos, q_neg, k, v, 1.0, 0.0, need_weights=True)
    assert (got.weights >= 0).all()
    plain = dual_softmax_attention(q_pos, None, k, v, need_weights=True)
    torch.testing.assert_close(got.context, plain.context, atol=1e-6, rtol=0)


@pytest.mark.parametrize("fused", [True, False])
def test_padded_keys_get_exactly_zero_weight_and_no_influence(fused, device):
    q_pos, q_neg, k, v = inputs(3)
    _, padding = masks()
    res = dual_softmax_attention(q_pos, q_neg, k, v, 1.3, 0.3, key_padding_mask=padding, need_weights=True)
    assert (res.weights[padding[:, None, None, :].expand_as(res.weights)] == 0).all()
    # changing padded keys and values must not change the output
    k2, v2 = k.clone(), v.clone()
    pad = padding.unsqueeze(1).unsqueeze(-1).expand_as(k)
    k2[pad], v2[pad] = 1e3, -1e3
    a = dual_softmax_attention(q_pos, q_neg, k, v, 1.3, 0.3, key_padding_mask=padding, fused=fused)
    b = dual_softmax_attention(q_pos, q_neg, k2, v2, 1.3, 0.3, key_padding_mask=padding, fused=fused)
    torch.testing.assert_close(a.context, b.context)


@pytest.mark.parametrize("fused", [True, False])
def test_fully_padded_rows_stay_finite(fused, device):
    q_pos, q_neg, k, v = inputs(4)
    padding = torch.zeros(B, S, dtype=torch.bool)
    padding[0] = True
    for p in (q_pos, q_neg, k, v):
        p.requires_grad_(True)
    res = dual_softmax_attention(q_pos, q_neg, k, v, 1.2, 0.2, key_padding_mask=padding, fused=fused)
    assert torch.isfinite(res.context).all()
    assert (res.context[0] == 0).all()
    res.context.sum().backward()
    assert all(torch.isfinite(p.grad).all() for p in (q_pos, q_neg, k, v))


def test_float_and_bool_masks_agree(device):
    q_pos, q_neg, k, v = inputs(5)
    causal, padding = masks()
    as_bool = dual_softmax_attention(q_pos, q_neg, k, v, 1.2, 0.2, attn_mask=torch.isinf(causal),
                                     key_padding_mask=padding)
    as_float = dual_softmax_attention(q_pos, q_neg, k, v, 1.2, 0.2, attn_mask=causal,
                                      key_padding_mask=padding.float())
    torch.testing.assert_close(as_bool.context, as_float.context)


def test_gradients_match_finite_differences(device):
    # a small slice keeps the finite-difference Jacobian cheap
    q_pos, q_neg, k, v = (t[:2, :2, :, :4].double().requires_grad_(True) for t in inputs(6))
    lam = torch.tensor([0.2, 0.5], dtype=torch.float64, requires_grad=True)
    causal, padding = masks()

    def f(q_pos, q_neg, k, v, lam):
        return dual_softmax_attention(q_pos, q_neg, k, v, 1 + lam, lam, attn_mask=causal.double(),
                                      key_padding_mask=padding[:2], fused=False).context

    assert torch.autograd.gradcheck(f, (q_pos, q_neg, k, v, lam), eps=1e-6, atol=1e-5)


def test_dropout_acts_on_the_combined_map(device):
    q_pos, q_neg, k, v = inputs(7)
    torch.manual_seed(0)
    dropped = dual_softmax_attention(q_pos, q_neg, k, v, 1.2, 0.2, dropout_p=0.5)
    full = dual_softmax_attention(q_pos, q_neg, k, v, 1.2, 0.2)
    assert not torch.allclose(dropped.context, full.context)
    # the expectation over dropout masks is the undropped output
    torch.manual_seed(0)
    mean = sum(dual_softmax_attention(q_pos, q_neg, k, v, 1.2, 0.2, dropout_p=0.5).context
               for _ in range(400)) / 400
    assert (mean - full.context).abs().mean() < 0.1 * full.context.abs().mean()


def test_lambda_with_wrong_number_of_values_is_refused(device):
    q_pos, q_neg, k, v = inputs()
    with pytest.raises(ValueError, match="num_heads"):
        dual_softmax_attention(q_pos, q_neg, k, v, torch.ones(3), torch.zeros(3))
