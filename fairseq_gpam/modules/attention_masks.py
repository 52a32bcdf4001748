"""fairseq's attention masks in the form the variants' weight functions take.

fairseq passes ``attn_mask`` (T x S: additive float, -inf blocks; or bool, True
blocks) and ``key_padding_mask`` (B x S, True at padding). The peer variants
want one bool "blocked" mask and, separately, any finite additive bias.
"""

from typing import Optional, Tuple

import torch
from torch import Tensor


def split_attn_mask(attn_mask: Optional[Tensor]) -> Tuple[Optional[Tensor], Optional[Tensor]]:
    """fairseq's T x S ``attn_mask`` as (additive finite bias or None, blocked or None).

    A bool mask blocks where True (no bias); a float mask blocks where it is -inf
    and its other entries are the bias (all 0 for fairseq's causal mask).
    """
    if attn_mask is None:
        return None, None
    if attn_mask.dtype == torch.bool:
        return None, attn_mask
    blocked = torch.isneginf(attn_mask)
    return attn_mask.float().masked_fill(blocked, 0.0), blocked


def merge_blocked(attn_blocked: Optional[Tensor], key_padding_mask: Optional[Tensor]) -> Optional[Tensor]:
    """One bool mask broadcastable to B x H x T x S (True = blocked), or None.

    attn_blocked: T x S bool. key_padding_mask: B x S bool, True = padding.
    """
    blocked = None
    if attn_blocked is not None:
        blocked = attn_blocked.unsqueeze(0).unsqueeze(0)  # 1 x 1 x T x S
    if key_padding_mask is not None:
        pad = key_padding_mask.unsqueeze(1).unsqueeze(2)  # B x 1 x 1 x S
        blocked = pad if blocked is None else blocked | pad
    return blocked
