"""Every fast daGPAM path against the reference (explicit, fp32-softmax) implementation.

Fast paths: the CPU flash path's building blocks (the stacked [Q+; Q-] queries with
their hand-written backward, and ``combine_dual_heads``), ``dual_softmax_attention_heads``
(the CPU flash call and the two-call SDPA path), ``dual_softmax_attention_decode`` (incremental decoding), and the module's ``--gpam-kernel auto`` forward in
training, with masks and padding, in incremental decoding and with trainable
per-head lambdas. Each is checked in fp32 and bf16, outputs and gradients.

Tolerances: fp32 atol 2e-5 / rtol 1e-4 (only summation order differs); bf16 is
compared with the fp32 reference on the same bf16-rounded inputs, rtol 3e-2 and
atol 3e-2 times the largest magnitude in the reference tensor (bf16 keeps 8
significant bits, about 4e-3 relative per rounding, and gradients such as a
lambda's are sums of many rounded terms).

Every test runs on the ``--device`` given to pytest (CPU by default); those of the CPU
flash path's own pieces and memory are CPU only.
"""

import pytest
import torch

from fairseq_gpam.modules.kernels import (
    dual_softmax_attention_decode,
    dual_softmax_attention_heads,
    force_backend,
    merge_masks,
)
from fairseq_gpam.modules.kernels.cpu_flash import combine_dual_heads, dual_queries_backward, stack_dual_queries
from fairseq_gpam.modules.kernels.reference import dagpam_reference as dual_softmax_attention_reference
from fairseq_gpam.modules.gpam_config import GpamOptions
from fairseq_gpam.modules.variants import DagpamMultiheadAttention

pytestmark = pytest.mark.usefixtures("on_device")

B, H, T, S, DH = 3, 4, 6, 7, 8
C = H * DH
TOL = {torch.float32: dict(atol=2e-5, rtol=1e-4), torch.bfloat16: dict(atol=3e-2, rtol=3e-2)}
DTYPES = [torch.float32, torch.bfloat16]


def randn(*shape, seed, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g, device="cpu").to(torch.get_default_device(), dtype)


def cpu_only(device):
    if device.type != "cpu":
        pytest.skip("the CPU flash path's own pieces run on the CPU only")


def close(got, want, dtype):
    tol = dict(TOL[dtype])
    if dtype == torch.bfloat16:
        tol["atol"] *= max(1.0, float(want.abs().max()))
    torch.testing.assert_close(got.float(), want.float(), **tol)


def masks(tgt_len=T, src_len=S):
    """fairseq's future mask (aligned to the last keys) and left/right key padding."""
    causal = torch.triu(torch.full((tgt_len, src_len), float("-inf")), src_len - tgt_len + 1)
    padding = torch.zeros(B, src_len, dtype=torch.bool)
    padding[1, :2] = True
    padding[2, -3:] = True
    return causal, padding


# --------------------------------------------------------------------------- building blocks

class DualQueries(torch.autograd.Function):
    """The CPU flash path's query stacking and its hand-written backward as one Function."""

    @staticmethod
    def forward(ctx, q, weight):
        out = stack_dual_queries(q, weight)
        ctx.save_for_backward(out, weight)
        ctx.q_layout = torch.empty_like(q, device="meta")
        return out

    @staticmethod
    def backward(ctx, grad):
        out, weight = ctx.saved_tensors
        return dual_queries_backward(grad, out, weight, ctx.q_layout, *ctx.needs_input_grad[:2])


def naive_dual_queries(q, weight):
    neg = torch.relu(q) @ weight if weight.size(0) == 1 else torch.einsum("bhtd,hde->bhte", torch.relu(q), weight)
    return torch.stack([q, neg], dim=2).flatten(1, 2)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("groups", [1, H])
@pytest.mark.parametrize("grad_layout", ["contiguous", "flash kernel (B x T x 2H x Dh)"])
def test_dual_queries_match_naive_values_and_gradients(dtype, groups, grad_layout, device):
    cpu_only(device)
    # q as fairseq makes it: a B x H x T x Dh view of a time-major T x B x C projection
    q_tb = randn(T, B, C, seed=0, dtype=dtype).requires_grad_(True)
    weight = randn(groups, DH, DH, seed=1, dtype=dtype).requires_grad_(True)
    if grad_layout == "contiguous":
        grad_out = randn(B, 2 * H, T, DH, seed=2, dtype=dtype)
    else:  # the layout the CPU flash-attention backward returns: rows of Q- gradients are a view
        grad_out = randn(B, T, 2 * H, DH, seed=2, dtype=dtype).transpose(1, 2)

    def run(fn):
        q_tb.grad = weight.grad = None
        q = q_tb.view(T, B, H, DH).permute(1, 2, 0, 3)
        out = fn(q, weight)
        out.backward(grad_out)
        return out.detach(), q_tb.grad.clone(), weight.grad.clone()

    fast, naive = run(DualQueries.apply), run(naive_dual_queries)
    assert fast[0].shape == (B, 2 * H, T, DH)
    for got, want in zip(fast, naive):
        close(got, want, dtype)
    # heads 2h are Q+ itself, exactly
    assert torch.equal(fast[0][:, 0::2], q_tb.detach().view(T, B, H, DH).permute(1, 2, 0, 3))


def naive_combine(both, lam_pos, lam_neg):
    lp = lam_pos.reshape(-1, 1, 1) if torch.is_tensor(lam_pos) else lam_pos
    ln = lam_neg.reshape(-1, 1, 1) if torch.is_tensor(lam_neg) else lam_neg
    context = lp * both[:, 0::2] - ln * both[:, 1::2]  # B x H x T x Dh
    return context.permute(2, 0, 1, 3).reshape(T, B, C)


LAMBDAS = {
    "fixed (lambda+ = 1 + lambda-)": lambda: (1.25, 0.25),
    "fixed, other total": lambda: (0.9, 0.3),
    "trainable, one value": lambda: (None, torch.tensor([0.3])),
    "trainable, per head": lambda: (None, torch.tensor([0.05, 0.2, 0.4, 0.7])),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("lambdas", list(LAMBDAS))
def test_combine_dual_heads_matches_naive_values_and_gradients(dtype, lambdas, device):
    cpu_only(device)
    lam_pos, lam_neg = LAMBDAS[lambdas]()
    trainable = torch.is_tensor(lam_neg)
    both = randn(B, 2 * H, T, DH, seed=3, dtype=dtype).requires_grad_(True)
    grad_out = randn(T, B, C, seed=4, dtype=dtype)

    def run(fn):
        both.grad = None
        theta = lam_neg.clone().requires_grad_(True) if trainable else None
        lp, ln = (1.0 + theta, theta) if trainable else (lam_pos, lam_neg)
        out = fn(both, lp, ln)
        out.backward(grad_out)
        grads = [both.grad.clone()] + ([theta.grad.clone()] if trainable else [])
        return [out.detach()] + grads

    fast, naive = run(combine_dual_heads), run(naive_combine)
    assert fast[0].shape == (T, B, C) and fast[0].is_contiguous()
    for got, want in zip(fast, naive):
        close(got, want, dtype)


# --------------------------------------------------------------------------- the fused kernel

MASK_CASES = ["none", "causal", "padding", "causal+padding", "bool masks", "a fully padded row"]


def mask_case(name):
    causal, padding = masks()
    if name == "none":
        return None, None
    if name == "causal":
        return causal, None
    if name == "padding":
        return None, padding
    if name == "causal+padding":
        return causal, padding
    if name == "bool masks":
        return torch.isinf(causal), padding
    full = padding.clone()
    full[0] = True
    return causal, full.float()  # float padding mask, as fairseq passes it during decoding


def assert_fast_matches_reference(fast, reference, leaves, grad_out, dtype, fully_padded_row=False):
    """Outputs and gradients of every leaf agree; sentence 0 (if fully padded) gets output 0."""
    results = []
    for fn in (fast, reference):
        for leaf in leaves:
            leaf.grad = None
        out = fn()
        out.backward(grad_out.to(out.dtype))
        results.append([out.detach()] + [leaf.grad.clone() for leaf in leaves])
    got, want = results
    assert all(torch.isfinite(t).all() for t in got)
    for a, b in zip(got, want):
        close(a, b, dtype)
    if fully_padded_row:
        assert (got[0][:, 0] == 0).all()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", MASK_CASES)
@pytest.mark.parametrize("call", ["cpu flash kernel, Q- rebuilt in backward", "scaled_dot_product_attention"])
def test_fused_heads_match_reference(dtype, case, call, device):
    backend = "sdpa" if call == "scaled_dot_product_attention" else "cpu_flash"  # sdpa: other devices, autocast
    if backend == "cpu_flash":
        cpu_only(device)
    attn_mask, kpm = mask_case(case)
    q = randn(B, H, T, DH, seed=5, dtype=dtype).requires_grad_(True)
    k = randn(B, H, S, DH, seed=6, dtype=dtype).requires_grad_(True)
    v = randn(B, H, S, DH, seed=7, dtype=dtype).requires_grad_(True)
    weight = (randn(1, DH, DH, seed=8) / DH ** 0.5).to(dtype).requires_grad_(True)
    theta = torch.tensor([0.1, 0.2, 0.3, 0.6], requires_grad=True)
    scale = DH ** -0.5
    grad_out = randn(T, B, C, seed=9, dtype=dtype)
    leaves = (q, k, v, weight, theta)

    def fast():
        with force_backend(backend):
            return dual_softmax_attention_heads(q, k, v, weight, 1 + theta, theta, attn_mask=attn_mask,
                                                key_padding_mask=kpm, scale=scale)

    def reference():
        # fp32 reference on the same (possibly bf16-rounded) inputs
        qf, kf, vf, wf = (t.float() for t in (q, k, v, weight))
        q_pos = qf * scale
        q_neg = torch.relu(q_pos) @ wf[0]
        mask = merge_masks(attn_mask, kpm, torch.float32)
        lam = theta.reshape(-1, 1, 1)
        ctx = dual_softmax_attention_reference(q_pos, q_neg, kf, vf, 1 + lam, lam, mask).context
        return ctx.permute(2, 0, 1, 3).reshape(T, B, C)

    assert_fast_matches_reference(fast, reference, leaves, grad_out, dtype, case == "a fully padded row")


DECODE_LAMBDAS = {
    "fixed (lambda+ = 1 + lambda-)": lambda: (1.3, 0.3),
    "fixed, other total": lambda: (0.9, 0.3),
    "trainable, per head": lambda: torch.tensor([0.1, 0.2, 0.3, 0.6]),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", ["none", "padding", "a fully padded row"])
@pytest.mark.parametrize("groups", [1, H])
@pytest.mark.parametrize("lambdas", list(DECODE_LAMBDAS))
def test_decode_path_matches_reference(dtype, case, groups, lambdas, device):
    """The incremental-decoding path (two query rows per sentence, e.g. beam hypotheses)."""
    _, kpm = mask_case(case)
    kpm = None if kpm is None else kpm.bool()
    rows = 2
    q = randn(B, H, rows, DH, seed=20, dtype=dtype).requires_grad_(True)
    k = randn(B, H, S, DH, seed=21, dtype=dtype).requires_grad_(True)
    v = randn(B, H, S, DH, seed=22, dtype=dtype).requires_grad_(True)
    weight = (randn(groups, DH, DH, seed=23) / DH ** 0.5).to(dtype).requires_grad_(True)
    lam = DECODE_LAMBDAS[lambdas]()
    theta = lam.clone().requires_grad_(True) if torch.is_tensor(lam) else None
    scale = DH ** -0.5
    grad_out = randn(rows, B, C, seed=24, dtype=dtype)
    leaves = [q, k, v, weight] + ([theta] if theta is not None else [])

    def lambdas_now():
        return (1 + theta, theta) if theta is not None else lam

    def fast():
        lam_pos, lam_neg = lambdas_now()
        return dual_softmax_attention_decode(q, k, v, weight, lam_pos, lam_neg, key_padding_mask=kpm, scale=scale)

    def reference():
        qf, kf, vf, wf = (t.float() for t in (q, k, v, weight))
        q_pos = qf * scale
        q_neg = naive_dual_queries(q_pos, wf)[:, 1::2]
        lam_pos, lam_neg = lambdas_now()
        if theta is not None:
            lam_pos, lam_neg = lam_pos.reshape(-1, 1, 1), lam_neg.reshape(-1, 1, 1)
        mask = merge_masks(None, kpm, torch.float32)
        ctx = dual_softmax_attention_reference(q_pos, q_neg, kf, vf, lam_pos, lam_neg, mask).context
        return ctx.permute(2, 0, 1, 3).reshape(rows, B, C)

    assert_fast_matches_reference(fast, reference, leaves, grad_out, dtype, case == "a fully padded row")


# --------------------------------------------------------------------------- the module

def module_pair(dtype, lambda_mode="fixed", sharing="module", **kwargs):
    """(auto, reference) modules with identical weights (xavier W-, so W- is not -I)."""
    opts = dict(lambda_mode=lambda_mode, neg_query_sharing=sharing, neg_query_init="xavier",
                lambda_neg=0.3, lambda_max=0.9)
    torch.manual_seed(0)
    auto = DagpamMultiheadAttention(C, H, options=GpamOptions(kernel="auto", **opts), **kwargs)
    ref = DagpamMultiheadAttention(C, H, options=GpamOptions(kernel="reference", **opts), **kwargs)
    if auto.lambdas.theta is not None:
        with torch.no_grad():  # different lambda per head
            auto.lambdas.theta.copy_(torch.linspace(-1.5, 1.0, auto.lambdas.theta.numel()))
    ref.load_state_dict(auto.state_dict())
    return auto.to(dtype), ref.to(dtype)


def fwd_bwd(module, query, key, grad_out, **kwargs):
    module.zero_grad(set_to_none=True)
    query.grad = None
    if key is not None and key is not query:
        key.grad = None
    out, _ = module(query, key, key, need_weights=False, **kwargs)
    out.backward(grad_out)
    grads = {n: p.grad.clone() for n, p in module.named_parameters()}
    grads["input"] = query.grad.clone()
    if key is not None and key is not query:
        grads["key"] = key.grad.clone()
    return out.detach(), grads


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("lambda_mode,sharing", [("fixed", "module"), ("head", "head"), ("layer", "module")])
@pytest.mark.parametrize("position", ["encoder_self", "decoder_self", "encoder_decoder"])
def test_module_auto_matches_reference_in_training(dtype, lambda_mode, sharing, position, device):
    causal, padding = masks(T, T)
    if position == "encoder_decoder":
        auto, ref = module_pair(dtype, lambda_mode, sharing, encoder_decoder_attention=True)
        x = randn(T, B, C, seed=10, dtype=dtype).requires_grad_(True)
        enc = randn(S, B, C, seed=11, dtype=dtype).requires_grad_(True)
        kwargs = dict(key_padding_mask=masks()[1], static_kv=True)
    else:
        auto, ref = module_pair(dtype, lambda_mode, sharing, self_attention=True)
        x = randn(T, B, C, seed=10, dtype=dtype).requires_grad_(True)
        enc = x
        kwargs = dict(key_padding_mask=padding, attn_mask=causal if position == "decoder_self" else None)
    auto.train()
    ref.train()
    grad_out = randn(T, B, C, seed=12, dtype=dtype)
    out_a, grads_a = fwd_bwd(auto, x, enc, grad_out, **kwargs)
    out_r, grads_r = fwd_bwd(ref, x, enc, grad_out, **kwargs)
    close(out_a, out_r, dtype)
    assert grads_a.keys() == grads_r.keys()
    for name in grads_a:
        close(grads_a[name], grads_r[name], dtype)
    if lambda_mode == "head":
        assert grads_a["lambdas.theta"].abs().min() > 0, "every per-head lambda must receive a gradient"


@pytest.mark.parametrize("dtype", DTYPES)
def test_incremental_decoding_with_fast_path_matches_full_reference(dtype, device):
    """Decoder self- and encoder-decoder attention step by step (cache, static_kv, beam
    reorder) against the reference module run once over the whole sequence."""
    steps, src_pad = T, masks()[1]
    self_auto, self_ref = module_pair(dtype, "head", "module", self_attention=True)
    cross_auto, cross_ref = module_pair(dtype, "fixed", "head", encoder_decoder_attention=True)
    for m in (self_auto, self_ref, cross_auto, cross_ref):
        m.eval()
    x = randn(steps, B, C, seed=13, dtype=dtype)
    enc = randn(S, B, C, seed=14, dtype=dtype)
    causal = torch.triu(torch.full((steps, steps), float("-inf")), 1)

    with torch.no_grad():
        want_self, _ = self_ref(x, x, x, attn_mask=causal, need_weights=False)
        want, _ = cross_ref(want_self, enc, enc, key_padding_mask=src_pad, static_kv=True, need_weights=False)

        state = {}
        # fairseq reorders the cache between steps; an identity permutation then
        # a real one on a copy checks that every buffer is index-selected
        got = []
        for t in range(steps):
            h, _ = self_auto(x[t:t + 1], x[t:t + 1], x[t:t + 1], incremental_state=state, need_weights=False)
            y, _ = cross_auto(h, enc, enc, key_padding_mask=src_pad, incremental_state=state,
                              static_kv=True, need_weights=False)
            got.append(y)
            identity = torch.arange(B)
            self_auto.reorder_incremental_state(state, identity)
            cross_auto.reorder_incremental_state(state, identity)
        close(torch.cat(got), want, dtype)

        order = torch.tensor([2, 0, 1])
        self_auto.reorder_incremental_state(state, order)
        cross_auto.reorder_incremental_state(state, order)
        cache = self_auto._get_input_buffer(state)
        assert cache["prev_key"].shape == (B, H, steps, DH)


@pytest.mark.parametrize("dtype", [torch.bfloat16])
def test_autocast_uses_plain_autograd_and_matches_reference(dtype, device):
    """Under autocast the module takes the SDPA path (the path CUDA + AMP users get)."""
    auto, ref = module_pair(torch.float32, "head", "module", self_attention=True)
    causal, padding = masks(T, T)
    x = randn(T, B, C, seed=15).requires_grad_(True)
    grad_out = randn(T, B, C, seed=16)
    with torch.autocast(device.type, dtype=dtype if device.type == "cpu" else torch.float16):
        out_a, _ = auto(x, x, x, key_padding_mask=padding, attn_mask=causal, need_weights=False)
    out_a.float().backward(grad_out)
    grad_a = {n: p.grad.clone() for n, p in auto.named_parameters()}
    out_r, grads_r = fwd_bwd(ref, x, x, grad_out, key_padding_mask=padding, attn_mask=causal)
    close(out_a, out_r, dtype)
    for name, g in grad_a.items():
        close(g, grads_r[name], dtype)


def saved_bytes(fn) -> int:
    """Bytes of distinct storages autograd keeps for the backward pass of ``fn()``."""
    storages = {}

    def pack(t):
        storages[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fn()
    return sum(storages.values())


def test_fast_path_saves_less_than_reference_and_at_most_one_extra_activation(device):
    """The memory the fast path is built for: softmax attention keeps about five T x B x C
    activations (q, k, v, output, projected input); the fast path one more (the outputs of
    the Q- heads): on CPU the stacked queries are rebuilt from Q+ in the backward pass."""
    cpu_only(device)
    from fairseq.modules import MultiheadAttention

    t, bsz = 16, 4
    x = randn(t, bsz, C, seed=17).requires_grad_(True)
    auto, ref = module_pair(torch.float32, self_attention=True)
    torch.manual_seed(0)
    base = MultiheadAttention(C, H, self_attention=True)
    unit = t * bsz * C * 4

    def call(m):
        return lambda: m(x, x, x, need_weights=False)[0]

    fast, explicit, softmax = (saved_bytes(call(m)) for m in (auto, ref, base))
    assert fast < explicit
    # the outputs of the Q- heads, plus the softmax statistics of all 2H heads
    # (B x 2H x T fp32) and W- (Dh x Dh)
    allowance = unit + bsz * 2 * H * t * 4 + DH * DH * 4
    assert fast <= softmax + allowance, (fast, softmax, unit)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kernel", ["auto", "reference"])
@pytest.mark.parametrize("need_weights", [False, True])
def test_beam_shared_encoder_keys_match_a_cache_per_hypothesis(dtype, kernel, need_weights, device):
    """Beam search with set_beam_size(beam): encoder keys projected and cached once per
    sentence (as fairseq does) give each hypothesis the same output and weights as a
    cache per hypothesis, through reordering within sentences and a shrinking batch."""
    beam, sents, steps = 3, 2, 4
    shared, per_hyp = module_pair(dtype, "fixed", "module", encoder_decoder_attention=True)
    if kernel == "reference":
        shared, per_hyp = per_hyp, shared
        per_hyp.load_state_dict(shared.state_dict())
    shared.set_beam_size(beam)
    for m in (shared, per_hyp):
        m.eval()
    enc = randn(S, sents, C, seed=20, dtype=dtype).repeat_interleave(beam, dim=1)  # S x sents*beam x C
    pad = torch.zeros(sents, S, dtype=torch.bool)
    pad[1, -2:] = True
    pad = pad.repeat_interleave(beam, dim=0)
    queries = randn(steps, sents * beam, C, seed=21, dtype=dtype)
    states = ({}, {})
    with torch.no_grad():
        for t in range(steps):
            outs = [m(queries[t:t + 1], enc, enc, key_padding_mask=pad, incremental_state=st, static_kv=True,
                      need_weights=need_weights, need_head_weights=need_weights)
                    for m, st in zip((shared, per_hyp), states)]
            close(outs[0][0], outs[1][0], dtype)
            if need_weights:
                close(outs[0][1], outs[1][1], dtype)
            # hypotheses move within their sentence, as beam search does
            order = torch.tensor([2, 2, 0, 4, 3, 5]) if t % 2 == 0 else torch.arange(sents * beam)
            for m, st in zip((shared, per_hyp), states):
                m.reorder_incremental_state(st, order)
        assert shared._get_input_buffer(states[0])["prev_key"].size(0) == sents  # one entry per sentence
        # the first sentence finishes: the batch shrinks to the second one's hypotheses
        keep = torch.tensor([3, 4, 5])
        for m, st in zip((shared, per_hyp), states):
            m.reorder_incremental_state(st, keep)
        q = queries[-1:, 3:]
        got, want = (m(q, enc[:, 3:], enc[:, 3:], key_padding_mask=pad[3:], incremental_state=st, static_kv=True,
                       need_weights=False)[0] for m, st in zip((shared, per_hyp), states))
        close(got, want, dtype)
