"""Half-precision inputs with logits past fp16's range (65504), on every path (issue 16.5).

Each path forms the scores and the softmax in fp32 whatever the input dtype, so a
model that trains in fp16/bf16 also decodes: reference (weights / dropout), decode
(incremental steps), SDPA (every backend the device offers, the math fallback
included) and the CPU flash path (bf16; it takes no fp16). Outputs are compared with
the fp32 computation on the same half-rounded inputs; gradients must be finite.
"""

import pytest
import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

from fairseq_gpam.modules.kernels import (
    choose_backend, dual_softmax_attention, dual_softmax_attention_decode, dual_softmax_attention_heads,
    force_backend,
)

B, H, T, S, DH = 2, 2, 3, 5, 8
HALF = [torch.float16, torch.bfloat16]


def large_logit_inputs(dtype, device, rows=T):
    """q, k, v, W- (= -I, so Q- = -ReLU(Q+)) in ``dtype`` with |q.k| well past 65504."""
    g = torch.Generator().manual_seed(0)
    q = (torch.randn(B, H, rows, DH, generator=g) * 150).to(device, dtype)
    k = (torch.randn(B, H, S, DH, generator=g) * 150).to(device, dtype)
    v = torch.randn(B, H, S, DH, generator=g).to(device, dtype)
    weight = -torch.eye(DH, device=device, dtype=dtype).unsqueeze(0)
    logits = q.float() @ k.float().transpose(-1, -2)
    assert logits.abs().max() > 65504, "the test's premise: logits fp16 cannot hold"
    return q, k, v, weight


def fp32_reference(q, k, v, weight, kpm):
    """(lambda+ A+ - lambda- A-) V in fp32 on the same (half-rounded) inputs, T x B x C."""
    qf, kf, vf, wf = (t.float() for t in (q, k, v, weight))
    out = dual_softmax_attention(qf, torch.relu(qf) @ wf[0], kf, vf, 1.3, 0.3, key_padding_mask=kpm,
                                 fused=False).context
    return out.permute(2, 0, 1, 3).reshape(q.size(2), B, H * DH)


def check(got, want, dtype):
    assert torch.isfinite(got).all(), "non-finite output"
    tol = 1e-2 if dtype == torch.float16 else 3e-2  # output rounding only: v is O(1)
    torch.testing.assert_close(got.float(), want, atol=tol, rtol=tol)


def padding(device):
    kpm = torch.zeros(B, S, dtype=torch.bool, device=device)
    kpm[1, -2:] = True
    return kpm


@pytest.mark.parametrize("dtype", HALF)
def test_reference_path(dtype, device):
    q, k, v, weight = large_logit_inputs(dtype, device)
    q.requires_grad_(True)
    kpm = padding(device)
    res = dual_softmax_attention(q, torch.relu(q) @ weight[0], k, v, 1.3, 0.3, key_padding_mask=kpm,
                                 need_weights=True)
    assert torch.isfinite(res.weights).all() and res.weights.dtype == torch.float32
    check(res.context.permute(2, 0, 1, 3).reshape(T, B, H * DH), fp32_reference(q, k, v, weight, kpm), dtype)
    res.context.float().sum().backward()
    assert torch.isfinite(q.grad).all()


@pytest.mark.parametrize("dtype", HALF)
def test_decode_path(dtype, device):
    q, k, v, weight = large_logit_inputs(dtype, device, rows=1)
    kpm = padding(device)
    got = dual_softmax_attention_decode(q, k, v, weight, 1.3, 0.3, key_padding_mask=kpm, scale=1.0)
    check(got, fp32_reference(q, k, v, weight, kpm), dtype)


@pytest.mark.parametrize("dtype", HALF)
@pytest.mark.parametrize("backend", [SDPBackend.MATH, SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION,
                                     SDPBackend.CUDNN_ATTENTION], ids=lambda b: b.name)
def test_sdpa_path_on_every_backend(dtype, backend, device):
    q, k, v, weight = large_logit_inputs(dtype, device)
    kpm = padding(device)
    probe = torch.zeros(B, 1, 1, S, device=device, dtype=dtype)
    try:
        with sdpa_kernel(backend):
            F.scaled_dot_product_attention(q, k, v, attn_mask=probe)
    except RuntimeError:
        pytest.skip(f"{backend.name} serves no masked {dtype} call on {device}")
    q.requires_grad_(True)
    with sdpa_kernel(backend), force_backend("sdpa"):
        got = dual_softmax_attention_heads(q, k, v, weight, 1.3, 0.3, key_padding_mask=kpm, scale=1.0)
    check(got, fp32_reference(q, k, v, weight, kpm), dtype)
    got.float().sum().backward()
    assert torch.isfinite(q.grad).all()


def test_cpu_flash_path_in_bf16():
    q, k, v, weight = large_logit_inputs(torch.bfloat16, torch.device("cpu"))
    assert choose_backend(q, k, v) == "cpu_flash"
    kpm = padding("cpu")
    q.requires_grad_(True)
    got = dual_softmax_attention_heads(q, k, v, weight, 1.3, 0.3, key_padding_mask=kpm, scale=1.0)
    check(got, fp32_reference(q, k, v, weight, kpm), torch.bfloat16)
    got.float().sum().backward()
    assert torch.isfinite(q.grad).all()
