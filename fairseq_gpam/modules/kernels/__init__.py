"""daGPAM attention kernels behind one entry point: A V = (lambda+ A+ - lambda- A-) V.

Heo & Choi (arXiv 2410.15578): A+ = softmax(Q+ K^T + M), A- = softmax(Q- K^T + M),
Q- = ReLU(Q+) W-. Shapes: B batch, H heads, T queries, S keys, Dh head size, C = H Dh.

The contract. Every path computes what :mod:`.reference` writes down (scores and
softmax in fp32, fully masked rows give 0) and is tested against it; which path runs
is decided here, by :func:`choose_backend`, from the call alone:

=============  =====================================================================
``reference``  the signed weights A are asked for, or attention dropout is active
               (it acts on A), or the caller asked for it (``--gpam-kernel reference``)
``decode``     an incremental-decoding step (a few query rows): :mod:`.decode`
``cpu_flash``  CPU, fp32/bf16 inputs, no autocast, not inside torch.compile, and the
               private CPU flash ops verified in this process: :mod:`.cpu_flash`
``sdpa``       everything else: CUDA and other devices, autocast, fp16, torch.compile:
               two ``scaled_dot_product_attention`` calls sharing K, V (:mod:`.sdpa`)
=============  =====================================================================

:func:`force_backend` overrides the last two rows (tests, benchmarks, the GPU check).

Three functions serve the three ways the attention module calls in:
:func:`dual_softmax_attention_heads` (training and scoring: Q+ and W- given, time-major
result, the output projection fused: ``cpu_flash`` or ``sdpa``),
:func:`dual_softmax_attention_decode` (the caller's incremental step: ``decode``) and
:func:`dual_softmax_attention` (Q+ and Q- given, scaled; ``reference``, or ``sdpa``
when neither weights nor dropout are needed).
"""

from contextlib import contextmanager
from typing import Iterator, Optional

import torch
import torch.nn.functional as F
from torch import Tensor

from fairseq_gpam.modules.kernels import cpu_flash
from fairseq_gpam.modules.kernels.common import (
    DualAttentionOutput, Lambda, combine_maps, head_lambda, is_one, merge_masks,
)
from fairseq_gpam.modules.kernels.cpu_flash import dagpam_cpu_flash
from fairseq_gpam.modules.kernels.decode import dual_softmax_attention_decode
from fairseq_gpam.modules.kernels.reference import dagpam_reference
from fairseq_gpam.modules.kernels.sdpa import dagpam_sdpa, dual_sdpa

BACKENDS = ("reference", "decode", "cpu_flash", "sdpa")
_forced: Optional[str] = None


@contextmanager
def force_backend(name: str) -> Iterator[None]:
    """Within the block, fused calls take backend ``name`` (``sdpa`` or ``cpu_flash``);
    calls that need the weights or dropout still take the reference."""
    global _forced
    if name not in ("sdpa", "cpu_flash"):
        raise ValueError(f"force_backend takes 'sdpa' or 'cpu_flash', not {name!r}")
    previous, _forced = _forced, name
    try:
        yield
    finally:
        _forced = previous


def choose_backend(q: Tensor, k: Tensor, v: Tensor, *, need_weights: bool = False,
                   dropout_p: float = 0.0, decoding: bool = False) -> str:
    """The backend (one of :data:`BACKENDS`) for these inputs; see the module docstring."""
    if need_weights or dropout_p > 0.0:
        return "reference"
    if decoding:
        return "decode"
    if _forced is not None:
        return _forced
    return "cpu_flash" if cpu_flash.applies(q, k, v) else "sdpa"


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
    """daGPAM attention from given queries: (lambda+ A+ - lambda- A-) V.

    Args:
        q_pos: B x H x T x Dh, Q+ already scaled by 1/sqrt(Dh).
        q_neg: B x H x T x Dh, Q- (scaled likewise), or None for softmax attention.
        k, v: B x H x S x Dh.
        lam_pos, lam_neg: lambda+ and lambda-: floats, or tensors of 1 or H values.
        attn_mask: T x S additive float mask (-inf = blocked) or bool (True = blocked).
        key_padding_mask: B x S, non-zero/True marks a padded key.
        dropout_p: attention dropout on A (pass 0 outside training).
        need_weights: also return A, B x H x T x S in fp32.
        fused: False forces the reference even without weights and dropout.

    Returns:
        :class:`DualAttentionOutput`: context B x H x T x Dh, weights or None.
    """
    heads = q_pos.size(1)
    lam_pos, lam_neg = head_lambda(lam_pos, heads), head_lambda(lam_neg, heads)
    if not fused or choose_backend(q_pos, k, v, need_weights=need_weights, dropout_p=dropout_p) == "reference":
        mask = merge_masks(attn_mask, key_padding_mask, torch.float32)
        return dagpam_reference(q_pos, q_neg, k, v, lam_pos, lam_neg, mask, dropout_p, need_weights)
    if q_neg is None:  # softmax attention: one call
        mask = merge_masks(attn_mask, key_padding_mask, q_pos.dtype)
        o_pos = F.scaled_dot_product_attention(q_pos, k, v, attn_mask=mask, scale=1.0)
        return DualAttentionOutput(o_pos if is_one(lam_pos) else lam_pos * o_pos)
    o_pos, o_neg = dual_sdpa(q_pos, q_neg, k, v, attn_mask=attn_mask, key_padding_mask=key_padding_mask)
    return DualAttentionOutput(combine_maps(o_pos, o_neg, lam_pos, lam_neg))


def dual_softmax_attention_heads(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    neg_query_weight: Tensor,
    lam_pos: Lambda,
    lam_neg: Lambda,
    *,
    attn_mask: Optional[Tensor] = None,
    key_padding_mask: Optional[Tensor] = None,
    scale: float = 1.0,
    out_weight: Optional[Tensor] = None,
    out_bias: Optional[Tensor] = None,
) -> Tensor:
    """The module's fused path (no weights, no dropout): daGPAM context, time-major.

    Args:
        q: B x H x T x Dh positive queries Q+ (not yet scaled).
        k, v: B x H x S x Dh.
        neg_query_weight: G x Dh x Dh, W- (G = 1 or H).
        lam_pos, lam_neg: floats, or tensors of 1 or H values.
        attn_mask, key_padding_mask: as in :func:`dual_softmax_attention`.
        scale: score scale 1/sqrt(Dh), applied to Q+ and Q- inside the kernel.
        out_weight, out_bias: the output projection Wo (C_out x H Dh), bo, or None.

    Returns:
        T x B x (H Dh) context (lambda+ A+ - lambda- A-) V, or with ``out_weight`` its
        projection, T x B x C_out.
    """
    backend = dagpam_cpu_flash if choose_backend(q, k, v) == "cpu_flash" else dagpam_sdpa
    return backend(q, k, v, neg_query_weight, lam_pos, lam_neg, attn_mask=attn_mask,
                   key_padding_mask=key_padding_mask, scale=scale, out_weight=out_weight, out_bias=out_bias)


__all__ = [
    "BACKENDS", "DualAttentionOutput", "choose_backend", "dual_softmax_attention",
    "dual_softmax_attention_decode", "dual_softmax_attention_heads", "force_backend", "merge_masks",
]
