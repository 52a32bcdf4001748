"""The daGPAM attention kernel: pure tensor math, no fairseq.

Heo & Choi, "Generalized Probabilistic Attention Mechanism in Transformers"
(arXiv 2410.15578). Dual attention subtracts a second softmax map from the
usual one::

    A+ = softmax(Q+ K^T + M)        A- = softmax(Q- K^T + M)
    A  = lambda+ A+ - lambda- A-    (every row of A sums to lambda+ - lambda-)
    out = A V

The queries arrive already scaled by 1/sqrt(d_head) and split into heads; the
projections, the negative query Q- = ReLU(Q+) W- and the cache live in
:mod:`fairseq_gpam.modules.gpam_multihead_attention`.

Two implementations compute the same thing:

* :func:`dual_softmax_attention_reference` materialises both maps (softmax in
  fp32) and is used whenever the signed weights are needed or attention
  dropout is active: dropout then acts on the combined map A, as fairseq's
  dropout acts on its single map.
* :func:`dual_softmax_attention_fused` runs both maps through one call of
  PyTorch's fused ``scaled_dot_product_attention`` (the negative queries
  become extra heads that share the keys and values, as in grouped-query
  attention) and combines the two outputs: A V = lambda+ (A+ V) - lambda- (A- V).
"""

from dataclasses import dataclass
from typing import Optional, Union

import torch
import torch.nn.functional as F
from torch import Tensor

Lambda = Union[float, Tensor]


@dataclass
class DualAttentionOutput:
    """What the kernel returns.

    context: B x H x T x Dh, the affine combination A V.
    weights: B x H x T x S, the signed map A (fp32), or None when not asked for.
    """

    context: Tensor
    weights: Optional[Tensor] = None


def as_head_lambda(lam: Lambda, num_heads: int) -> Lambda:
    """Shape a lambda for broadcasting against B x H x T x (S or Dh).

    A float stays a float; a tensor of 1 or H values becomes H x 1 x 1.
    """
    if not torch.is_tensor(lam):
        return float(lam)
    if lam.numel() not in (1, num_heads):
        raise ValueError(
            f"a lambda tensor must hold 1 or num_heads={num_heads} values, "
            f"got shape {tuple(lam.shape)}"
        )
    return lam.reshape(-1, 1, 1)


def merge_masks(
    attn_mask: Optional[Tensor],
    key_padding_mask: Optional[Tensor],
    dtype: torch.dtype,
) -> Optional[Tensor]:
    """One additive mask, broadcastable to B x H x T x S, or None.

    attn_mask: T x S, additive (float, -inf where blocked) or bool (True = blocked).
    key_padding_mask: B x S, bool or float/byte, non-zero = padding.
    """
    mask = None
    if attn_mask is not None:
        if attn_mask.dtype == torch.bool:
            mask = torch.zeros(attn_mask.shape, dtype=dtype, device=attn_mask.device)
            mask = mask.masked_fill(attn_mask, float("-inf"))
        else:
            mask = attn_mask.to(dtype)
        mask = mask.unsqueeze(0).unsqueeze(0)  # 1 x 1 x T x S
    if key_padding_mask is not None:
        pad = key_padding_mask.to(torch.bool).unsqueeze(1).unsqueeze(2)  # B x 1 x 1 x S
        if mask is None:
            mask = torch.zeros(pad.shape, dtype=dtype, device=pad.device)
        mask = mask.masked_fill(pad, float("-inf"))
    return mask


def dual_softmax_attention_reference(
    q_pos: Tensor,
    q_neg: Optional[Tensor],
    k: Tensor,
    v: Tensor,
    lam_pos: Lambda,
    lam_neg: Lambda,
    mask: Optional[Tensor] = None,
    dropout_p: float = 0.0,
    need_weights: bool = False,
) -> DualAttentionOutput:
    """Explicit dual-softmax attention.

    Args:
        q_pos, q_neg: B x H x T x Dh scaled positive and negative queries
            (q_neg None means lambda- = 0: plain softmax attention).
        k, v: B x H x S x Dh.
        lam_pos, lam_neg: floats, or tensors broadcastable to H x 1 x 1.
        mask: additive mask broadcastable to B x H x T x S (see :func:`merge_masks`).
        dropout_p: dropout on the combined map A (0 outside training).
        need_weights: also return A (fp32, before dropout).

    A row whose keys are all masked gets zero weight everywhere, so its
    output is 0 instead of NaN.
    """
    probs_pos = _masked_softmax(q_pos, k, mask)
    if q_neg is None:
        weights = probs_pos if _is_one(lam_pos) else lam_pos * probs_pos
    else:
        weights = lam_pos * probs_pos - lam_neg * _masked_softmax(q_neg, k, mask)
    attn = F.dropout(weights, p=dropout_p, training=True) if dropout_p > 0 else weights
    context = torch.matmul(attn.to(v.dtype), v)
    return DualAttentionOutput(context, weights if need_weights else None)


def dual_softmax_attention_fused(
    q_pos: Tensor,
    q_neg: Optional[Tensor],
    k: Tensor,
    v: Tensor,
    lam_pos: Lambda,
    lam_neg: Lambda,
    mask: Optional[Tensor] = None,
) -> DualAttentionOutput:
    """Dual-softmax attention through ``F.scaled_dot_product_attention``.

    Same arguments as :func:`dual_softmax_attention_reference`, without
    dropout and without weights. The positive and negative queries of head h
    become heads 2h and 2h+1 of one call that shares k and v between them
    (``enable_gqa``), so the keys and values are read once and never copied.
    """
    if mask is not None:
        mask = mask.to(q_pos.dtype)
    if q_neg is None:
        context = F.scaled_dot_product_attention(q_pos, k, v, attn_mask=mask, scale=1.0)
        return DualAttentionOutput(context if _is_one(lam_pos) else lam_pos * context)
    bsz, num_heads, tgt_len, head_dim = q_pos.shape
    q = torch.stack([q_pos, q_neg], dim=2).view(bsz, 2 * num_heads, tgt_len, head_dim)
    both = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=1.0, enable_gqa=True)
    both = both.view(bsz, num_heads, 2, tgt_len, head_dim)
    context = lam_pos * both[:, :, 0] - lam_neg * both[:, :, 1]
    return DualAttentionOutput(context)


def dual_softmax_attention(
    q_pos: Tensor,
    q_neg: Optional[Tensor],
    k: Tensor,
    v: Tensor,
    lam_pos: Lambda = 1.0,
    lam_neg: Lambda = 0.0,
    *,
    attn_mask: Optional[Tensor] = None,
    key_padding_mask: Optional[Tensor] = None,
    dropout_p: float = 0.0,
    need_weights: bool = False,
    fused: bool = True,
) -> DualAttentionOutput:
    """daGPAM attention: (lambda+ A+ - lambda- A-) V.

    Args:
        q_pos: B x H x T x Dh, positive queries Q+, already scaled by 1/sqrt(Dh).
        q_neg: B x H x T x Dh, negative queries Q-, or None for softmax attention.
        k, v: B x H x S x Dh keys and values.
        lam_pos, lam_neg: lambda+ and lambda-: floats, or tensors of 1 or H values.
        attn_mask: T x S additive float mask (-inf = blocked) or bool (True = blocked).
        key_padding_mask: B x S, non-zero/True marks a padded key.
        dropout_p: attention dropout probability (pass 0 outside training).
        need_weights: also return the signed map A, B x H x T x S in fp32.
        fused: allow the fused kernel when neither weights nor dropout are needed.
    """
    num_heads = q_pos.size(1)
    lam_pos = as_head_lambda(lam_pos, num_heads)
    lam_neg = as_head_lambda(lam_neg, num_heads)
    if fused and not need_weights and dropout_p == 0.0:
        mask = merge_masks(attn_mask, key_padding_mask, q_pos.dtype)
        return dual_softmax_attention_fused(q_pos, q_neg, k, v, lam_pos, lam_neg, mask)
    mask = merge_masks(attn_mask, key_padding_mask, torch.float32)
    return dual_softmax_attention_reference(
        q_pos, q_neg, k, v, lam_pos, lam_neg, mask, dropout_p, need_weights
    )


def _masked_softmax(q: Tensor, k: Tensor, mask: Optional[Tensor]) -> Tensor:
    """softmax(q k^T + mask) in fp32 (or fp64), B x H x T x S; fully masked rows are 0."""
    scores = torch.matmul(q, k.transpose(-1, -2))
    if scores.dtype in (torch.float16, torch.bfloat16):
        scores = scores.float()
    if mask is None:
        return torch.softmax(scores, dim=-1)
    scores = scores + mask
    # A row with every key masked would be softmax(-inf, ..., -inf) = NaN, in the
    # forward and the backward pass: give it finite scores, then zero weight.
    dead = torch.isneginf(scores.amax(dim=-1, keepdim=True))
    probs = torch.softmax(scores.masked_fill(dead, 0.0), dim=-1)
    return probs.masked_fill(dead, 0.0)


def _is_one(lam: Lambda) -> bool:
    return not torch.is_tensor(lam) and lam == 1.0
