"""The CPU fast path checks the private ATen ops it calls before trusting them (issue 16.6).

Once per process and dtype, the path is run on a small input against public ops,
outputs and gradients. A private op that answers wrongly (forward or backward) or
raises turns the fast path off with one warning, and the SDPA path gives the
right result instead. Each case starts from a fresh, unverified state.
"""

import warnings

import pytest
import torch

from fairseq_gpam.modules.kernels import choose_backend, cpu_flash, dual_softmax_attention_heads
from fairseq_gpam.modules.kernels.reference import dagpam_reference
from fairseq_gpam.modules.kernels.common import merge_masks

B, H, T, S, DH = 2, 2, 4, 5, 8
REAL_FORWARD, REAL_BACKWARD = cpu_flash._FLASH_CPU, cpu_flash._FLASH_CPU_BACKWARD


@pytest.fixture(autouse=True)
def unverified(monkeypatch):
    monkeypatch.setattr(cpu_flash, "_VERIFIED", {})


def wrong_forward(*args, **kwargs):
    out, logsumexp = REAL_FORWARD(*args, **kwargs)
    return out * 1.01, logsumexp


def wrong_backward(*args, **kwargs):
    grad_q, grad_k, grad_v = REAL_BACKWARD(*args, **kwargs)
    return grad_q, grad_k * 0.5, grad_v


def raising_forward(*args, **kwargs):
    raise RuntimeError("schema changed")


def inputs():
    g = torch.Generator().manual_seed(3)
    q, k, v = (torch.randn(B, H, n, DH, generator=g).requires_grad_() for n in (T, S, S))
    weight = (torch.randn(1, DH, DH, generator=g) / DH ** 0.5).requires_grad_()
    kpm = torch.zeros(B, S, dtype=torch.bool)
    kpm[0, -2:] = True
    return q, k, v, weight, kpm


def run_and_compare():
    """The fused entry point's output and gradients equal the reference's."""
    q, k, v, weight, kpm = inputs()
    got = dual_softmax_attention_heads(q, k, v, weight, 1.25, 0.25, key_padding_mask=kpm, scale=DH ** -0.5)
    got_grads = torch.autograd.grad(got.sum(), (q, k, v, weight))
    q_pos = q * DH ** -0.5
    want = dagpam_reference(q_pos, torch.relu(q_pos) @ weight[0], k, v, 1.25, 0.25,
                            merge_masks(None, kpm, torch.float32)).context
    want = want.permute(2, 0, 1, 3).reshape(T, B, H * DH)
    want_grads = torch.autograd.grad(want.sum(), (q, k, v, weight))
    torch.testing.assert_close(got, want, atol=2e-5, rtol=1e-4)
    for a, b in zip(got_grads, want_grads):
        torch.testing.assert_close(a, b, atol=2e-5, rtol=1e-4)


def test_private_ops_of_this_torch_pass_the_check_silently():
    q = torch.randn(B, H, T, DH)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert choose_backend(q, q, q) == "cpu_flash"
        assert cpu_flash.private_ops_verified(torch.bfloat16)
    run_and_compare()


@pytest.mark.parametrize("fault", ["forward answers wrongly", "backward answers wrongly", "forward raises",
                                   "op missing"])
def test_a_faulty_private_op_turns_the_fast_path_off_with_one_warning(fault, monkeypatch):
    if fault == "forward answers wrongly":
        monkeypatch.setattr(cpu_flash, "_FLASH_CPU", wrong_forward)
    elif fault == "backward answers wrongly":
        monkeypatch.setattr(cpu_flash, "_FLASH_CPU_BACKWARD", wrong_backward)
    elif fault == "forward raises":
        monkeypatch.setattr(cpu_flash, "_FLASH_CPU", raising_forward)
    else:
        monkeypatch.setattr(cpu_flash, "_FLASH_CPU_BACKWARD", None)
    q = torch.randn(B, H, T, DH)
    with pytest.warns(RuntimeWarning, match="fast path is off") as caught:
        assert choose_backend(q, q, q) == "sdpa"
        run_and_compare()  # right results through the SDPA path
        run_and_compare()
    assert len([w for w in caught if "fast path is off" in str(w.message)]) == 1, "one warning per process"
