"""daGPAM through ``F.scaled_dot_product_attention``: the path of CUDA (and every device
but the CPU fast path's), of autocast, and of torch.compile.

Layout chosen: **two SDPA calls that share K and V**, one for Q+ and one for Q-, each
an ordinary multi-head call (H query heads, H key/value heads), then
A V = lambda+ (A+ V) - lambda- (A- V) on the two B x H x T x Dh outputs. No call
passes ``enable_gqa``, so no call combines it with a mask.

Why this layout and not the others:

* One call with Q+ and Q- as 2H query heads over H key/value heads (``enable_gqa``,
  the layout this path had before) reads K and V once, but on CUDA ``enable_gqa`` has
  been served by the flash backend only, and flash takes no arbitrary mask: with any
  key-padding mask or fairseq's float causal mask SDPA falls back to the math kernel,
  which materialises the B x 2H x T x S scores (fp32 under autocast) and their
  softmax for the backward pass (PyTorch issue 139586). That is O(T S) memory per
  head where the baseline's fused kernels keep O(T).
* K and V expanded to 2H heads (``repeat_interleave``) make the call an ordinary one,
  but copy K and V (2 B x H x S x Dh more per layer, kept for the backward pass)
  and sum their gradients back: memory the two-call layout does not spend.
* [Q+; Q-] stacked along the query axis (B x H x 2T x Dh, one call) needs no GQA
  either, but a causal mask no longer lines up with the queries, so ``is_causal``
  is impossible and the flash backend with it; the T x S mask is duplicated.
* Two calls: each is the call fairseq's softmax baseline makes, so each is eligible
  for every backend that serves the baseline: memory-efficient and cuDNN with a
  mask (key padding, or padding merged with the causal mask), and flash as well when
  the only mask is fairseq's future mask over T = S keys with no padding (the
  language-model batch), which is then passed as ``is_causal=True`` instead of a
  tensor (the kernels then also skip the blocks above the diagonal). Nothing of size
  T x S is materialised. FLOPs: exactly those of two softmax attentions (the floor
  for two maps); K and V are read twice, which costs bandwidth, not memory.

The mask, when there is one, is a single additive B x 1 x T x S (or 1 x 1 x T x S
or B x 1 x 1 x S) tensor in the queries' dtype, shared by both calls. Scores and
softmax are formed in fp32 by every backend: flash, memory-efficient and cuDNN
accumulate in fp32, and the math fallback upcasts fp16/bf16 inputs unless
``torch.backends.cuda.allow_fp16_bf16_reduction_math_sdp(True)`` was set.

Memory: each SDPA call keeps its query, K, V, output and log-sum-exp, so next to
softmax attention's activations this path keeps Q- and O- = A- V (two B x T x C
tensors; the CPU flash path keeps one). Two small autograd Functions keep it from
keeping more: Q- = ReLU(Q+) W- saves Q+ (kept by the first call anyway) instead of
ReLU(Q+), and the combined, projected output saves O+ and O- (kept by the calls
anyway) instead of the combined context, recomputing both in the backward pass.
Under autocast and while torch.compile traces (inductor chooses what to recompute
itself) the same math runs as plain autograd ops, so it traces under
``torch.compile(fullgraph=True)`` (the causal-mask check below is skipped while
compiling: the mask is then passed as a tensor).
"""

from typing import List, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

from fairseq_gpam.modules.kernels.common import (
    Lambda, autocast_on, combine_maps, head_lambda, merge_masks, negative_queries, sum_to_lambda, to_time_major,
)


def dagpam_sdpa(
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
    """(lambda+ A+ - lambda- A-) V through two SDPA calls, time-major.

    Args:
        q: B x H x T x Dh positive queries Q+ (not yet scaled: ``scale`` is applied
            inside SDPA, to Q- too, since ReLU and W- commute with a positive scale).
        k, v: B x H x S x Dh.
        neg_query_weight: G x Dh x Dh, W- (G = 1 or H).
        lam_pos, lam_neg: floats, or tensors of 1 or H values.
        attn_mask: T x S additive (-inf blocks) or bool (True blocks). key_padding_mask: B x S.
        scale: 1/sqrt(Dh).
        out_weight, out_bias: output projection Wo (C_out x H Dh), bo, or None.

    Returns:
        T x B x (H Dh), or T x B x C_out with ``out_weight``.
    """
    heads = q.size(1)
    lam_pos, lam_neg = head_lambda(lam_pos, heads), head_lambda(lam_neg, heads)
    lean = not autocast_on(q) and not torch.compiler.is_compiling()
    weight = neg_query_weight.to(q.dtype)
    q_neg = _NegativeQueries.apply(q, weight) if lean else negative_queries(q, weight)
    o_pos, o_neg = dual_sdpa(q, q_neg, k, v, attn_mask=attn_mask, key_padding_mask=key_padding_mask, scale=scale)
    if out_weight is not None and lean:
        return _CombineProject.apply(o_pos, o_neg, lam_pos, lam_neg, out_weight, out_bias)
    context = to_time_major(combine_maps(o_pos, o_neg, lam_pos, lam_neg))
    return context if out_weight is None else F.linear(context, out_weight, out_bias)


def dual_sdpa(
    q_pos: Tensor,
    q_neg: Tensor,
    k: Tensor,
    v: Tensor,
    *,
    attn_mask: Optional[Tensor] = None,
    key_padding_mask: Optional[Tensor] = None,
    scale: float = 1.0,
) -> Tuple[Tensor, Tensor]:
    """(A+ V, A- V), each B x H x T x Dh, from two SDPA calls sharing k and v.

    q_pos, q_neg: B x H x T x Dh; k, v: B x H x S x Dh; attn_mask: T x S additive or
    bool; key_padding_mask: B x S; scale: applied to the scores inside SDPA.
    """
    causal = key_padding_mask is None and is_future_mask(attn_mask, q_pos.size(2), k.size(2))
    mask = None if causal else merge_masks(attn_mask, key_padding_mask, q_pos.dtype)
    o_pos = F.scaled_dot_product_attention(q_pos, k, v, attn_mask=mask, is_causal=causal, scale=scale)
    o_neg = F.scaled_dot_product_attention(q_neg, k, v, attn_mask=mask, is_causal=causal, scale=scale)
    return o_pos, o_neg


class _NegativeQueries(torch.autograd.Function):
    """Q- = ReLU(Q+) W- (q B x H x T x Dh, weight G x Dh x Dh), saving Q+ instead of ReLU(Q+)."""

    @staticmethod
    def forward(ctx, q: Tensor, weight: Tensor) -> Tensor:
        ctx.save_for_backward(q, weight)
        return negative_queries(q, weight)

    @staticmethod
    def backward(ctx, grad: Tensor):
        q, weight = ctx.saved_tensors
        grad = grad.to(q.dtype)
        head_dim = q.size(-1)
        grad_q = grad_weight = None
        if ctx.needs_input_grad[0]:
            if weight.size(0) == 1:
                through = torch.matmul(grad, weight[0].t())
            else:
                through = torch.einsum("bhte,hde->bhtd", grad, weight)
            grad_q = through.masked_fill(q <= 0, 0.0)  # ReLU's backward
        if ctx.needs_input_grad[1]:
            relu_q = torch.relu(q)
            if weight.size(0) == 1:
                grad_weight = (relu_q.reshape(-1, head_dim).t() @ grad.reshape(-1, head_dim)).unsqueeze(0)
            else:
                grad_weight = torch.einsum("bhtd,bhte->hde", relu_q, grad)
        return grad_q, grad_weight


class _CombineProject(torch.autograd.Function):
    """(lambda+ O+ - lambda- O-) Wo^T + bo, time-major T x B x C_out, from O+ and O-
    (B x H x T x Dh each), saving those (which the SDPA calls keep anyway) instead of the
    combined context; lambdas: floats or G x 1 x 1 tensors (:func:`head_lambda`)."""

    @staticmethod
    def forward(ctx, o_pos: Tensor, o_neg: Tensor, lam_pos: Lambda, lam_neg: Lambda, weight: Tensor,
                bias: Optional[Tensor]) -> Tensor:
        context = to_time_major(combine_maps(o_pos, o_neg, lam_pos, lam_neg)).to(weight.dtype)
        lams = [lam if torch.is_tensor(lam) else None for lam in (lam_pos, lam_neg)]
        ctx.float_lams = [None if torch.is_tensor(lam) else lam for lam in (lam_pos, lam_neg)]
        ctx.has_bias = bias is not None
        ctx.save_for_backward(o_pos, o_neg, weight, *lams)
        return F.linear(context, weight, bias)

    @staticmethod
    def backward(ctx, grad: Tensor):
        o_pos, o_neg, weight, lam_pos_t, lam_neg_t = ctx.saved_tensors
        lam_pos = ctx.float_lams[0] if lam_pos_t is None else lam_pos_t
        lam_neg = ctx.float_lams[1] if lam_neg_t is None else lam_neg_t
        bsz, heads, tgt_len, head_dim = o_pos.shape
        grad = grad.to(weight.dtype)
        grad_context = torch.matmul(grad, weight)  # T x B x H Dh
        grad_heads = grad_context.view(tgt_len, bsz, heads, head_dim).permute(1, 2, 0, 3).to(o_pos.dtype)
        grad_pos, grad_neg = lam_pos * grad_heads, -lam_neg * grad_heads
        grad_weight = grad_bias = grad_lam_pos = grad_lam_neg = None
        if ctx.needs_input_grad[4]:
            context = to_time_major(combine_maps(o_pos, o_neg, lam_pos, lam_neg)).to(weight.dtype)
            grad_weight = grad.flatten(0, 1).t() @ context.flatten(0, 1)
        if ctx.has_bias and ctx.needs_input_grad[5]:
            grad_bias = grad.sum(dim=(0, 1))
        if ctx.needs_input_grad[2]:
            grad_lam_pos = sum_to_lambda((grad_heads * o_pos).sum(dim=(0, 2, 3), dtype=torch.float32), lam_pos.shape)
        if ctx.needs_input_grad[3]:
            grad_lam_neg = sum_to_lambda(-(grad_heads * o_neg).sum(dim=(0, 2, 3), dtype=torch.float32),
                                         lam_neg.shape)
        return grad_pos.to(o_pos.dtype), grad_neg.to(o_neg.dtype), grad_lam_pos, grad_lam_neg, grad_weight, grad_bias


# fairseq builds its future mask once per decoder and hands out views of it: remember the
# last few masks checked (holding them keeps their storage from being reused by another tensor)
_FUTURE_MASKS_SEEN: List[Tuple[Tensor, int, bool]] = []


def is_future_mask(attn_mask: Optional[Tensor], tgt_len: int, src_len: int) -> bool:
    """``attn_mask`` is fairseq's causal mask over T = S keys (blocked exactly above the
    diagonal, 0 elsewhere), so ``is_causal=True`` may replace it. False while compiling."""
    if attn_mask is None or tgt_len != src_len or tuple(attn_mask.shape) != (tgt_len, src_len):
        return False
    if torch.compiler.is_compiling():
        return False
    for seen, version, answer in _FUTURE_MASKS_SEEN:
        if (seen.data_ptr() == attn_mask.data_ptr() and seen.shape == attn_mask.shape
                and seen.stride() == attn_mask.stride() and seen.dtype == attn_mask.dtype
                and seen.device == attn_mask.device and version == attn_mask._version):
            return answer
    above = torch.ones(tgt_len, src_len, dtype=torch.bool, device=attn_mask.device).triu(1)
    if attn_mask.dtype == torch.bool:
        answer = bool(torch.equal(attn_mask, above))
    else:
        answer = bool(torch.equal(torch.isneginf(attn_mask), above)
                      and not attn_mask.masked_fill(above, 0.0).any())
    _FUTURE_MASKS_SEEN.insert(0, (attn_mask, attn_mask._version, answer))
    del _FUTURE_MASKS_SEEN[4:]
    return answer
