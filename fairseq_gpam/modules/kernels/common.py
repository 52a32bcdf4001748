"""What every daGPAM kernel shares: the result type, lambda shaping, mask merging, Q-.

Symbols as in Heo & Choi (arXiv 2410.15578): B batch, H heads, T queries, S keys,
Dh head size; lambda+ and lambda- the weights of the two maps A+ and A-; W- the
Dh x Dh matrix (one shared, G = 1, or one per head, G = H) with Q- = ReLU(Q+) W-.
"""

from dataclasses import dataclass
from typing import Optional, Union

import torch
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


def head_lambda(lam: Lambda, num_heads: int) -> Lambda:
    """The one shape every kernel takes a lambda in: a float stays a float; a tensor of
    1 or H values becomes G x 1 x 1 (G = 1 or H), broadcasting against B x H x T x (S or Dh)."""
    if not torch.is_tensor(lam):
        return float(lam)
    if lam.numel() not in (1, num_heads):
        raise ValueError(
            f"a lambda tensor must hold 1 or num_heads={num_heads} values, got shape {tuple(lam.shape)}"
        )
    return lam.reshape(-1, 1, 1)


def sum_to_lambda(per_head: Optional[Tensor], shape) -> Optional[Tensor]:
    """A per-head gradient (H values) summed to a lambda's shape (:func:`head_lambda`:
    G x 1 x 1 with G = 1 or H); None for a float lambda (shape None)."""
    if per_head is None or shape is None:
        return None
    if torch.Size(shape).numel() == 1:
        per_head = per_head.sum()
    return per_head.reshape(shape)


def is_one(lam: Lambda) -> bool:
    return not torch.is_tensor(lam) and lam == 1.0


def combine_maps(a_pos: Tensor, a_neg: Tensor, lam_pos: Lambda, lam_neg: Lambda) -> Tensor:
    """lambda+ a_pos - lambda- a_neg (maps A+/A-, or outputs A+ V / A- V), lambdas from :func:`head_lambda`."""
    if not torch.is_tensor(lam_pos) and not torch.is_tensor(lam_neg) and lam_pos == 1.0 + lam_neg:
        return torch.lerp(a_pos, a_neg, -lam_neg)  # a+ - l-(a- - a+): one pass
    return lam_pos * a_pos - lam_neg * a_neg


def negative_queries(q: Tensor, neg_query_weight: Tensor) -> Tensor:
    """Q- = ReLU(Q+) W-: q B x H x T x Dh, neg_query_weight G x Dh x Dh (G = 1 or H)."""
    weight = neg_query_weight.to(q.dtype)
    if weight.size(0) == 1:
        return torch.matmul(torch.relu(q), weight[0])
    if weight.size(0) != q.size(1):
        raise ValueError(f"neg_query_weight holds {weight.size(0)} matrices; it needs 1 or num_heads={q.size(1)}")
    return torch.einsum("bhtd,hde->bhte", torch.relu(q), weight)


def merge_masks(attn_mask: Optional[Tensor], key_padding_mask: Optional[Tensor],
                dtype: torch.dtype) -> Optional[Tensor]:
    """One additive mask M (0 or -inf), broadcastable to B x H x T x S, or None.

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


def to_time_major(context: Tensor) -> Tensor:
    """B x H x T x Dh -> T x B x (H Dh), fairseq's layout (contiguous)."""
    bsz, heads, tgt_len, head_dim = context.shape
    return context.permute(2, 0, 1, 3).reshape(tgt_len, bsz, heads * head_dim)


def autocast_on(x: Tensor) -> bool:
    return torch.is_autocast_enabled(x.device.type)
