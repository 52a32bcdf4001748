"""The fairseq side shared by the peer attention variants.

:class:`VariantMultiheadAttention` is fairseq's ``MultiheadAttention`` with its
``forward`` written out in full (fairseq's own forward would take PyTorch's
fused softmax path and silently ignore the variant): projections, the
incremental-state cache (``prev_key`` / ``prev_value`` / ``prev_key_padding_mask``,
reused for ``static_kv``), masks, attention dropout on the weights, and the
returned weights. Projections, their initialisation, ``_get_input_buffer`` /
``_set_input_buffer``, ``reorder_incremental_state`` and ``set_beam_size`` are
fairseq's, so the parameter names match a softmax checkpoint and beam search
caches encoder keys once per sentence (:mod:`fairseq_gpam.modules.beam_sharing`).

A variant subclass supplies :meth:`attention_weights` (usually one pure function
of :mod:`fairseq_gpam.modules.variants.functional`) and, where its heads are
arranged differently, :meth:`group_values` and :meth:`finish_context`.
"""

from typing import Dict, Optional, Tuple

import torch
import torch.nn.functional as F
from fairseq.modules import MultiheadAttention
from torch import Tensor

from fairseq_gpam.modules.beam_sharing import first_hypothesis, fold_beams, shares_encoder_keys, unfold_beams
from fairseq_gpam.modules.gpam_config import POSITIONS, GpamOptions
from fairseq_gpam.modules.variants.functional import merge_blocked, split_attn_mask

IncrementalState = Dict[str, Dict[str, Optional[Tensor]]]


class VariantMultiheadAttention(MultiheadAttention):
    """Base of the peer variants; a drop-in for ``fairseq.modules.MultiheadAttention``.

    Args are fairseq's (``embed_dim``, ``num_heads``, ``kdim``, ``vdim``,
    ``dropout``, ``bias``, ``self_attention``, ``encoder_decoder_attention``,
    ``q_noise``, ``qn_block_size``) plus ``options``, the ``--gpam-*`` values.
    ``add_bias_kv``, ``add_zero_attn`` and xformers are not supported.
    """

    #: the ``--gpam-positions`` entries this variant can serve (checked by the factory)
    supported_positions: Tuple[str, ...] = POSITIONS
    #: short name, as given to ``--gpam-attention``
    variant_name: str = ""

    def __init__(
        self,
        embed_dim: int,
        num_heads: int,
        *,
        options: GpamOptions,
        kdim: Optional[int] = None,
        vdim: Optional[int] = None,
        dropout: float = 0.0,
        bias: bool = True,
        self_attention: bool = False,
        encoder_decoder_attention: bool = False,
        q_noise: float = 0.0,
        qn_block_size: int = 8,
    ):
        super().__init__(
            embed_dim,
            num_heads,
            kdim=kdim,
            vdim=vdim,
            dropout=dropout,
            bias=bias,
            self_attention=self_attention,
            encoder_decoder_attention=encoder_decoder_attention,
            q_noise=q_noise,
            qn_block_size=qn_block_size,
        )
        self.options = options

    # -- the variant's math -------------------------------------------------

    def attention_weights(
        self, q: Tensor, k: Tensor, bias: Optional[Tensor], blocked: Optional[Tensor]
    ) -> Tensor:
        """The weights A, B x H' x T x S (fp32), exactly 0 where ``blocked``.

        q: B x H x T x Dh, already scaled by 1/sqrt(Dh). k: B x H x S x Dh.
        bias: finite additive T x S part of ``attn_mask`` or None.
        blocked: bool broadcastable to B x H x T x S, True = masked key, or None.
        """
        raise NotImplementedError

    def group_values(self, v: Tensor) -> Tensor:
        """Values as the weights' heads see them: B x H x S x Dh -> B x H' x S x Dv."""
        return v

    def finish_context(self, context: Tensor) -> Tensor:
        """Per-head post-processing of A V, B x H' x T x Dv (identity by default)."""
        return context

    def scores(self, q: Tensor, k: Tensor, bias: Optional[Tensor]) -> Tensor:
        """q k^T (+ bias) in fp32, B x H x T x S."""
        scores = torch.matmul(q, k.transpose(-1, -2)).float()
        return scores if bias is None else scores + bias

    # -- fairseq's protocol -------------------------------------------------

    def forward(
        self,
        query: Tensor,
        key: Optional[Tensor],
        value: Optional[Tensor],
        key_padding_mask: Optional[Tensor] = None,
        incremental_state: Optional[IncrementalState] = None,
        need_weights: bool = True,
        static_kv: bool = False,
        attn_mask: Optional[Tensor] = None,
        before_softmax: bool = False,
        need_head_weights: bool = False,
    ) -> Tuple[Tensor, Optional[Tensor]]:
        """Time-major attention.

        Args:
            query: T x B x C.
            key, value: S x B x C (the query again for self-attention; None
                for encoder-decoder attention once its keys are cached).
            key_padding_mask: B x S, True (or non-zero) at padded keys.
            incremental_state: fairseq's decoding cache; keys and values are
                kept as ``prev_key`` / ``prev_value`` (B x H x S x Dh).
            need_weights: return the weights averaged over heads, B x T x S.
            static_kv: the keys are the encoder output, computed once per sentence.
            attn_mask: T x S additive mask (-inf blocks) or bool (True blocks).
            before_softmax: not supported (these variants have no single logit tensor).
            need_head_weights: return the weights per head, H' x B x T x S
                (H' = H except for differential attention, H / 2).

        Returns:
            (T x B x C output, weights or None).
        """
        if before_softmax:
            raise NotImplementedError(
                f"--gpam-attention {self.variant_name} cannot return raw logits "
                "(before_softmax=True); use --gpam-attention softmax for this model"
            )
        if need_head_weights:
            need_weights = True
        tgt_len, bsz, embed_dim = query.size()
        assert embed_dim == self.embed_dim, f"query dim {embed_dim} != {self.embed_dim}"

        saved_state = None
        if incremental_state is not None:
            saved_state = self._get_input_buffer(incremental_state)
            if saved_state is not None and "prev_key" in saved_state and static_kv:
                assert self.encoder_decoder_attention and not self.self_attention
                key = value = None  # cached encoder keys and values are reused

        q = self.q_proj(query)
        if self.self_attention:
            k, v = self.k_proj(query), self.v_proj(query)
        elif key is None:
            k = v = None
        else:
            if shares_encoder_keys(self.encoder_decoder_attention, self.beam_size, incremental_state, key, bsz):
                # beam search (fairseq's set_beam_size): encoder keys projected and cached once per sentence
                key, key_padding_mask = first_hypothesis(key, key_padding_mask, self.beam_size)
            k = self.k_proj(key)
            v = self.v_proj(key if self.encoder_decoder_attention else value)
        q = self._split_heads(q * self.scaling, bsz)  # B x H x T x Dh
        k = None if k is None else self._split_heads(k, k.size(1))  # B x H x S x Dh (B/beam: see above)
        v = None if v is None else self._split_heads(v, v.size(1))

        if saved_state is not None:
            k, v, key_padding_mask = self._update_cache(
                incremental_state, saved_state, k, v, key_padding_mask, static_kv
            )
        assert k is not None and v is not None
        if key_padding_mask is not None and key_padding_mask.dim() == 0:
            key_padding_mask = None

        beams = bsz // k.size(0)
        if beams > 1:  # keys of a sentence shared by its hypotheses: they become its extra query rows
            if attn_mask is not None:
                raise NotImplementedError("an attn_mask with beam-shared encoder keys is not supported")
            q = fold_beams(q, k.size(0))  # B/beam x H x beam*T x Dh

        bias, attn_blocked = split_attn_mask(attn_mask)
        blocked = merge_blocked(attn_blocked, key_padding_mask)
        weights = self.attention_weights(q, k, bias, blocked)  # B x H' x T x S, fp32
        attn = weights
        if self.dropout_module.p > 0 and (self.training or self.dropout_module.apply_during_inference):
            attn = F.dropout(weights, p=self.dropout_module.p, training=True)
        context = torch.matmul(attn.to(v.dtype), self.group_values(v))  # B x H' x T x Dv
        context = self.finish_context(context)
        if beams > 1:  # B/beam x H' x beam*T x (Dv or S) -> B x H' x T x (Dv or S)
            context, weights = (unfold_beams(x, beams, tgt_len) for x in (context, weights))

        out = context.permute(2, 0, 1, 3).reshape(tgt_len, bsz, embed_dim)
        out = self.out_proj(out)

        head_weights = None
        if need_weights:
            head_weights = weights.transpose(0, 1)  # H' x B x T x S
            if not need_head_weights:
                head_weights = head_weights.mean(dim=0)
        return out, head_weights

    def _split_heads(self, x: Tensor, bsz: int) -> Tensor:
        """L x B x C -> B x H x L x Dh."""
        return x.view(-1, bsz, self.num_heads, self.head_dim).permute(1, 2, 0, 3)

    def _update_cache(self, incremental_state, saved_state, k, v, key_padding_mask, static_kv):
        """Prepend cached keys/values (or reuse them when static) and store the result."""
        if "prev_key" in saved_state:
            prev_key, prev_value = saved_state["prev_key"], saved_state["prev_value"]
            if static_kv:
                k, v = prev_key, prev_value
            else:
                k = torch.cat([prev_key, k], dim=2)
                v = torch.cat([prev_value, v], dim=2)
        key_padding_mask = MultiheadAttention._append_prev_key_padding_mask(
            key_padding_mask=key_padding_mask,
            prev_key_padding_mask=saved_state.get("prev_key_padding_mask"),
            batch_size=k.size(0),
            src_len=k.size(2),
            static_kv=static_kv,
        )
        if key_padding_mask is not None:
            # fairseq turns the cached mask into a float tensor while decoding
            key_padding_mask = key_padding_mask.to(torch.bool)
        saved_state["prev_key"] = k
        saved_state["prev_value"] = v
        saved_state["prev_key_padding_mask"] = key_padding_mask
        self._set_input_buffer(incremental_state, saved_state)
        return k, v, key_padding_mask

    def extra_repr(self) -> str:
        return f"variant={self.variant_name}, embed_dim={self.embed_dim}, num_heads={self.num_heads}"
