"""daGPAM attention as the paper writes it: the specification every other path is tested against.

Heo & Choi, "Generalized Probabilistic Attention Mechanism in Transformers" (arXiv 2410.15578),
dual attention, per head::

    A+ = softmax(Q+ K^T + M)        A- = softmax(Q- K^T + M)
    A  = lambda+ A+ - lambda- A-    (every row of A sums to lambda+ - lambda-)
    out = A V

Q+ and Q- arrive scaled by 1/sqrt(Dh); M is the additive mask (0 or -inf). The
scores and both softmaxes are formed in fp32 whatever the input dtype (a logit
past 65504 overflows fp16, not fp32); attention dropout acts on the combined map
A, as fairseq's dropout acts on its single map. A row whose keys are all masked
gets zero weight everywhere (output 0, not NaN).
"""

from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor

from fairseq_gpam.modules.kernels.common import DualAttentionOutput, Lambda, combine_maps, is_one


def dagpam_reference(
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
        q_pos, q_neg: B x H x T x Dh scaled queries Q+ and Q- (q_neg None: lambda- = 0,
            softmax attention).
        k, v: B x H x S x Dh.
        lam_pos, lam_neg: lambda+ and lambda-, floats or G x 1 x 1 tensors (:func:`head_lambda`).
        mask: additive M broadcastable to B x H x T x S (:func:`merge_masks`), or None.
        dropout_p: dropout on A (0 outside training).
        need_weights: also return A, B x H x T x S fp32 (before dropout).
    """
    if q_neg is None:
        a_pos = softmax_scores(q_pos, k, mask)
        weights = a_pos if is_one(lam_pos) else lam_pos * a_pos
    else:
        # both maps from one product: [Q+; Q-] stacked along T, B x H x 2 x T x S
        both = torch.cat([q_pos, q_neg], dim=2)
        maps = softmax_scores(both, k, None if mask is None else mask.unsqueeze(2), pairs=2)
        weights = combine_maps(maps[:, :, 0], maps[:, :, 1], lam_pos, lam_neg)
    attn = F.dropout(weights, p=dropout_p, training=True) if dropout_p > 0 else weights
    context = torch.matmul(attn.to(v.dtype), v)
    return DualAttentionOutput(context, weights if need_weights else None)


def softmax_scores(q: Tensor, k: Tensor, mask: Optional[Tensor], pairs: int = 1) -> Tensor:
    """softmax(q k^T + M) over the keys, formed in fp32 (fp64 stays fp64), B x H x T x S.

    With ``pairs`` = 2, q is B x H x 2T x Dh (two query sets stacked along T), the mask
    broadcasts to B x H x 2 x T x S and so does the result. Fully masked rows are 0.
    """
    if q.dtype in (torch.float16, torch.bfloat16):
        q, k = q.float(), k.float()
    scores = torch.matmul(q, k.transpose(-1, -2))
    if pairs > 1:
        scores = scores.unflatten(2, (pairs, -1))
    if mask is None:
        return torch.softmax(scores, dim=-1)
    scores = scores + mask
    # a row with every key masked would be softmax(-inf, ..., -inf) = NaN in the forward
    # and the backward pass: give it finite scores, then zero weight
    dead = torch.isneginf(scores.amax(dim=-1, keepdim=True))
    return torch.softmax(scores.masked_fill(dead, 0.0), dim=-1).masked_fill(dead, 0.0)
