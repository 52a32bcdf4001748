"""daGPAM for a few query rows per sentence: the incremental-decoding path.

With one query per hypothesis a fused kernel's fixed cost outweighs its work, so
this path goes the way fairseq's own incremental attention goes: one product
scores [Q+; Q-] (stacked along the query axis) against K, in fp32 whatever the
input dtype; one softmax; the two maps combined, A = lambda+ A+ - lambda- A-;
then a single product with V. Plain autograd ops: it also traces under torch.compile.
"""

from typing import Optional

import torch
from torch import Tensor

from fairseq_gpam.modules.kernels.common import Lambda, combine_maps, head_lambda, negative_queries, to_time_major


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
    """(lambda+ A+ - lambda- A-) V for T query rows (T small), time-major.

    Args:
        q: B x H x T x Dh positive queries Q+ (not yet scaled).
        k, v: B x H x S x Dh.
        neg_query_weight: G x Dh x Dh, W- (G = 1 or H).
        lam_pos, lam_neg: floats, or tensors of 1 or H values.
        key_padding_mask: B x S bool, True at padded keys. A sentence whose keys are
            all padded gets zero weight (output 0), as in the reference.
        scale: 1/sqrt(Dh).

    Returns:
        T x B x (H Dh).
    """
    bsz, heads, tgt_len, _ = q.shape
    q = q * scale
    both = torch.cat([q, negative_queries(q, neg_query_weight)], dim=2)  # B x H x 2T x Dh
    if both.dtype in (torch.float16, torch.bfloat16):
        both, k_scores = both.float(), k.float()
    else:
        k_scores = k
    scores = torch.matmul(both, k_scores.transpose(-1, -2))  # B x H x 2T x S, fp32
    dead = None
    if key_padding_mask is not None:
        dead = key_padding_mask.all(dim=-1)  # B: no key to attend to
        blocked = key_padding_mask & ~dead.unsqueeze(-1)
        scores = scores.masked_fill(blocked.view(bsz, 1, 1, -1), float("-inf"))
    probs = torch.softmax(scores, dim=-1, dtype=torch.float32)
    if dead is not None:
        probs = probs.masked_fill(dead.view(bsz, 1, 1, 1), 0.0)
    weights = combine_maps(probs[:, :, :tgt_len], probs[:, :, tgt_len:],
                           head_lambda(lam_pos, heads), head_lambda(lam_neg, heads))
    return to_time_major(torch.matmul(weights.to(v.dtype), v))
