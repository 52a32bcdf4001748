"""Numerics under stress: property-based tests of the daGPAM kernel and module.

Random shapes, padding masks, causal masks and lambdas in range (hypothesis draws
them; a seed draws the tensors). For every draw: each row of the signed map
A = lambda+ A+ - lambda- A- sums to lambda+ - lambda- = 1 (0 for a row whose keys
are all masked), outputs and gradients are finite, and the fused kernel agrees
with the explicit one. Then the edges: inputs scaled by 100 (near one-hot
softmaxes), bf16 autocast on CPU, 1,024 and 2,048 tokens, fully padded rows and
a single-token sequence.
"""

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fairseq_gpam.modules import DagpamMultiheadAttention, GpamOptions
from fairseq_gpam.modules.kernels import dual_softmax_attention

PROPERTY = settings(max_examples=40, deadline=None, derandomize=True, database=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def kernel_case(draw):
    """Sizes, lambdas and masks for one call of the kernel."""
    case = dict(
        bsz=draw(st.integers(1, 3)),
        heads=draw(st.integers(1, 4)),
        tgt=draw(st.integers(1, 6)),
        src=draw(st.integers(1, 7)),
        head_dim=draw(st.sampled_from([1, 2, 8])),
        scale=draw(st.sampled_from([1.0, 100.0])),
        per_head=draw(st.booleans()),
        lam_neg=draw(st.floats(0.0, 4.0)),
        causal=draw(st.booleans()),
        pad=draw(st.sampled_from(["none", "random", "one_row_all"])),
        seed=draw(st.integers(0, 2**31 - 1)),
    )
    return case


def kernel_inputs(case):
    """(q_pos, q_neg, k, v, lam_pos, lam_neg, attn_mask, key_padding_mask, blocked B x T x S)."""
    g = torch.Generator().manual_seed(case["seed"])
    b, h, t, s, d = case["bsz"], case["heads"], case["tgt"], case["src"], case["head_dim"]
    q_pos = torch.randn(b, h, t, d, generator=g) * case["scale"]
    q_neg = torch.randn(b, h, t, d, generator=g) * case["scale"]
    k, v = torch.randn(b, h, s, d, generator=g), torch.randn(b, h, s, d, generator=g)
    if case["per_head"]:
        lam_neg = torch.rand(h, generator=g) * case["lam_neg"]
    else:
        lam_neg = case["lam_neg"]
    lam_pos = 1.0 + lam_neg
    attn_mask = None
    blocked = torch.zeros(b, t, s, dtype=torch.bool)
    if case["causal"]:
        # query i sees keys 0 .. i + (s - t); with t > s the first rows see nothing
        block = torch.ones(t, s, dtype=torch.bool).triu(s - t + 1)
        attn_mask = torch.zeros(t, s).masked_fill(block, float("-inf"))
        blocked |= block
    key_padding_mask = None
    if case["pad"] == "random":
        key_padding_mask = torch.rand(b, s, generator=g) < 0.4
    elif case["pad"] == "one_row_all":
        key_padding_mask = torch.zeros(b, s, dtype=torch.bool)
        key_padding_mask[-1] = True
    if key_padding_mask is not None:
        blocked |= key_padding_mask.unsqueeze(1)
    return q_pos, q_neg, k, v, lam_pos, lam_neg, attn_mask, key_padding_mask, blocked


def assert_rows_sum_to_one(weights, blocked, lam_neg_bound):
    """weights: B x H x T x S; blocked: B x T x S. Live rows sum to 1, dead rows are all 0."""
    dead = blocked.all(-1).unsqueeze(1).expand(weights.shape[:-1])  # B x H x T
    sums = weights.sum(-1)
    tol = 2e-6 * (1 + 2 * lam_neg_bound)
    torch.testing.assert_close(sums[~dead], torch.ones_like(sums[~dead]), atol=tol, rtol=0)
    assert (weights[dead] == 0).all()
    assert (weights.masked_select(blocked.unsqueeze(1)) == 0).all(), "a masked key got weight"


@PROPERTY
@given(kernel_case())
def test_kernel_rows_sum_to_one_and_everything_is_finite(case):
    q_pos, q_neg, k, v, lam_pos, lam_neg, attn_mask, kpm, blocked = kernel_inputs(case)
    leaves = [t.requires_grad_() for t in (q_pos, q_neg, k, v)]
    ref = dual_softmax_attention(q_pos, q_neg, k, v, lam_pos, lam_neg, attn_mask=attn_mask,
                                 key_padding_mask=kpm, need_weights=True)
    assert_rows_sum_to_one(ref.weights, blocked, case["lam_neg"])
    torch.testing.assert_close(ref.context, ref.weights @ v, atol=1e-5, rtol=1e-5)
    fused = dual_softmax_attention(q_pos, q_neg, k, v, lam_pos, lam_neg, attn_mask=attn_mask,
                                   key_padding_mask=kpm, fused=True)
    assert torch.isfinite(fused.context).all()
    torch.testing.assert_close(fused.context, ref.context, atol=1e-4 * (1 + case["lam_neg"]), rtol=1e-4)
    upstream = torch.randn(ref.context.shape, generator=torch.Generator().manual_seed(case["seed"]))
    for out in (ref.context, fused.context):
        grads = torch.autograd.grad((out * upstream).sum(), leaves, allow_unused=True)
        for grad in grads:
            assert grad is None or torch.isfinite(grad).all()


@st.composite
def module_case(draw):
    heads = draw(st.integers(1, 4))
    mode = draw(st.sampled_from(["fixed", "layer", "head"]))
    lam_max = draw(st.floats(0.1, 3.0))
    if mode == "fixed":
        lam_neg = draw(st.floats(0.0, 3.0))
    else:  # a trainable lambda- starts strictly inside (0, lambda_max)
        lam_neg = lam_max * draw(st.floats(0.01, 0.99))
    return dict(
        heads=heads,
        head_dim=draw(st.sampled_from([2, 4, 8])),
        options=GpamOptions(lambda_neg=lam_neg, lambda_mode=mode, lambda_max=lam_max,
                            neg_query_init=draw(st.sampled_from(["neg_identity", "xavier"])),
                            neg_query_sharing=draw(st.sampled_from(["module", "head"])),
                            kernel=draw(st.sampled_from(["auto", "reference"]))),
        cross=draw(st.booleans()),
        bsz=draw(st.integers(1, 3)),
        tgt=draw(st.integers(1, 6)),
        src=draw(st.integers(1, 6)),
        scale=draw(st.sampled_from([1.0, 100.0])),
        pad=draw(st.sampled_from(["none", "random", "one_row_all"])),
        seed=draw(st.integers(0, 2**31 - 1)),
    )


@PROPERTY
@given(module_case())
def test_module_weights_sum_to_one_and_gradients_are_finite(case):
    torch.manual_seed(case["seed"] % 10_000)
    embed = case["heads"] * case["head_dim"]
    kind = dict(encoder_decoder_attention=True) if case["cross"] else dict(self_attention=True)
    attn = DagpamMultiheadAttention(embed, case["heads"], options=case["options"], **kind).train()
    src = case["src"] if case["cross"] else case["tgt"]
    x = (torch.randn(case["tgt"], case["bsz"], embed) * case["scale"]).requires_grad_()
    mem = torch.randn(src, case["bsz"], embed) * case["scale"] if case["cross"] else x
    kpm = None
    if case["pad"] == "random":
        kpm = torch.rand(case["bsz"], src) < 0.4
    elif case["pad"] == "one_row_all":
        kpm = torch.zeros(case["bsz"], src, dtype=torch.bool)
        kpm[0] = True
    out, weights = attn(x, mem, mem, key_padding_mask=kpm, need_head_weights=True)
    assert out.shape == x.shape and torch.isfinite(out).all()
    blocked = torch.zeros(case["bsz"], case["tgt"], src, dtype=torch.bool)
    if kpm is not None:
        blocked |= kpm.unsqueeze(1)
    assert_rows_sum_to_one(weights.transpose(0, 1), blocked, max(case["options"].lambda_neg,
                                                                  case["options"].lambda_max))
    # the path that trains (fused unless --gpam-kernel reference) must back-propagate finitely too
    out_fast, _ = attn(x, mem, mem, key_padding_mask=kpm, need_weights=False)
    (out.square().mean() + out_fast.square().mean()).backward()
    assert torch.isfinite(x.grad).all()
    for name, p in attn.named_parameters():
        if name == "neg_query_weight" and attn.lambdas.is_zero:
            assert p.grad is None  # lambda- = 0 is softmax attention: W- is not used
            continue
        assert p.grad is not None and torch.isfinite(p.grad).all(), name


def make_module(heads=4, head_dim=8, lambda_neg=0.3, **opts):
    torch.manual_seed(0)
    return DagpamMultiheadAttention(heads * head_dim, heads, self_attention=True,
                                  options=GpamOptions(lambda_neg=lambda_neg, **opts))


@pytest.mark.parametrize("kernel", ["auto", "reference"])
@pytest.mark.parametrize("mode", ["fixed", "head"])
def test_bf16_autocast_on_cpu_is_finite_and_close_to_fp32(kernel, mode):
    attn = make_module(kernel=kernel, lambda_mode=mode, lambda_max=1.0).train()
    x = torch.randn(12, 2, 32, requires_grad=True)
    kpm = torch.zeros(2, 12, dtype=torch.bool)
    kpm[1, -5:] = True
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out, w = attn(x, x, x, key_padding_mask=kpm, need_weights=kernel == "reference")
    out.float().square().mean().backward()
    assert out.dtype == torch.bfloat16 and torch.isfinite(out).all() and torch.isfinite(x.grad).all()
    assert all(torch.isfinite(p.grad).all() for p in attn.parameters())
    ref, _ = attn(x, x, x, key_padding_mask=kpm, need_weights=False)
    # bf16 keeps 8 bits of mantissa: agree with fp32 to a few per cent of the output scale
    assert (out.float() - ref).abs().max() <= 0.05 * ref.abs().max()
    if w is not None:
        torch.testing.assert_close(w.sum(-1), torch.ones_like(w.sum(-1)), atol=1e-5, rtol=0)


@pytest.mark.parametrize("length", [1024, 2048])
def test_long_sequences_keep_rows_summing_to_one(length):
    attn = make_module(heads=2, head_dim=8, lambda_neg=0.5, kernel="reference").eval()
    x = torch.randn(length, 1, 16)
    causal = torch.zeros(length, length).masked_fill(
        torch.ones(length, length, dtype=torch.bool).triu(1), float("-inf"))
    out, w = attn(x, x, x, attn_mask=causal, need_head_weights=True)
    assert torch.isfinite(out).all()
    torch.testing.assert_close(w.sum(-1), torch.ones(2, 1, length), atol=1e-5, rtol=0)
    assert (w.masked_select(torch.isinf(causal)) == 0).all()
    attn.options = GpamOptions(lambda_neg=0.5, kernel="auto")  # the fused kernel, same weights
    fast, _ = attn(x, x, x, attn_mask=causal, need_weights=False)
    torch.testing.assert_close(fast, out, atol=1e-5, rtol=1e-4)


def test_extreme_logits_give_one_hot_maps_and_finite_gradients():
    """Inputs scaled by 100: both softmaxes saturate, weights stay in [-lambda-, lambda+]."""
    attn = make_module(lambda_neg=0.5, kernel="reference").train()
    x = (torch.randn(9, 2, 32) * 100).requires_grad_()
    out, w = attn(x, x, x, need_head_weights=True)
    out.square().mean().backward()
    assert torch.isfinite(out).all() and torch.isfinite(x.grad).all()
    assert all(torch.isfinite(p.grad).all() for p in attn.parameters())
    assert w.min() >= -0.5 - 1e-6 and w.max() <= 1.5 + 1e-6
    torch.testing.assert_close(w.sum(-1), torch.ones_like(w.sum(-1)), atol=1e-5, rtol=0)
    # saturation is real: most rows put (almost) all positive mass on one key
    assert (w.max(-1).values > 1.4).float().mean() > 0.5


@pytest.mark.parametrize("kernel", ["auto", "reference"])
def test_fully_padded_sequence_gives_zero_output_and_finite_gradients(kernel):
    attn = make_module(lambda_neg=0.4, kernel=kernel).train()
    x = torch.randn(5, 3, 32, requires_grad=True)
    kpm = torch.zeros(3, 5, dtype=torch.bool)
    kpm[1] = True  # every key of sentence 1 is padding
    out, _ = attn(x, x, x, key_padding_mask=kpm, need_weights=False)
    out.square().sum().backward()
    assert torch.isfinite(out).all() and torch.isfinite(x.grad).all()
    # no key to attend to: A V = 0, so the output is the output projection's bias
    torch.testing.assert_close(out[:, 1], attn.out_proj.bias.expand(5, -1).detach())
    assert all(torch.isfinite(p.grad).all() for p in attn.parameters())


@pytest.mark.parametrize("kernel", ["auto", "reference"])
def test_single_token_sequence_attends_to_itself_with_weight_one(kernel):
    """One key: A+ = A- = 1, so A = lambda+ - lambda- = 1 and the output is V's projection."""
    attn = make_module(lambda_neg=0.7, kernel=kernel).eval()
    x = torch.randn(1, 4, 32)
    out, _ = attn(x, x, x, need_weights=False)
    want = attn.out_proj(attn.v_proj(x))
    torch.testing.assert_close(out, want, atol=1e-5, rtol=1e-5)
    if kernel == "reference":
        _, w = attn(x, x, x, need_head_weights=True)
        torch.testing.assert_close(w, torch.ones(4, 4, 1, 1))
