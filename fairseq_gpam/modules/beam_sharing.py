"""Beam search with encoder keys shared by the hypotheses of a sentence.

fairseq's ``set_beam_size(beam)`` lets encoder-decoder attention project and
cache the encoder output once per sentence instead of once per hypothesis;
fairseq's ``reorder_incremental_state`` then leaves such a cache alone (or
picks whole sentences when the batch shrinks). fairseq lays the hypotheses of
a sentence out next to each other (batch row = sentence * beam + i), so the
hypotheses of a sentence can meet its one set of keys as extra query rows.
Every attention here is computed row by row over the keys, so this gives each
hypothesis exactly what a cache per hypothesis would.
"""

from typing import Optional, Tuple

from torch import Tensor


def shares_encoder_keys(encoder_decoder_attention: bool, beam_size: int, incremental_state, key: Tensor,
                        bsz: int) -> bool:
    """True when encoder keys ``key`` (S x B x C, one copy per hypothesis) are to be cached per sentence."""
    return encoder_decoder_attention and beam_size > 1 and incremental_state is not None and key.size(1) == bsz


def first_hypothesis(
    key: Tensor, key_padding_mask: Optional[Tensor], beam_size: int
) -> Tuple[Tensor, Optional[Tensor]]:
    """The keys and padding of one hypothesis per sentence: S x B x C -> S x B/beam x C, B x S -> B/beam x S."""
    key = key.view(key.size(0), -1, beam_size, key.size(2))[:, :, 0]
    if key_padding_mask is not None:
        key_padding_mask = key_padding_mask.view(-1, beam_size, key_padding_mask.size(1))[:, 0]
    return key, key_padding_mask


def fold_beams(q: Tensor, sents: int) -> Tensor:
    """The hypotheses of a sentence as its extra query rows: B x H x T x D -> B/beam x H x beam*T x D."""
    bsz, heads, tgt_len, dim = q.shape
    beams = bsz // sents
    return q.reshape(sents, beams, heads, tgt_len, dim).transpose(1, 2).reshape(sents, heads, beams * tgt_len, dim)


def unfold_beams(x: Tensor, beams: int, tgt_len: int) -> Tensor:
    """Inverse of :func:`fold_beams`: B/beam x H x beam*T x D -> B x H x T x D."""
    sents, heads, _, last = x.shape
    return x.view(sents, heads, beams, tgt_len, last).transpose(1, 2).reshape(sents * beams, heads, tgt_len, last)
