"""The daGPAM attention kernel: pure tensor math, no fairseq.

Heo & Choi, "Generalized Probabilistic Attention Mechanism in Transformers"
(arXiv 2410.15578). Dual attention subtracts a second softmax map from the
usual one::

    A+ = softmax(Q+ K^T + M)        A- = softmax(Q- K^T + M)
    A  = lambda+ A+ - lambda- A-    (every row of A sums to lambda+ - lambda-)
    out = A V

The queries arrive already scaled by 1/sqrt(d_head) and split into heads; the
projections, the negative query Q- = ReLU(Q+) W- and the cache live in
:mod:`fairseq_gpam.modules.variants.dagpam`.

Several implementations compute the same thing:

* :func:`dual_softmax_attention_reference` materialises both maps (softmax in
  fp32) and is used whenever the signed weights are needed or attention
  dropout is active: dropout then acts on the combined map A, as fairseq's
  dropout acts on its single map.
* :func:`dual_softmax_attention_fused` runs both maps through one call of
  PyTorch's fused ``scaled_dot_product_attention`` (the negative queries
  become extra heads that share the keys and values, as in grouped-query
  attention) and combines the two outputs: A V = lambda+ (A+ V) - lambda- (A- V).
* :func:`dual_softmax_attention_heads` is the module's training path: the same
  fused call, with Q- built and the outputs combined (and projected) by small
  autograd functions that keep the memory close to softmax attention's.
* :func:`dual_softmax_attention_decode` is the module's incremental-decoding
  path: a few query rows per step, where one explicit product for both maps,
  their combination and one product with the values beat the fused kernel.
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
    if q_neg is None:
        probs_pos = _masked_softmax(q_pos, k, mask)
        weights = probs_pos if _is_one(lam_pos) else lam_pos * probs_pos
    else:
        # both maps from one product and one softmax: B x H x 2 x T x S
        bsz, num_heads, tgt_len, head_dim = q_pos.shape
        both = torch.stack([q_pos, q_neg], dim=2).view(bsz, num_heads, 2 * tgt_len, head_dim)
        probs = _masked_softmax(both, k, None if mask is None else mask.unsqueeze(2), pair=True)
        weights = _combine_maps(probs[:, :, 0], probs[:, :, 1], lam_pos, lam_neg)
    attn = F.dropout(weights, p=dropout_p, training=True) if dropout_p > 0 else weights
    context = torch.matmul(attn.to(v.dtype), v)
    return DualAttentionOutput(context, weights if need_weights else None)


def _combine_maps(probs_pos: Tensor, probs_neg: Tensor, lam_pos: Lambda, lam_neg: Lambda) -> Tensor:
    """A = lambda+ A+ - lambda- A- (lambdas: floats, or tensors shaped by :func:`as_head_lambda`)."""
    if not torch.is_tensor(lam_pos) and not torch.is_tensor(lam_neg) and lam_pos == 1.0 + lam_neg:
        return torch.lerp(probs_pos, probs_neg, -lam_neg)  # P+ - l-(P- - P+)
    return lam_pos * probs_pos - lam_neg * probs_neg


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


# --------------------------------------------------------------------------- fast path
#
# The module's fast path runs Q+ and Q- as 2H query heads of one fused attention
# call (heads 2h and 2h+1 share key/value head h) and writes the combined context
# straight into fairseq's time-major layout. Two small autograd functions keep its
# memory close to softmax attention: the stacked queries are saved only once (the
# fused kernel keeps them for its own backward; ReLU(Q+) is recomputed from them),
# and the combination saves nothing the kernel does not keep already.


def dual_queries(q: Tensor, neg_query_weight: Tensor) -> Tensor:
    """Q+ and Q- = ReLU(Q+) W- as the 2H query heads of one fused attention call.

    Args:
        q: B x H x T x Dh positive queries Q+ (any strides, e.g. a view of a
            time-major projection; scaling may be left to the attention call,
            since ReLU and W- commute with a positive scale).
        neg_query_weight: G x Dh x Dh, W- shared by all heads (G = 1) or one per head (G = H).

    Returns:
        B x 2H x T x Dh: head 2h is Q+_h, head 2h+1 is Q-_h (stored B x T x 2H x Dh,
        the layout of PyTorch's CPU flash-attention kernel; under autocast, contiguous).
    """
    if neg_query_weight.size(0) not in (1, q.size(1)):
        raise ValueError(
            f"neg_query_weight holds {neg_query_weight.size(0)} matrices; it needs 1 or "
            f"num_heads={q.size(1)}"
        )
    weight = neg_query_weight.to(q.dtype)
    if _autocast_on(q):
        # under mixed precision, plain autograd ops let autocast choose the dtypes
        bsz, heads, tgt_len, head_dim = q.shape
        neg = _apply_neg_weight(F.relu(q), weight)
        return torch.stack([q, neg], dim=2).view(bsz, 2 * heads, tgt_len, head_dim)
    return _DualQueries.apply(q, weight)


def combine_dual_heads(both: Tensor, lam_pos: Lambda, lam_neg: Lambda) -> Tensor:
    """lambda+ O+ - lambda- O-, time-major: the input of the output projection.

    Args:
        both: B x 2H x T x Dh output of the fused call on :func:`dual_queries`
            (head 2h = O+_h = A+ V, head 2h+1 = O-_h = A- V).
        lam_pos, lam_neg: floats, or tensors of 1 or H values.

    Returns:
        T x B x (H Dh), contiguous.
    """
    bsz, two_heads, tgt_len, head_dim = both.shape
    heads = two_heads // 2
    if _autocast_on(both) or torch.is_tensor(lam_pos) != torch.is_tensor(lam_neg):
        pair = both.unflatten(1, (heads, 2))
        lp, ln = (lam.reshape(-1, 1, 1) if torch.is_tensor(lam) else lam for lam in (lam_pos, lam_neg))
        context = lp * pair[:, :, 0] - ln * pair[:, :, 1]  # B x H x T x Dh
        return context.permute(2, 0, 1, 3).reshape(tgt_len, bsz, heads * head_dim)
    lam_pos, lam_neg = _flat_lambdas(lam_pos, lam_neg, heads)
    return _CombineDualHeads.apply(both, lam_pos, lam_neg)


def _flat_lambdas(lam_pos: Lambda, lam_neg: Lambda, heads: int):
    if torch.is_tensor(lam_pos):
        lam_pos, lam_neg = lam_pos.reshape(-1), lam_neg.reshape(-1)
        if lam_pos.numel() not in (1, heads) or lam_neg.numel() not in (1, heads):
            raise ValueError(f"a lambda tensor must hold 1 or num_heads={heads} values")
    return lam_pos, lam_neg


def combine_dual_heads_project(
    both: Tensor, lam_pos: Lambda, lam_neg: Lambda, weight: Tensor, bias: Optional[Tensor]
) -> Tensor:
    """F.linear(:func:`combine_dual_heads`, weight, bias), T x B x C_out.

    The combined context is recomputed in the backward pass instead of kept:
    one T x B x C activation less per module than a separate projection.
    """
    if _autocast_on(both) or torch.is_tensor(lam_pos) != torch.is_tensor(lam_neg):
        return F.linear(combine_dual_heads(both, lam_pos, lam_neg), weight, bias)
    lam_pos, lam_neg = _flat_lambdas(lam_pos, lam_neg, both.size(1) // 2)
    return _CombineProject.apply(both, weight, bias, lam_pos, lam_neg)


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
    """The module's fast path: daGPAM context, time-major, through one fused attention call.

    Args:
        q: B x H x T x Dh positive queries Q+ (not yet scaled).
        k, v: B x H x S x Dh.
        neg_query_weight: G x Dh x Dh, W- (G = 1 or H).
        lam_pos, lam_neg: floats, or tensors of 1 or H values.
        attn_mask, key_padding_mask: as in :func:`dual_softmax_attention`.
        scale: score scale (1/sqrt(Dh)), applied to both query sets inside the kernel.
        out_weight, out_bias: the output projection Wo (C_out x H Dh), bo, or None.

    Returns:
        T x B x (H Dh) context (lambda+ A+ - lambda- A-) V, or with ``out_weight``
        its projection, T x B x C_out; no dropout, no weights.
    """
    mask = merge_masks(attn_mask, key_padding_mask, q.dtype)
    if _flash_cpu_applies(q, k, v, mask):
        both = _DualFlashAttentionCPU.apply(q, k, v, neg_query_weight.to(q.dtype), mask, scale)
    else:
        both = F.scaled_dot_product_attention(
            dual_queries(q, neg_query_weight), k, v, attn_mask=mask, scale=scale, enable_gqa=True
        )
    if out_weight is None:
        return combine_dual_heads(both, lam_pos, lam_neg)
    return combine_dual_heads_project(both, lam_pos, lam_neg, out_weight, out_bias)


def dual_softmax_attention_decode(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    neg_query_weight: Tensor,
    lam_pos: Lambda,
    lam_neg: Lambda,
    *,
    key_padding_mask: Optional[Tensor] = None,
    scale: float = 1.0,
) -> Tensor:
    """daGPAM for a few query rows per sentence (incremental decoding), time-major.

    With one query per hypothesis the fused kernel's fixed cost outweighs its
    work, so this path goes the way fairseq's own incremental attention goes:
    one product scores Q+ and Q- (stacked along the query axis), a softmax in
    fp32, then the two maps are combined, A = lambda+ A+ - lambda- A-, before
    the single product with the values.

    Args:
        q: B x H x T x Dh positive queries Q+ (not yet scaled).
        k, v: B x H x S x Dh.
        neg_query_weight: G x Dh x Dh, W- (G = 1 or H).
        lam_pos, lam_neg: floats, or tensors of 1 or H values.
        key_padding_mask: B x S bool, True at padded keys. A sentence whose keys
            are all padded gets zero weight (output 0), as in the reference path.
        scale: score scale, 1/sqrt(Dh).

    Returns:
        T x B x (H Dh) context (lambda+ A+ - lambda- A-) V.
    """
    bsz, heads, tgt_len, head_dim = q.shape
    q = q * scale
    neg = _apply_neg_weight(torch.relu(q), neg_query_weight.to(q.dtype))
    scores = torch.matmul(torch.cat([q, neg], dim=2), k.transpose(-1, -2))  # B x H x 2T x S
    dead = None
    if key_padding_mask is not None:
        dead = key_padding_mask.all(dim=-1)  # B: no key to attend to
        blocked = key_padding_mask & ~dead.unsqueeze(-1)
        scores = scores.masked_fill(blocked.view(bsz, 1, 1, -1), float("-inf"))
    probs = torch.softmax(scores, dim=-1, dtype=torch.float32)
    if dead is not None:
        probs = probs.masked_fill(dead.view(bsz, 1, 1, 1), 0.0)
    lam_pos, lam_neg = (as_head_lambda(lam, heads) for lam in (lam_pos, lam_neg))
    weights = _combine_maps(probs[:, :, :tgt_len], probs[:, :, tgt_len:], lam_pos, lam_neg)
    context = torch.matmul(weights.to(v.dtype), v)  # B x H x T x Dh
    return context.permute(2, 0, 1, 3).reshape(tgt_len, bsz, heads * head_dim)


def _autocast_on(x: Tensor) -> bool:
    return torch.is_autocast_enabled(x.device.type)


def _apply_neg_weight(r: Tensor, weight: Tensor) -> Tensor:
    """r W- per head: r B x H x T x Dh, weight G x Dh x Dh."""
    if weight.size(0) == 1:
        return torch.matmul(r, weight[0])
    return torch.einsum("bhtd,hde->bhte", r, weight)


def _stack_dual_queries(q: Tensor, weight: Tensor, keep_relu: bool = False):
    """[Q+; ReLU(Q+) W-] as 2H heads, B x 2H x T x Dh, stored B x T x H x 2 x Dh.

    That is the layout PyTorch's CPU flash-attention kernel works in: the kernel
    reads it and writes its output and gradients in it without copies, and the
    rows of Q- and of its gradient form one (B T H) x Dh matrix each, so with a
    shared W- every product is a single matrix product over strided rows.
    With ``keep_relu`` it also returns ReLU(Q+), dense B x T x H x Dh.
    """
    bsz, heads, tgt_len, head_dim = q.shape
    buf = q.new_empty(bsz, tgt_len, heads, 2, head_dim)
    q_pos, q_neg = buf[:, :, :, 0], buf[:, :, :, 1]  # B x T x H x Dh each
    q_pos.copy_(q.transpose(1, 2))
    relu_q = torch.relu(q_pos)  # dense B x T x H x Dh
    if weight.size(0) == 1:
        torch.mm(relu_q.reshape(-1, head_dim), weight[0], out=q_neg.view(-1, head_dim))
    else:
        q_neg.copy_(torch.einsum("bthd,hde->bthe", relu_q, weight))
    stacked = buf.view(bsz, tgt_len, 2 * heads, head_dim).transpose(1, 2)
    return (stacked, relu_q) if keep_relu else stacked


def _dual_queries_backward(grad: Tensor, stacked: Tensor, weight: Tensor, q_layout: Tensor,
                           need_q: bool, need_weight: bool, relu_q: Optional[Tensor] = None):
    """Gradients of :func:`_stack_dual_queries` (q, W-) from the gradient of its output.

    grad, stacked: B x 2H x T x Dh; q_layout: a meta tensor with q's shape and
    strides (the gradient of q is written in q's own layout, e.g. time-major, so
    the views that made q need no copy on the way back); relu_q: ReLU(Q+) as
    :func:`_stack_dual_queries` returns it with ``keep_relu``, or None to recompute it.
    """
    bsz, two_heads, tgt_len, head_dim = stacked.shape
    heads = two_heads // 2
    q = stacked.unflatten(1, (heads, 2))[:, :, 0]  # B x H x T x Dh
    pair = grad.unflatten(1, (heads, 2))
    # B T H x Dh rows: a view when grad is in the kernel's layout, a copy otherwise
    grad_neg_rows = pair[:, :, 1].transpose(1, 2).reshape(-1, head_dim)
    grad_q = grad_weight = None
    if need_q:
        if weight.size(0) == 1:
            through_neg = torch.mm(grad_neg_rows, weight[0].t())
        else:
            through_neg = torch.einsum("nhe,hde->nhd", grad_neg_rows.view(-1, heads, head_dim), weight)
        through_neg = through_neg.view(bsz, tgt_len, heads, head_dim).transpose(1, 2)
        grad_q = torch.empty_strided(q_layout.shape, q_layout.stride(), dtype=grad.dtype, device=grad.device)
        # ReLU's backward (grad where q > 0, else 0), then the direct path
        through_neg = torch.ops.aten.threshold_backward(through_neg, q, 0)
        torch.add(through_neg, pair[:, :, 0], out=grad_q)
    if need_weight:
        if relu_q is None:
            relu_q = torch.relu(q.transpose(1, 2))
        relu_rows = relu_q.reshape(-1, head_dim)  # B T H x Dh
        if weight.size(0) == 1:
            grad_weight = torch.mm(relu_rows.t(), grad_neg_rows).unsqueeze(0)
        else:
            grad_weight = torch.einsum(
                "nhd,nhe->hde", relu_rows.view(-1, heads, head_dim), grad_neg_rows.view(-1, heads, head_dim)
            )
    return grad_q, grad_weight


class _DualQueries(torch.autograd.Function):
    """Forward: :func:`_stack_dual_queries`. Saves only its own output (which the
    attention kernel keeps anyway) and W-."""

    @staticmethod
    def forward(ctx, q: Tensor, weight: Tensor) -> Tensor:
        out = _stack_dual_queries(q, weight)
        ctx.save_for_backward(out, weight)
        ctx.q_layout = torch.empty_like(q, device="meta")
        return out

    @staticmethod
    def backward(ctx, grad: Tensor):
        out, weight = ctx.saved_tensors
        return _dual_queries_backward(grad, out, weight, ctx.q_layout, *ctx.needs_input_grad[:2])


_FLASH_CPU = getattr(torch.ops.aten, "_scaled_dot_product_flash_attention_for_cpu", None)
_FLASH_CPU_BACKWARD = getattr(torch.ops.aten, "_scaled_dot_product_flash_attention_for_cpu_backward", None)


def _flash_cpu_applies(q: Tensor, k: Tensor, v: Tensor, mask: Optional[Tensor]) -> bool:
    """PyTorch's CPU flash-attention kernel can be called directly on these inputs."""
    return (
        _FLASH_CPU is not None
        and _FLASH_CPU_BACKWARD is not None
        and q.device.type == "cpu"
        and q.dtype in (torch.float32, torch.bfloat16)
        and k.dtype == v.dtype == q.dtype
        and (mask is None or mask.dtype == q.dtype)
        and not _autocast_on(q)
    )


class _DualFlashAttentionCPU(torch.autograd.Function):
    """PyTorch's CPU flash-attention kernel on [Q+; Q-] (:func:`_stack_dual_queries`),
    keeping Q+ instead of the stacked queries for the backward pass.

    The kernel's backward needs the stacked queries; they are rebuilt from Q+
    (one copy and the small Q- product) instead of kept, which saves one
    B x T x C activation per module. Output: B x 2H x T x Dh (O+ and O- heads).
    """

    @staticmethod
    def forward(ctx, q: Tensor, k: Tensor, v: Tensor, weight: Tensor, mask: Optional[Tensor],
                scale: float) -> Tensor:
        stacked = _stack_dual_queries(q, weight)
        out, logsumexp = _FLASH_CPU(stacked, k, v, 0.0, False, attn_mask=mask, scale=scale)
        ctx.save_for_backward(q, k, v, weight, out, logsumexp, mask)
        ctx.q_layout = torch.empty_like(q, device="meta")
        ctx.scale = scale
        return out

    @staticmethod
    def backward(ctx, grad: Tensor):
        q, k, v, weight, out, logsumexp, mask = ctx.saved_tensors
        stacked, relu_q = _stack_dual_queries(q, weight, keep_relu=True)
        grad_stacked, grad_k, grad_v = _FLASH_CPU_BACKWARD(
            grad, stacked, k, v, out, logsumexp, 0.0, False, attn_mask=mask, scale=ctx.scale
        )
        need_q, _, _, need_weight = ctx.needs_input_grad[:4]
        grad_q, grad_weight = _dual_queries_backward(
            grad_stacked, stacked, weight, ctx.q_layout, need_q, need_weight, relu_q
        )
        return grad_q, grad_k, grad_v, grad_weight, None, None


def _combine_forward(both: Tensor, lam_pos: Lambda, lam_neg: Lambda) -> Tensor:
    """lambda+ O+ - lambda- O-, written time-major (T x B x H x Dh) in one pass.

    both: B x 2H x T x Dh; lambdas: floats or flat tensors of 1 or H values.
    """
    bsz, two_heads, tgt_len, head_dim = both.shape
    heads = two_heads // 2
    pair = both.unflatten(1, (heads, 2))
    o_pos = pair[:, :, 0].permute(2, 0, 1, 3)  # T x B x H x Dh
    o_neg = pair[:, :, 1].permute(2, 0, 1, 3)
    out = both.new_empty(tgt_len, bsz, heads, head_dim)
    if torch.is_tensor(lam_pos):
        torch.mul(o_pos, lam_pos.to(both.dtype).reshape(-1, 1), out=out)
        out.addcmul_(o_neg, lam_neg.to(both.dtype).reshape(-1, 1), value=-1.0)
    elif lam_pos == 1.0 + lam_neg:
        torch.lerp(o_pos, o_neg, -lam_neg, out=out)  # o+ - l-(o- - o+)
    else:
        torch.mul(o_pos, lam_pos, out=out)
        out.sub_(o_neg, alpha=lam_neg)
    return out


def _combine_backward(grad: Tensor, shape, both: Optional[Tensor], lam_pos: Lambda, lam_neg: Lambda):
    """Gradients of :func:`_combine_forward`: (B x 2H x T x Dh, lambda+ grad, lambda- grad).

    grad: T x B x (H Dh); shape: B x 2H x T x Dh of the fused output ``both``,
    which is needed only for lambda gradients (per head, fp32; None without it).
    """
    bsz, two_heads, tgt_len, head_dim = shape
    heads = two_heads // 2
    grad = grad.reshape(tgt_len, bsz, heads, head_dim)
    # d/dO+ = lambda+ grad, d/dO- = -lambda- grad, as one broadcast product (H x 2 x 1
    # factors) written in B x T x H x 2 x Dh: the layout the CPU flash-attention
    # backward reads without a copy
    if torch.is_tensor(lam_pos):
        factors = torch.stack([lam_pos.reshape(-1), -lam_neg.reshape(-1)], dim=-1)  # (1 or H) x 2
    else:
        factors = torch.tensor([lam_pos, -lam_neg])
    factors = factors.to(device=grad.device, dtype=grad.dtype).unsqueeze(-1)
    buf = grad.new_empty(bsz, tgt_len, heads, 2, head_dim)
    torch.mul(grad.transpose(0, 1).unsqueeze(3), factors, out=buf)
    grad_both = buf.view(bsz, tgt_len, two_heads, head_dim).transpose(1, 2)
    grad = grad.permute(1, 2, 0, 3)  # B x H x T x Dh
    grad_pos = grad_neg = None
    if both is not None:
        pair = both.unflatten(1, (heads, 2))
        grad_pos = (grad * pair[:, :, 0]).sum(dim=(0, 2, 3), dtype=torch.float32)  # H
        grad_neg = -(grad * pair[:, :, 1]).sum(dim=(0, 2, 3), dtype=torch.float32)
    return grad_both, grad_pos, grad_neg


class _CombineDualHeads(torch.autograd.Function):
    """Forward: :func:`_combine_forward`. Saves the fused kernel's output (which
    the kernel keeps anyway) only when a lambda is trainable."""

    @staticmethod
    def forward(ctx, both: Tensor, lam_pos: Lambda, lam_neg: Lambda) -> Tensor:
        out = _combine_forward(both, lam_pos, lam_neg)
        lam_grads = ctx.needs_input_grad[1] or ctx.needs_input_grad[2]
        ctx.shape = both.shape
        _save_lambdas(ctx, lam_pos, lam_neg, both if lam_grads else None)
        return out.flatten(2)

    @staticmethod
    def backward(ctx, grad: Tensor):
        both, lam_pos, lam_neg = _saved_lambdas(ctx)
        grad_both, grad_pos, grad_neg = _combine_backward(grad, ctx.shape, both, lam_pos, lam_neg)
        return grad_both, _reduce_to(grad_pos, ctx.lam_shapes[0]), _reduce_to(grad_neg, ctx.lam_shapes[1])


class _CombineProject(torch.autograd.Function):
    """Forward: the output projection of :func:`_combine_forward`, (lambda+ O+ - lambda- O-) Wo^T + bo.

    The combined context is not kept for the backward pass: it is recomputed from
    the fused kernel's output, which the kernel keeps anyway.
    """

    @staticmethod
    def forward(ctx, both: Tensor, weight: Tensor, bias: Optional[Tensor], lam_pos: Lambda,
                lam_neg: Lambda) -> Tensor:
        context = _combine_forward(both, lam_pos, lam_neg).flatten(2)
        ctx.lam_grads = ctx.needs_input_grad[3] or ctx.needs_input_grad[4]
        ctx.has_bias = bias is not None
        _save_lambdas(ctx, lam_pos, lam_neg, both, weight)
        return F.linear(context, weight, bias)

    @staticmethod
    def backward(ctx, grad: Tensor):
        both, lam_pos, lam_neg, weight = _saved_lambdas(ctx)
        grad = grad.contiguous()
        flat_grad = grad.view(-1, grad.size(-1))
        grad_weight = grad_bias = None
        if ctx.needs_input_grad[1]:
            context = _combine_forward(both, lam_pos, lam_neg).view(flat_grad.size(0), -1)
            grad_weight = flat_grad.t().mm(context)
        if ctx.has_bias and ctx.needs_input_grad[2]:
            grad_bias = flat_grad.sum(0)
        grad_context = grad.matmul(weight)  # T x B x C
        grad_both, grad_pos, grad_neg = _combine_backward(
            grad_context, both.shape, both if ctx.lam_grads else None, lam_pos, lam_neg
        )
        return (grad_both, grad_weight, grad_bias, _reduce_to(grad_pos, ctx.lam_shapes[0]),
                _reduce_to(grad_neg, ctx.lam_shapes[1]))


def _save_lambdas(ctx, lam_pos: Lambda, lam_neg: Lambda, both: Optional[Tensor], *more: Tensor) -> None:
    """Save the fused output, float or tensor lambdas and extra tensors for backward."""
    ctx.lam_shapes = [lam.shape if torch.is_tensor(lam) else None for lam in (lam_pos, lam_neg)]
    ctx.float_lams = None if torch.is_tensor(lam_pos) else (lam_pos, lam_neg)
    tensors = [both] + ([lam_pos, lam_neg] if ctx.float_lams is None else [None, None]) + list(more)
    ctx.save_for_backward(*tensors)


def _saved_lambdas(ctx):
    both, lam_pos, lam_neg, *more = ctx.saved_tensors
    if ctx.float_lams is not None:
        lam_pos, lam_neg = ctx.float_lams
    return (both, lam_pos, lam_neg, *more)


def _reduce_to(per_head: Optional[Tensor], shape) -> Optional[Tensor]:
    """A per-head gradient summed to a lambda of 1 or H values, in the lambda's shape."""
    if per_head is None or shape is None:
        return None
    if torch.Size(shape).numel() == 1:
        per_head = per_head.sum()
    return per_head.reshape(shape)


def _masked_softmax(q: Tensor, k: Tensor, mask: Optional[Tensor], pair: bool = False) -> Tensor:
    """softmax(q k^T + mask) in fp32 (or fp64), B x H x T x S; fully masked rows are 0.

    With ``pair``, q is B x H x 2T x Dh (two query sets stacked along T), the mask
    broadcasts to B x H x 2 x T x S, and so does the result.
    """
    scores = torch.matmul(q, k.transpose(-1, -2))
    if pair:
        scores = scores.unflatten(2, (2, -1))
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
