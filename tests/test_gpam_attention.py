"""DagpamMultiheadAttention honours fairseq's MultiheadAttention contract."""

import pytest
import torch
from fairseq.modules import MultiheadAttention

from fairseq_gpam.modules import DagpamMultiheadAttention, GpamConfigError, GpamOptions

E, H, T, S, B = 16, 4, 6, 5, 3


def make_pair(lambda_neg=0.0, encoder_decoder=False, seed=0, device="cpu", **opts):
    """(fairseq module, daGPAM module) with identical projection weights, on ``device``."""
    torch.manual_seed(seed)
    kind = dict(encoder_decoder_attention=True) if encoder_decoder else dict(self_attention=True)
    base = MultiheadAttention(E, H, **kind).eval()
    gpam = DagpamMultiheadAttention(E, H, options=GpamOptions(lambda_neg=lambda_neg, **opts), **kind).eval()
    gpam.load_state_dict(base.state_dict(), strict=False)
    return base.to(device), gpam.to(device)


def causal_mask(n):
    return torch.zeros(n, n).masked_fill(torch.ones(n, n, dtype=torch.bool).triu(1), float("-inf"))


def padding(bsz, length):
    """Right padding, as fairseq pads targets (with the causal mask no row is then fully masked)."""
    mask = torch.zeros(bsz, length, dtype=torch.bool)
    mask[1, -2:] = True
    return mask


@pytest.mark.parametrize("kernel", ["auto", "reference"])
@pytest.mark.parametrize("need_weights", [False, True])
def test_lambda_zero_equals_fairseq_self_attention(kernel, need_weights, device):
    base, gpam = make_pair(0.0, kernel=kernel, device=device)
    x = torch.randn(T, B, E, device=device)
    kpm = padding(B, T).to(device)
    for attn_mask in (None, causal_mask(T).to(device)):
        want, want_w = base(x, x, x, key_padding_mask=kpm, attn_mask=attn_mask, need_weights=need_weights)
        got, got_w = gpam(x, x, x, key_padding_mask=kpm, attn_mask=attn_mask, need_weights=need_weights)
        torch.testing.assert_close(got, want, atol=1e-6, rtol=1e-5)
        if need_weights:
            torch.testing.assert_close(got_w, want_w, atol=1e-6, rtol=1e-5)


def test_lambda_zero_equals_fairseq_encoder_decoder_attention_with_head_weights(device):
    base, gpam = make_pair(0.0, encoder_decoder=True, device=device)
    x, enc = torch.randn(T, B, E, device=device), torch.randn(S, B, E, device=device)
    kpm = padding(B, S).to(device)
    want, want_w = base(x, enc, enc, key_padding_mask=kpm, static_kv=True, need_head_weights=True)
    got, got_w = gpam(x, enc, enc, key_padding_mask=kpm, static_kv=True, need_head_weights=True)
    torch.testing.assert_close(got, want, atol=1e-6, rtol=1e-5)
    assert got_w.shape == (H, B, T, S)
    torch.testing.assert_close(got_w, want_w, atol=1e-6, rtol=1e-5)


def test_lambda_zero_gradients_equal_fairseq(device):
    base, gpam = make_pair(0.0, device=device)
    base.train(), gpam.train()
    x = torch.randn(T, B, E, device=device)
    base(x, x, x, attn_mask=causal_mask(T).to(device), need_weights=False)[0].square().sum().backward()
    gpam(x, x, x, attn_mask=causal_mask(T).to(device), need_weights=False)[0].square().sum().backward()
    for name, p in base.named_parameters():
        torch.testing.assert_close(dict(gpam.named_parameters())[name].grad, p.grad, atol=1e-5, rtol=1e-4)


def test_signed_weights_sum_to_one_and_match_output(device):
    _, gpam = make_pair(0.3, seed=1, device=device)
    x = torch.randn(T, B, E, device=device)
    kpm = padding(B, T).to(device)
    out, w = gpam(x, x, x, key_padding_mask=kpm, need_head_weights=True)
    assert w.shape == (H, B, T, T)
    torch.testing.assert_close(w.sum(-1), torch.ones(H, B, T, device=device), atol=1e-5, rtol=0)
    assert (w < 0).any()
    assert (w[:, 1, :, -2:] == 0).all(), "padded keys must get exactly zero weight"
    # the output is the weighted sum of the value projections
    v = gpam.v_proj(x).view(T, B, H, E // H).permute(2, 1, 0, 3)  # H x B x T x Dh
    ctx = torch.matmul(w, v).permute(2, 1, 0, 3).reshape(T, B, E)
    torch.testing.assert_close(out, gpam.out_proj(ctx), atol=1e-5, rtol=1e-5)
    _, mean_w = gpam(x, x, x, key_padding_mask=kpm, need_weights=True)
    torch.testing.assert_close(mean_w, w.mean(0))


def test_fused_and_reference_kernels_agree(device):
    _, fused = make_pair(0.25, seed=2, lambda_mode="head", neg_query_init="xavier", device=device)
    options = GpamOptions(lambda_neg=0.25, lambda_mode="head", neg_query_init="xavier", kernel="reference")
    reference = DagpamMultiheadAttention(E, H, options=options, self_attention=True).eval().to(device)
    reference.load_state_dict(fused.state_dict())
    x = torch.randn(T, B, E, device=device)
    kpm = padding(B, T).to(device)
    a, _ = fused(x, x, x, key_padding_mask=kpm, attn_mask=causal_mask(T).to(device), need_weights=False)
    b, _ = reference(x, x, x, key_padding_mask=kpm, attn_mask=causal_mask(T).to(device), need_weights=False)
    torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


def test_negative_query_is_relu_times_matrix(device):
    _, gpam = make_pair(0.2, neg_query_init="neg_identity", device=device)
    q = torch.randn(B, H, T, E // H, device=device)
    torch.testing.assert_close(gpam.negative_query(q), -q.clamp(min=0))
    options = GpamOptions(neg_query_sharing="head", neg_query_init="xavier")
    per_head = DagpamMultiheadAttention(E, H, options=options, self_attention=True).to(device)
    assert per_head.neg_query_weight.shape == (H, E // H, E // H)
    want = torch.stack([q[:, h].clamp(min=0) @ per_head.neg_query_weight[h] for h in range(H)], 1)
    torch.testing.assert_close(per_head.negative_query(q), want)


def decode_step_by_step(module, x, **kw):
    """Feed x one time step at a time through the incremental cache; returns T x B x E."""
    state = {}
    outs = []
    for t in range(x.size(0)):
        out, _ = module(x[t : t + 1], x[t : t + 1], x[t : t + 1], incremental_state=state, **kw)
        outs.append(out)
    return torch.cat(outs), state


@pytest.mark.parametrize("kernel", ["auto", "reference"])
def test_incremental_self_attention_equals_full_sequence(kernel, device):
    _, gpam = make_pair(0.3, seed=3, kernel=kernel, device=device)
    x = torch.randn(T, B, E, device=device)
    full, _ = gpam(x, x, x, attn_mask=causal_mask(T).to(device), need_weights=False)
    steps, state = decode_step_by_step(gpam, x, need_weights=False)
    torch.testing.assert_close(steps, full, atol=1e-5, rtol=1e-5)
    cache = gpam._get_input_buffer(state)
    assert cache["prev_key"].shape == (B, H, T, E // H)


def test_incremental_encoder_decoder_attention_caches_static_keys(device):
    _, gpam = make_pair(0.3, encoder_decoder=True, seed=4, device=device)
    x, enc = torch.randn(T, B, E, device=device), torch.randn(S, B, E, device=device)
    kpm = padding(B, S).to(device)
    full, full_w = gpam(x, enc, enc, key_padding_mask=kpm, static_kv=True)
    state, outs, weights = {}, [], []
    for t in range(T):
        out, w = gpam(x[t : t + 1], enc, enc, key_padding_mask=kpm, incremental_state=state, static_kv=True)
        outs.append(out)
        weights.append(w)
        # after the first step the keys come from the cache; poison the encoder states to prove it
        enc = torch.full_like(enc, float("nan"))
    torch.testing.assert_close(torch.cat(outs), full, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(torch.cat(weights, dim=1), full_w, atol=1e-5, rtol=1e-5)


def test_float_padding_mask_from_the_cache_is_treated_as_bool(device):
    _, gpam = make_pair(0.3, seed=5, device=device)
    x = torch.randn(T, B, E, device=device)
    kpm = padding(B, T).to(device)
    want, _ = gpam(x, x, x, key_padding_mask=kpm, attn_mask=causal_mask(T).to(device))
    got, _ = gpam(x, x, x, key_padding_mask=kpm.float(), attn_mask=causal_mask(T).to(device))
    torch.testing.assert_close(got, want)


def test_reorder_incremental_state_for_beam_search(device):
    _, gpam = make_pair(0.3, seed=6, device=device)
    x = torch.randn(T, B, E, device=device)
    order = torch.tensor([2, 0, 0], device=device)
    _, state = decode_step_by_step(gpam, x[:3])
    gpam.reorder_incremental_state(state, order)
    nxt = torch.randn(1, B, E, device=device)
    got, _ = gpam(nxt, nxt, nxt, incremental_state=state)
    # the same as decoding the reordered history from scratch
    history = torch.cat([x[:3, order], nxt])
    _, fresh = decode_step_by_step(gpam, history[:3])
    want, _ = gpam(nxt, nxt, nxt, incremental_state=fresh)
    torch.testing.assert_close(got, want, atol=1e-6, rtol=1e-6)


def test_fully_padded_rows_stay_finite_in_training(device):
    _, gpam = make_pair(0.3, seed=7, device=device)
    gpam.train()
    x = torch.randn(T, B, E, requires_grad=True, device=device)
    kpm = torch.zeros(B, T, dtype=torch.bool, device=device)
    kpm[0] = True
    out, w = gpam(x, x, x, key_padding_mask=kpm, need_weights=True)
    out.sum().backward()
    assert torch.isfinite(out).all() and torch.isfinite(w).all() and torch.isfinite(x.grad).all()


@pytest.mark.parametrize("mode,shape", [("layer", (1,)), ("head", (H,))])
def test_trainable_lambdas_stay_in_range_and_learn(mode, shape, device):
    options = GpamOptions(lambda_neg=0.2, lambda_mode=mode, lambda_max=0.5)
    gpam = DagpamMultiheadAttention(E, H, options=options, self_attention=True).to(device)
    assert gpam.lambdas.theta.shape == shape
    lam_pos, lam_neg = gpam.lambdas()
    torch.testing.assert_close(lam_neg, torch.full(shape, 0.2, device=device))
    torch.testing.assert_close(lam_pos - lam_neg, torch.ones(shape, device=device))
    x = torch.randn(T, B, E, device=device)
    gpam(x, x, x, need_weights=False)[0].square().sum().backward()
    assert gpam.lambdas.theta.grad.abs().sum() > 0
    assert gpam.neg_query_weight.grad.abs().sum() > 0
    with torch.no_grad():
        gpam.lambdas.theta.fill_(1e4)
    assert float(gpam.lambdas()[1].max()) <= 0.5
    _, w = gpam(x, x, x, need_head_weights=True)
    assert torch.isfinite(w).all() and w.min() >= -0.5 - 1e-6


def test_attention_dropout_is_applied_in_training_only(device):
    torch.manual_seed(0)
    gpam = DagpamMultiheadAttention(E, H, options=GpamOptions(), dropout=0.5, self_attention=True).to(device)
    x = torch.randn(T, B, E, device=device)
    gpam.eval()
    a, _ = gpam(x, x, x)
    b, _ = gpam(x, x, x)
    torch.testing.assert_close(a, b)
    gpam.train()
    c, _ = gpam(x, x, x, need_weights=False)
    assert not torch.allclose(a, c)


@pytest.mark.parametrize(
    "kwargs,flag",
    [
        (dict(lambda_neg=-0.1), "--gpam-lambda-neg"),
        (dict(lambda_neg=float("nan")), "--gpam-lambda-neg"),
        (dict(lambda_neg=float("inf")), "--gpam-lambda-neg"),
        (dict(lambda_mode="head", lambda_neg=0.0), "--gpam-lambda-neg"),
        (dict(lambda_mode="layer", lambda_neg=1.0, lambda_max=1.0), "--gpam-lambda-neg"),
        (dict(lambda_max=0.0), "--gpam-lambda-max"),
        (dict(neg_query_init="orthogonal"), "--gpam-neg-query-init"),
        (dict(positions=()), "--gpam-positions"),
        (dict(positions=("encoder_self", "decoder")), "--gpam-positions"),
        (dict(lambda_mode="per_layer"), "--gpam-lambda-mode"),
        (dict(attention="linear"), "--gpam-attention"),
    ],
)
def test_invalid_options_name_the_flag(kwargs, flag):
    with pytest.raises(GpamConfigError, match=flag):
        GpamOptions(**kwargs)


def test_before_softmax_is_refused_with_a_hint(device):
    _, gpam = make_pair(0.2, device=device)
    x = torch.randn(T, B, E, device=device)
    with pytest.raises(NotImplementedError, match="--gpam-attention softmax"):
        gpam(x, x, x, before_softmax=True)
