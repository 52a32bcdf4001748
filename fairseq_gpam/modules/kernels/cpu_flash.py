"""daGPAM on the CPU: PyTorch's CPU flash-attention kernel called directly, with
hand-written autograd so that the memory stays close to softmax attention's.

Q+ and Q- = ReLU(Q+) W- run as the 2H query heads of one call of the private op
``aten._scaled_dot_product_flash_attention_for_cpu`` (heads 2h and 2h+1 share key/value
head h; on the CPU that kernel takes a mask together with shared keys), and the two
outputs O+ = A+ V, O- = A- V are combined, lambda+ O+ - lambda- O-, straight into
fairseq's time-major layout (and through the output projection). Three autograd
Functions keep the memory down: the stacked queries are rebuilt from Q+ in the
backward pass instead of kept; the combination saves nothing the kernel does not keep
already; the projected combination recomputes its input instead of keeping it.

The private ops carry no stability promise, so before first use in a process (per
dtype) :func:`private_ops_verified` compares this path with public ops on a small
input, outputs and gradients; on a mismatch or an exception it warns once and the
entry point takes the SDPA path instead.
"""

import warnings
from typing import Dict, Optional

import torch
import torch.nn.functional as F
from torch import Tensor

from fairseq_gpam.modules.kernels.common import (
    Lambda, autocast_on, combine_maps, head_lambda, merge_masks, sum_to_lambda, to_time_major,
)

_FLASH_CPU = getattr(torch.ops.aten, "_scaled_dot_product_flash_attention_for_cpu", None)
_FLASH_CPU_BACKWARD = getattr(torch.ops.aten, "_scaled_dot_product_flash_attention_for_cpu_backward", None)


def applies(q: Tensor, k: Tensor, v: Tensor) -> bool:
    """The CPU fast path can take these inputs now: CPU, fp32 or bf16, no autocast,
    not being traced by torch.compile, and the private ops verified for this dtype."""
    return (
        q.device.type == "cpu"
        and q.dtype in (torch.float32, torch.bfloat16)
        and k.dtype == v.dtype == q.dtype
        and not autocast_on(q)
        and not torch.compiler.is_compiling()
        and private_ops_verified(q.dtype)
    )


def dagpam_cpu_flash(
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
    """(lambda+ A+ - lambda- A-) V through one CPU flash call, time-major.

    Args and result as :func:`fairseq_gpam.modules.kernels.sdpa.dagpam_sdpa`
    (q B x H x T x Dh unscaled; k, v B x H x S x Dh; W- G x Dh x Dh; result
    T x B x (H Dh), or T x B x C_out with ``out_weight``).
    """
    mask = merge_masks(attn_mask, key_padding_mask, q.dtype)
    both = _DualFlashAttentionCPU.apply(q, k, v, neg_query_weight.to(q.dtype), mask, scale)
    if out_weight is None:
        return combine_dual_heads(both, lam_pos, lam_neg)
    return combine_dual_heads_project(both, lam_pos, lam_neg, out_weight, out_bias)


def combine_dual_heads(both: Tensor, lam_pos: Lambda, lam_neg: Lambda) -> Tensor:
    """lambda+ O+ - lambda- O-, time-major: the input of the output projection.

    both: B x 2H x T x Dh (head 2h = O+_h, head 2h+1 = O-_h); lambdas: floats, or
    tensors of 1 or H values. Returns T x B x (H Dh), contiguous.
    """
    heads = both.size(1) // 2
    lam_pos, lam_neg = head_lambda(lam_pos, heads), head_lambda(lam_neg, heads)
    if torch.is_tensor(lam_pos) != torch.is_tensor(lam_neg):
        pair = both.unflatten(1, (heads, 2))
        return to_time_major(combine_maps(pair[:, :, 0], pair[:, :, 1], lam_pos, lam_neg))
    return _CombineDualHeads.apply(both, lam_pos, lam_neg)


def combine_dual_heads_project(both: Tensor, lam_pos: Lambda, lam_neg: Lambda, weight: Tensor,
                               bias: Optional[Tensor]) -> Tensor:
    """F.linear(:func:`combine_dual_heads`, weight, bias), T x B x C_out, without keeping
    the combined context for the backward pass (it is recomputed there)."""
    heads = both.size(1) // 2
    lam_pos, lam_neg = head_lambda(lam_pos, heads), head_lambda(lam_neg, heads)
    if torch.is_tensor(lam_pos) != torch.is_tensor(lam_neg):
        return F.linear(combine_dual_heads(both, lam_pos, lam_neg), weight, bias)
    return _CombineProject.apply(both, weight, bias, lam_pos, lam_neg)


# --------------------------------------------------------------------------- verification

_VERIFIED: Dict[torch.dtype, bool] = {}


def private_ops_verified(dtype: torch.dtype) -> bool:
    """This path agrees with public ops on a small input (outputs and gradients), checked
    once per process and dtype; False (after one warning) on a mismatch or an exception."""
    if dtype not in _VERIFIED:
        _VERIFIED[dtype] = _verify(dtype)
    return _VERIFIED[dtype]


def _verify(dtype: torch.dtype) -> bool:
    if _FLASH_CPU is None or _FLASH_CPU_BACKWARD is None:
        return _refuse(dtype, "this torch has no aten._scaled_dot_product_flash_attention_for_cpu(_backward)")
    try:
        with torch.inference_mode(False), torch.enable_grad(), torch.autocast("cpu", enabled=False):
            got, want = (_probe(fn, dtype) for fn in (_flash_both, _public_both))
    except Exception as error:  # noqa: BLE001 - any failure of a private op means: do not use it
        return _refuse(dtype, f"the probe raised {type(error).__name__}: {error}")
    tol = dict(atol=1e-4, rtol=1e-4) if dtype == torch.float32 else dict(atol=5e-2, rtol=5e-2)
    for name, a, b in zip(("output", "grad q", "grad k", "grad v", "grad W-"), got, want):
        if a is None or a.shape != b.shape or not torch.allclose(a.float(), b.float(), **tol):
            return _refuse(dtype, f"its {name} differs from the public path's")
    return True


def _refuse(dtype: torch.dtype, why: str) -> bool:
    warnings.warn(
        f"daGPAM: the CPU flash-attention fast path is off for {dtype} in this process ({why}); "
        "using the scaled_dot_product_attention path instead (same results, slower on CPU)",
        RuntimeWarning,
    )
    return False


def _probe(fn, dtype: torch.dtype):
    """(output, grads of q, k, v, W-) of ``fn`` on a fixed small input with padding and a causal mask."""
    g = torch.Generator().manual_seed(0)
    bsz, heads, tgt_len, src_len, head_dim = 2, 2, 3, 5, 8
    q, k, v = (torch.randn(bsz, heads, n, head_dim, generator=g).to(dtype).requires_grad_()
               for n in (tgt_len, src_len, src_len))
    weight = (torch.randn(1, head_dim, head_dim, generator=g) / head_dim ** 0.5).to(dtype).requires_grad_()
    grad = torch.randn(bsz, 2 * heads, tgt_len, head_dim, generator=g).to(dtype)
    attn_mask = torch.ones(tgt_len, src_len, dtype=torch.bool).triu(src_len - tgt_len + 1)
    padding = torch.zeros(bsz, src_len, dtype=torch.bool)
    padding[1, :2] = True
    out = fn(q, k, v, weight, merge_masks(attn_mask, padding, dtype), head_dim ** -0.5)
    grads = torch.autograd.grad(out, (q, k, v, weight), grad, allow_unused=True)
    return (out.detach(), *grads)


def _flash_both(q, k, v, weight, mask, scale):
    return _DualFlashAttentionCPU.apply(q, k, v, weight, mask, scale)


def _public_both(q, k, v, weight, mask, scale):
    """The same B x 2H x T x Dh output from matmul and softmax, in fp32."""
    q, k, v, weight, mask = (t.float() for t in (q, k, v, weight, mask))
    q_pos = q * scale
    outs = [torch.softmax(torch.matmul(x, k.transpose(-1, -2)) + mask, dim=-1) @ v
            for x in (q_pos, torch.relu(q_pos) @ weight[0])]
    return torch.stack(outs, dim=2).flatten(1, 2)


# --------------------------------------------------------------------------- the kernel call

def stack_dual_queries(q: Tensor, weight: Tensor, keep_relu: bool = False):
    """[Q+; ReLU(Q+) W-] as 2H heads, B x 2H x T x Dh, stored B x T x H x 2 x Dh.

    That is the layout the CPU flash kernel works in: it reads it and writes its output
    and gradients in it without copies, and the rows of Q- and of its gradient form one
    (B T H) x Dh matrix each, so with a shared W- every product is a single matrix
    product over strided rows. With ``keep_relu`` it also returns ReLU(Q+), B x T x H x Dh.
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


def dual_queries_backward(grad: Tensor, stacked: Tensor, weight: Tensor, q_layout: Tensor,
                          need_q: bool, need_weight: bool, relu_q: Optional[Tensor] = None):
    """Gradients (of q, of W-) of :func:`stack_dual_queries` from the gradient of its output.

    grad, stacked: B x 2H x T x Dh; q_layout: a meta tensor with q's shape and strides
    (q's gradient is written in q's own layout, e.g. time-major, so the views that made
    q need no copy on the way back); relu_q: as :func:`stack_dual_queries` returns it,
    or None to recompute it.
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


class _DualFlashAttentionCPU(torch.autograd.Function):
    """The CPU flash kernel on [Q+; Q-] (:func:`stack_dual_queries`), keeping Q+ instead of
    the stacked queries for the backward pass, where they are rebuilt (one copy and the
    small Q- product): one B x T x C activation less per module. Output: B x 2H x T x Dh."""

    @staticmethod
    def forward(ctx, q: Tensor, k: Tensor, v: Tensor, weight: Tensor, mask: Optional[Tensor],
                scale: float) -> Tensor:
        stacked = stack_dual_queries(q, weight)
        out, logsumexp = _FLASH_CPU(stacked, k, v, 0.0, False, attn_mask=mask, scale=scale)
        ctx.save_for_backward(q, k, v, weight, out, logsumexp, mask)
        ctx.q_layout = torch.empty_like(q, device="meta")
        ctx.scale = scale
        return out

    @staticmethod
    def backward(ctx, grad: Tensor):
        q, k, v, weight, out, logsumexp, mask = ctx.saved_tensors
        stacked, relu_q = stack_dual_queries(q, weight, keep_relu=True)
        grad_stacked, grad_k, grad_v = _FLASH_CPU_BACKWARD(
            grad, stacked, k, v, out, logsumexp, 0.0, False, attn_mask=mask, scale=ctx.scale
        )
        need_q, _, _, need_weight = ctx.needs_input_grad[:4]
        grad_q, grad_weight = dual_queries_backward(
            grad_stacked, stacked, weight, ctx.q_layout, need_q, need_weight, relu_q
        )
        return grad_q, grad_k, grad_v, grad_weight, None, None


# --------------------------------------------------------------------------- the combination

def _combine_forward(both: Tensor, lam_pos: Lambda, lam_neg: Lambda) -> Tensor:
    """lambda+ O+ - lambda- O-, written time-major (T x B x H x Dh) in one pass.

    both: B x 2H x T x Dh; lambdas: floats, or G x 1 x 1 tensors (G = 1 or H).
    """
    bsz, two_heads, tgt_len, head_dim = both.shape
    heads = two_heads // 2
    pair = both.unflatten(1, (heads, 2))
    o_pos = pair[:, :, 0].permute(2, 0, 1, 3)  # T x B x H x Dh
    o_neg = pair[:, :, 1].permute(2, 0, 1, 3)
    out = both.new_empty(tgt_len, bsz, heads, head_dim)
    if torch.is_tensor(lam_pos):  # G x 1 x 1 broadcasts over H x Dh as G x 1
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

    grad: T x B x (H Dh); shape: B x 2H x T x Dh of the kernel output ``both``, which is
    needed only for the lambdas' gradients (per head, fp32; None without it).
    """
    bsz, two_heads, tgt_len, head_dim = shape
    heads = two_heads // 2
    grad = grad.reshape(tgt_len, bsz, heads, head_dim)
    # d/dO+ = lambda+ grad, d/dO- = -lambda- grad, as one broadcast product (H x 2 x 1
    # factors) written in B x T x H x 2 x Dh: the layout the flash backward reads without a copy
    if torch.is_tensor(lam_pos):
        factors = torch.stack([lam_pos.reshape(-1), -lam_neg.reshape(-1)], dim=-1)  # G x 2
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
    """Forward: :func:`_combine_forward`. Saves the kernel's output (which the kernel keeps
    anyway) only when a lambda is trainable."""

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
        return grad_both, sum_to_lambda(grad_pos, ctx.lam_shapes[0]), sum_to_lambda(grad_neg, ctx.lam_shapes[1])


class _CombineProject(torch.autograd.Function):
    """Forward: (lambda+ O+ - lambda- O-) Wo^T + bo. The combined context is not kept for
    the backward pass: it is recomputed from the kernel's output, which the kernel keeps."""

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
        return (grad_both, grad_weight, grad_bias, sum_to_lambda(grad_pos, ctx.lam_shapes[0]),
                sum_to_lambda(grad_neg, ctx.lam_shapes[1]))


def _save_lambdas(ctx, lam_pos: Lambda, lam_neg: Lambda, both: Optional[Tensor], *more: Tensor) -> None:
    """Save the kernel output, float or tensor lambdas and extra tensors for backward."""
    ctx.lam_shapes = [lam.shape if torch.is_tensor(lam) else None for lam in (lam_pos, lam_neg)]
    ctx.float_lams = None if torch.is_tensor(lam_pos) else (lam_pos, lam_neg)
    tensors = [both] + ([lam_pos, lam_neg] if ctx.float_lams is None else [None, None]) + list(more)
    ctx.save_for_backward(*tensors)


def _saved_lambdas(ctx):
    both, lam_pos, lam_neg, *more = ctx.saved_tensors
    if ctx.float_lams is not None:
        lam_pos, lam_neg = ctx.float_lams
    return (both, lam_pos, lam_neg, *more)
