"""The query-gradient ratio daGPAM / softmax under near-uniform attention is fixed by lambda+, not learned.

results/study-plan.md reads the 15-layer alternatives study's query-weight gradient ratio (1.22-1.33 in
the first layers) against this: with A = lambda+ softmax(Q+ K^T/sqrt(d)) - lambda- softmax(Q- K^T/sqrt(d)),
Q- = ReLU(Q+) W-, W- = -I at initialisation, and both maps near uniform (collapsed tokens), the forward
output equals softmax's (rows of A sum to 1) while the gradient reaching Q+ is softmax's times lambda+
(positive map) plus lambda- on the entries where Q+ > 0 (negative map through W- = -I and the ReLU): a
ratio between lambda+ = 1.2 and lambda+ + lambda- = 1.4 for lambda- = 0.2, with no mechanism at work.
Plain torch, one head, float64: a check of the algebra, seconds.
"""

import math

import pytest
import torch

LAMBDA_NEG = 0.2


def query_weight_gradient(x, wq, wk, wv, upstream, dagpam, negative_branch=True):
    """Gradient of sum(out * upstream) w.r.t. W_q for one head; x (T, d), weights (d, d), upstream (T, d)."""
    wq = wq.clone().requires_grad_(True)
    q, k, v = x @ wq, x @ wk, x @ wv
    scale = 1 / math.sqrt(x.shape[1])
    a = torch.softmax(q @ k.T * scale, dim=-1)
    if dagpam:
        q_for_neg = q if negative_branch else q.detach()
        q_neg = torch.relu(q_for_neg) @ (-torch.eye(x.shape[1], dtype=x.dtype))     # W- = -I
        a = (1 + LAMBDA_NEG) * a - LAMBDA_NEG * torch.softmax(q_neg @ k.T * scale, dim=-1)
    out = a @ v
    (out * upstream).sum().backward()
    return out.detach(), wq.grad


def setting(spread, seed=0, t=12, d=16):
    g = torch.Generator().manual_seed(seed)
    base = torch.randn(1, d, generator=g, dtype=torch.float64)
    x = base + spread * torch.randn(t, d, generator=g, dtype=torch.float64)   # spread -> 0: tokens collapse
    weights = [torch.randn(d, d, generator=g, dtype=torch.float64) / math.sqrt(d) for _ in range(3)]
    upstream = torch.randn(t, d, generator=g, dtype=torch.float64)
    return x, weights, upstream


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_near_uniform_attention_scales_the_query_gradient_by_lambda_plus(seed):
    x, (wq, wk, wv), upstream = setting(spread=1e-3, seed=seed)
    out_s, grad_s = query_weight_gradient(x, wq, wk, wv, upstream, dagpam=False)
    out_d, grad_d = query_weight_gradient(x, wq, wk, wv, upstream, dagpam=True)
    _, grad_pos = query_weight_gradient(x, wq, wk, wv, upstream, dagpam=True, negative_branch=False)
    assert torch.allclose(out_s, out_d, atol=1e-5)            # same forward pass: nothing learned differs
    ratio = (grad_d.norm() / grad_s.norm()).item()
    assert 1 + LAMBDA_NEG - 1e-3 <= ratio <= 1 + 2 * LAMBDA_NEG + 1e-3
    # the positive map alone: exactly lambda+ (to first order in the spread)
    assert (grad_pos.norm() / grad_s.norm()).item() == pytest.approx(1 + LAMBDA_NEG, rel=1e-2)


def test_the_ratio_is_not_pinned_once_attention_is_peaked():
    ratios = []
    for seed in range(4):
        x, (wq, wk, wv), upstream = setting(spread=3.0, seed=seed)
        _, grad_s = query_weight_gradient(x, wq * 3, wk * 3, wv, upstream, dagpam=False)
        _, grad_d = query_weight_gradient(x, wq * 3, wk * 3, wv, upstream, dagpam=True)
        ratios.append((grad_d.norm() / grad_s.norm()).item())
    assert any(not 1.19 <= r <= 1.41 for r in ratios), ratios
