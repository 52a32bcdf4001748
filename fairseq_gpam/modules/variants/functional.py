"""The attention-weight functions of the peer variants: pure tensor math, no fairseq.

Every function maps a block of query/key interactions of one attention module
to the weights A that multiply the values (out = A V), per head::

    scores: B x H x T x S, q k^T with q already scaled by 1/sqrt(d_head), fp32
    blocked: bool, broadcastable to B x H x T x S, True where a key is masked
             (padding, or the future under a causal mask)

and returns A, B x H x T x S in fp32, with A = 0 exactly at every blocked
entry and on rows whose keys are all blocked. The projections, the cache and
the masks' construction live in :mod:`fairseq_gpam.modules.attention_frame`
and :mod:`fairseq_gpam.modules.attention_masks`.
"""

from typing import Optional

import torch
from torch import Tensor

NAP_EPS = 1e-3  # added to the row's standard deviation, as in Richter & Wattenhofer's code
RMS_EPS = 1e-5  # of the Differential Transformer's per-head RMSNorm


def _zero_blocked(weights: Tensor, blocked: Optional[Tensor]) -> Tensor:
    return weights if blocked is None else weights.masked_fill(blocked, 0.0)


def _valid_count(scores: Tensor, blocked: Optional[Tensor]) -> Tensor:
    """Number of unblocked keys of each row, B x H x T x 1 (at least 1)."""
    if blocked is None:
        return torch.full_like(scores[..., :1], float(scores.size(-1)))
    valid = (~blocked).to(scores.dtype).expand_as(scores)
    return valid.sum(-1, keepdim=True).clamp(min=1.0)


def _row_mean(x: Tensor, blocked: Optional[Tensor]) -> Tensor:
    """Mean of each row over its unblocked entries, B x H x T x 1."""
    return _zero_blocked(x, blocked).sum(-1, keepdim=True) / _valid_count(x, blocked)


def masked_softmax(scores: Tensor, blocked: Optional[Tensor]) -> Tensor:
    """softmax over the unblocked keys; fully blocked rows are 0 (not NaN)."""
    if blocked is None:
        return torch.softmax(scores, dim=-1)
    probs = torch.softmax(scores.masked_fill(blocked, float("-inf")), dim=-1)
    return probs.nan_to_num(0.0)


def non_weights(scores: Tensor, blocked: Optional[Tensor]) -> Tensor:
    """NON, "no normalisation" (Richter & Wattenhofer 2020, arXiv 2005.09561).

    A_ij = s_ij / sqrt(n_i): the raw scaled scores, divided by the square root
    of the number n_i of keys row i sees (the authors' rescaling that keeps a
    sum of n_i terms at unit scale; their code divides by sqrt(sequence length)).
    No softmax, no sign or sum constraint.
    """
    return _zero_blocked(scores / _valid_count(scores, blocked).sqrt(), blocked)


def nap_weights(
    scores: Tensor, blocked: Optional[Tensor], gain: Tensor, bias: Tensor, eps: float = NAP_EPS
) -> Tensor:
    """NAP, "normalised attention pooling" (Richter & Wattenhofer 2020).

    Each row of scores is standardised over its unblocked keys (mean 0,
    population standard deviation 1, eps added to the deviation), then scaled
    by a learned gain and shifted by a learned bias, one of each per head::

        A_ij = g_h (s_ij - mean_i(s)) / (std_i(s) + eps) + b_h

    gain, bias: H values.
    """
    mean = _row_mean(scores, blocked)
    centered = _zero_blocked(scores - mean, blocked)
    variance = centered.square().sum(-1, keepdim=True) / _valid_count(scores, blocked)
    # clamped so that rows of one visible key (variance 0) have a finite gradient
    std = variance.clamp(min=1e-12).sqrt()
    standard = centered / (std + eps)
    weights = gain.view(-1, 1, 1) * standard + bias.view(-1, 1, 1)
    return _zero_blocked(weights, blocked)


def coda_weights(q: Tensor, k: Tensor, blocked: Optional[Tensor], bias: Optional[Tensor] = None) -> Tensor:
    """CoDA quasi-attention (Tay et al. 2019, "Compositional De-Attention Networks").

    M = tanh(E) * sigmoid(N), every weight in (-1, 1): tanh(E) chooses to add
    (+1), subtract (-1) or ignore (0) a value, sigmoid(N) gates it by how close
    query and key are::

        E_ij = q_i . k_j / sqrt(d)              pairwise affinity
        N_ij = -||q_i - k_j||_1 / sqrt(d)       negative L1 distance
        N    <- N - mean_i(N)                   centred per row over visible keys

    q, k: B x H x T x Dh and B x H x S x Dh, *unscaled* projections. The paper's
    scale constants alpha, beta are 1/sqrt(d) here, and N is mean-centred
    (otherwise sigmoid(N) < 0.5 and, at the L1 distances of random
    initialisation, close to 0); see the module docs.
    """
    scale = q.size(-1) ** -0.5
    affinity = torch.matmul(q, k.transpose(-1, -2)).float() * scale
    if bias is not None:  # the finite part of an additive attn_mask, T x S
        affinity = affinity + bias
    distance = -torch.cdist(q.float(), k.float(), p=1.0) * scale
    distance = distance - _row_mean(distance, blocked)
    return _zero_blocked(torch.tanh(affinity) * torch.sigmoid(distance), blocked)


def cog_weights(scores: Tensor, blocked: Optional[Tensor]) -> Tensor:
    """Cog attention (Lv et al. 2024, "More Expressive Attention with Negative Weights").

    A_ij = sign(s_ij) exp(|s_ij|) / sum_j' exp(|s_ij'|) = sign(s) softmax(|s|):
    the magnitudes form a distribution, the sign of the score is kept, so
    sum_j |A_ij| = 1 and sign(A_ij) = sign(s_ij).
    """
    return torch.sign(scores) * masked_softmax(scores.abs(), blocked)


def differential_weights(scores: Tensor, blocked: Optional[Tensor], lam: Tensor) -> Tensor:
    """Differential attention (Ye et al. 2024, arXiv 2410.05258).

    scores: B x 2H' x T x S; sub-heads 2h and 2h+1 are the two query/key halves
    (Q1 K1^T, Q2 K2^T) of differential head h. Returns B x H' x T x S::

        A_h = softmax(Q1 K1^T / sqrt(d)) - lambda softmax(Q2 K2^T / sqrt(d))

    so every unblocked row sums to 1 - lambda. lam: 0-dim tensor.
    """
    probs = masked_softmax(scores, blocked)
    bsz, two_heads, tgt_len, src_len = probs.shape
    probs = probs.view(bsz, two_heads // 2, 2, tgt_len, src_len)
    return probs[:, :, 0] - lam.float() * probs[:, :, 1]


def differential_lambda_init(layer_number: int) -> float:
    """lambda_init = 0.8 - 0.6 exp(-0.3 (l - 1)) for layer l = 1, 2, ... (Ye et al. 2024)."""
    if layer_number < 1:
        raise ValueError(f"layer numbers start at 1, got {layer_number}")
    return 0.8 - 0.6 * torch.exp(torch.tensor(-0.3 * (layer_number - 1))).item()


def rms_norm(x: Tensor, weight: Tensor, eps: float = RMS_EPS) -> Tensor:
    """x / sqrt(mean(x^2) + eps) * weight over the last dimension, computed in fp32."""
    xf = x.float()
    normed = xf * torch.rsqrt(xf.square().mean(-1, keepdim=True) + eps)
    return (normed * weight.float()).to(x.dtype)
