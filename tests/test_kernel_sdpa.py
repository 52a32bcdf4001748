"""The SDPA path (CUDA's, autocast's, torch.compile's) without a GPU: which calls it makes.

Every ``F.scaled_dot_product_attention`` call is recorded while the module runs the
non-CPU-kernel branch, reached two ways: the explicit switch ``force_backend("sdpa")``
and autocast. Each SDPA backend the device offers is forced in turn
(``torch.nn.attention.sdpa_kernel``), so every call must be one that backend serves
alone. Asserted: two calls per module call (Q+ and Q-, sharing K and V, H heads each),
never a mask together with ``enable_gqa`` (the combination CUDA serves only with the
math kernel, PyTorch issue 139586), ``is_causal=True`` instead of a mask when the only
mask is the causal one; outputs and gradients equal the reference module's.
"""

import pytest
import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

from conftest import build_translation_model, random_batch
from fairseq_gpam.modules import DagpamMultiheadAttention, GpamOptions
from fairseq_gpam.modules.kernels import choose_backend, force_backend
from fairseq_gpam.modules.kernels.sdpa import is_future_mask

B, H, T, S, DH = 3, 4, 6, 7, 8
C = H * DH
SDPA_BACKENDS = [SDPBackend.MATH, SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION,
                 SDPBackend.CUDNN_ATTENTION]


@pytest.fixture
def sdpa_calls(monkeypatch):
    """Every F.scaled_dot_product_attention call: a dict of its arguments (tensors as tensors)."""
    calls = []
    real = F.scaled_dot_product_attention

    def spy(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None, enable_gqa=False):
        calls.append(dict(query=query, key=key, attn_mask=attn_mask, is_causal=is_causal, enable_gqa=enable_gqa))
        return real(query, key, value, attn_mask=attn_mask, dropout_p=dropout_p, is_causal=is_causal,
                    scale=scale, enable_gqa=enable_gqa)

    monkeypatch.setattr(F, "scaled_dot_product_attention", spy)
    return calls


def serves(backend, device, dtype, mask_kind) -> bool:
    """The backend, alone, serves a plain multi-head call with this kind of mask here."""
    q = torch.randn(2, 2, 4, 8, device=device, dtype=dtype)
    mask = None if mask_kind != "tensor" else torch.zeros(2, 1, 4, 4, device=device, dtype=dtype)
    try:
        with sdpa_kernel(backend):
            F.scaled_dot_product_attention(q, q, q, attn_mask=mask, is_causal=mask_kind == "causal")
    except RuntimeError:
        return False
    return True


def randn(*shape, seed, device):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed)).to(device)


def module_pair(device, **kind):
    """(auto, reference) daGPAM modules with equal weights and per-head trainable lambdas."""
    opts = dict(lambda_mode="head", lambda_max=0.9, lambda_neg=0.3, neg_query_init="xavier")
    torch.manual_seed(0)
    auto = DagpamMultiheadAttention(C, H, options=GpamOptions(kernel="auto", **opts), **kind)
    ref = DagpamMultiheadAttention(C, H, options=GpamOptions(kernel="reference", **opts), **kind)
    with torch.no_grad():
        auto.lambdas.theta.copy_(torch.linspace(-1.5, 1.0, H))
    ref.load_state_dict(auto.state_dict())
    return auto.to(device).train(), ref.to(device).train()


# position, masks: what fairseq passes at each attention position
CASES = {
    "encoder self-attention, padding": ("self", False, True),
    "decoder self-attention, causal only (LM batch)": ("self", True, False),
    "decoder self-attention, causal + padding": ("self", True, True),
    "encoder-decoder attention, padding": ("cross", False, True),
    "no mask": ("self", False, False),
}


def run_module(module, case, device, grad_out):
    position, causal, padding = CASES[case]
    x = randn(T, B, C, seed=1, device=device).requires_grad_(True)
    src_len = S if position == "cross" else T
    mem = randn(S, B, C, seed=2, device=device) if position == "cross" else x
    kpm = None
    if padding:
        kpm = torch.zeros(B, src_len, dtype=torch.bool, device=device)
        kpm[1, :2] = True
    attn_mask = torch.triu(torch.full((T, T), float("-inf"), device=device), 1) if causal else None
    out, _ = module(x, mem, mem, key_padding_mask=kpm, attn_mask=attn_mask, static_kv=position == "cross",
                    need_weights=False)
    out.float().backward(grad_out)
    grads = {n: p.grad.clone() for n, p in module.named_parameters()}
    grads["input"] = x.grad.clone()
    return out.detach().float(), grads


@pytest.mark.parametrize("backend", SDPA_BACKENDS, ids=lambda b: b.name)
@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("route", ["force_backend('sdpa')", "autocast"])
def test_sdpa_branch_calls_and_matches_reference(device, backend, case, route, sdpa_calls):
    position, causal, padding = CASES[case]
    half = torch.bfloat16 if device.type == "cpu" else torch.float16
    call_dtype = half if route == "autocast" else torch.float32
    mask_kind = "tensor" if padding else ("causal" if causal else "none")
    if not serves(backend, device, call_dtype, mask_kind):
        pytest.skip(f"{backend.name} does not serve a {call_dtype} call with mask kind {mask_kind!r} on {device}")
    kind = dict(encoder_decoder_attention=True) if position == "cross" else dict(self_attention=True)
    auto, ref = module_pair(device, **kind)
    grad_out = randn(T, B, C, seed=3, device=device)

    if route == "autocast":
        switch = torch.autocast(device.type, dtype=half)
    else:
        switch = force_backend("sdpa")
    sdpa_calls.clear()  # the probe's call
    with sdpa_kernel(backend), switch:
        got_out, got_grads = run_module(auto, case, device, grad_out)
    calls = list(sdpa_calls)
    want_out, want_grads = run_module(ref, case, device, grad_out)
    assert not sdpa_calls[len(calls):], "the reference module must not call SDPA"

    assert len(calls) == 2, "one SDPA call for Q+ and one for Q-"
    for call in calls:
        assert not (call["attn_mask"] is not None and call["enable_gqa"]), "a masked grouped-query call"
        assert not call["enable_gqa"]
        assert call["query"].shape[:3] == (B, H, T) and call["key"].shape[1] == H
        assert call["key"] is calls[0]["key"], "both calls share one K"
        if causal and not padding:
            assert call["is_causal"] and call["attn_mask"] is None
        else:
            assert not call["is_causal"]
            assert (call["attn_mask"] is not None) == (causal or padding)
    if route == "autocast":
        assert calls[0]["query"].dtype == half
        tol = dict(atol=5e-2, rtol=5e-2)
    else:
        tol = dict(atol=2e-5, rtol=1e-4)
    scale = lambda t: max(1.0, float(t.abs().max())) if route == "autocast" else 1.0  # noqa: E731
    torch.testing.assert_close(got_out, want_out, atol=tol["atol"] * scale(want_out), rtol=tol["rtol"])
    assert got_grads.keys() == want_grads.keys()
    for name, want in want_grads.items():
        torch.testing.assert_close(got_grads[name].float(), want.float(), atol=tol["atol"] * scale(want),
                                   rtol=tol["rtol"], msg=name)


def test_autocast_and_non_cpu_devices_take_the_sdpa_branch(device):
    q = torch.randn(2, 2, 3, 8, device=device)
    with torch.autocast(device.type, dtype=torch.bfloat16 if device.type == "cpu" else torch.float16):
        assert choose_backend(q, q, q) == "sdpa"
    assert choose_backend(q, q, q) == ("cpu_flash" if device.type == "cpu" else "sdpa")
    assert choose_backend(q.half(), q.half(), q.half()) == "sdpa"
    assert choose_backend(q, q, q, need_weights=True) == "reference"
    assert choose_backend(q, q, q, dropout_p=0.1) == "reference"
    assert choose_backend(q, q, q, decoding=True) == "decode"
    with force_backend("sdpa"):
        assert choose_backend(q, q, q) == "sdpa"
    with pytest.raises(ValueError, match="force_backend"):
        with force_backend("math"):
            pass


def test_translation_model_under_autocast_makes_no_masked_grouped_query_call(dict_dir, sdpa_calls, device):
    """The whole model, as a CUDA user with --amp runs it: every attention position, every call."""
    task, model = build_translation_model(dict_dir, "gpam_transformer_tiny")
    model = model.to(device).train()
    src, src_lengths, prev = (t.to(device) for t in random_batch(len(task.source_dictionary), 3, 7, 6))
    with torch.autocast(device.type, dtype=torch.bfloat16 if device.type == "cpu" else torch.float16):
        out, _ = model(src, src_lengths, prev)
    out.float().sum().backward()
    assert sdpa_calls, "the model made no SDPA call"
    assert not any(c["attn_mask"] is not None and c["enable_gqa"] for c in sdpa_calls)
    assert not any(c["enable_gqa"] for c in sdpa_calls)
    dagpam_modules = [m for m in model.modules() if isinstance(m, DagpamMultiheadAttention)]
    assert len(dagpam_modules) >= 3  # encoder self, decoder self, encoder-decoder
    # fairseq asks the last decoder layer's encoder attention for its weights (the alignment
    # layer), which the reference computes, as fairseq's own module then does explicitly too
    assert len(sdpa_calls) == 2 * (len(dagpam_modules) - 1)


def test_future_mask_is_recognised_exactly():
    causal = torch.triu(torch.full((5, 5), float("-inf")), 1)
    assert is_future_mask(causal, 5, 5)
    assert is_future_mask(torch.isinf(causal), 5, 5)
    assert is_future_mask(causal[:4, :4], 4, 4)  # fairseq hands out slices of one buffered mask
    assert not is_future_mask(causal, 5, 6)
    assert not is_future_mask(torch.triu(torch.full((5, 5), float("-inf")), 2), 5, 5)
    assert not is_future_mask(torch.zeros(5, 5), 5, 5)
    biased = causal.clone()
    biased[3, 0] = 0.5  # a finite bias is more than a causal mask
    assert not is_future_mask(biased, 5, 5)
    changed = causal.clone()
    assert is_future_mask(changed, 5, 5)
    changed[0, 1] = 0.0  # modified in place after it was seen: checked again
    assert not is_future_mask(changed, 5, 5)


def test_sdpa_path_keeps_two_activations_more_than_softmax_attention():
    """Memory of the SDPA path's backward: softmax attention's saved tensors plus Q- and
    O- = A- V (B x T x C each) and the second call's log-sum-exp; not ReLU(Q+) and not the
    combined context (recomputed). Measured with fairseq's softmax module beside it, on CPU."""
    from fairseq.modules import MultiheadAttention

    from test_fast_paths import saved_bytes

    t, bsz = 16, 4
    x = randn(t, bsz, C, seed=4, device="cpu").requires_grad_(True)
    for trainable in (False, True):
        opts = dict(lambda_mode="head", lambda_max=0.9) if trainable else {}
        torch.manual_seed(0)
        dagpam = DagpamMultiheadAttention(C, H, self_attention=True, options=GpamOptions(lambda_neg=0.3, **opts))
        torch.manual_seed(0)
        softmax = MultiheadAttention(C, H, self_attention=True)
        with force_backend("sdpa"):
            fast = saved_bytes(lambda: dagpam(x, x, x, need_weights=False)[0])
        base = saved_bytes(lambda: softmax(x, x, x, need_weights=False)[0])
        unit = t * bsz * C * 4
        allowance = 2 * unit + bsz * H * t * 4 + DH * DH * 4 + 64  # Q-, O-, a log-sum-exp, W-, lambdas
        assert fast <= base + allowance, (fast / unit, base / unit)
