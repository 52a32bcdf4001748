"""The one fairseq attention frame that daGPAM and every peer variant plug into.

:class:`VariantMultiheadAttention` is fairseq's ``MultiheadAttention`` with its
``forward`` written out in full (fairseq's own forward would take PyTorch's
fused softmax path and silently ignore the variant). The frame owns everything
that is not the variant's math:

* the constructor: fairseq's whole signature, so the module is a drop-in;
  the options fairseq supports and the frame does not (``add_bias_kv``,
  ``add_zero_attn``, xformers) are refused by name;
* the projections, their initialisation and parameter names (fairseq's, so a
  checkpoint's names stay those of a softmax model plus the variant's own);
* the incremental-state cache (``prev_key`` / ``prev_value`` /
  ``prev_key_padding_mask`` as bool, reused for ``static_kv``),
  ``reorder_incremental_state`` and ``set_beam_size`` (fairseq's), with encoder
  keys cached once per sentence in beam search
  (:mod:`fairseq_gpam.modules.beam_sharing`);
* ``need_weights`` / ``need_head_weights``, and fairseq's head pruning
  (``_adaptive_prune_heads`` then ``skip_embed_dim_check``), which each variant
  honours for its per-head parameters or refuses.

A variant supplies its math through hooks: :meth:`attention_weights` (the
weights A; plus :meth:`group_values` / :meth:`finish_context` where its heads
are arranged differently), or, for a variant with its own kernels (daGPAM),
:meth:`attend` and :meth:`fused_attention`.

TorchScript: the variants call autograd Functions and fused kernels that
TorchScript cannot compile, so ``torch.jit.script`` on a module (or a model
holding one) is refused with a message pointing to ``torch.compile``. The
forward branches on shapes and options only, never on tensor values.
"""

from typing import Dict, List, Optional, Tuple

import torch
import torch.nn.functional as F
from fairseq.modules import MultiheadAttention
from torch import Tensor

from fairseq_gpam.modules.attention_masks import merge_blocked, split_attn_mask
from fairseq_gpam.modules.beam_sharing import first_hypothesis, fold_beams, shares_encoder_keys, unfold_beams
from fairseq_gpam.modules.gpam_config import POSITIONS, GpamOptions

IncrementalState = Dict[str, Dict[str, Optional[Tensor]]]


class VariantMultiheadAttention(MultiheadAttention):
    """Any attention variant; a drop-in for ``fairseq.modules.MultiheadAttention``.

    Args are fairseq's, all of them (``embed_dim``, ``num_heads``, ``kdim``,
    ``vdim``, ``dropout``, ``bias``, ``add_bias_kv``, ``add_zero_attn``,
    ``self_attention``, ``encoder_decoder_attention``, ``dictionary``,
    ``q_noise``, ``qn_block_size``, ``xformers_*``), plus ``options``, the
    ``--gpam-*`` values (default: ``GpamOptions()``, the paper's daGPAM settings).
    ``add_bias_kv=True``, ``add_zero_attn=True``, an xformers config or layout,
    and a subclass overriding ``apply_sparse_mask`` are refused.
    """

    #: the ``--gpam-positions`` entries this variant can serve (checked by the factory)
    supported_positions: Tuple[str, ...] = POSITIONS
    #: short name, as given to ``--gpam-attention``
    variant_name: str = ""

    def __init__(
        self,
        embed_dim: int,
        num_heads: int,
        kdim: Optional[int] = None,
        vdim: Optional[int] = None,
        dropout: float = 0.0,
        bias: bool = True,
        add_bias_kv: bool = False,
        add_zero_attn: bool = False,
        self_attention: bool = False,
        encoder_decoder_attention: bool = False,
        dictionary=None,
        q_noise: float = 0.0,
        qn_block_size: int = 8,
        xformers_att_config: Optional[str] = None,
        xformers_blocksparse_layout: Optional[Tensor] = None,
        xformers_blocksparse_blocksize: Optional[int] = 16,
        *,
        options: Optional[GpamOptions] = None,
    ):
        # fairseq's options the frame does not implement: refused unless at their defaults
        unsupported = {"add_bias_kv": add_bias_kv, "add_zero_attn": add_zero_attn,
                       "xformers_att_config": xformers_att_config,
                       "xformers_blocksparse_layout": xformers_blocksparse_layout}
        for option, value in unsupported.items():
            if value is not None and value is not False:
                raise ValueError(
                    f"{type(self).__name__} (--gpam-attention {self.variant_name}) does not support "
                    f"{option}={value!r}; leave it at its default ({'None' if 'xformers' in option else 'False'}), "
                    "or keep fairseq's MultiheadAttention here (--gpam-attention softmax, or remove this "
                    "position from --gpam-positions)"
                )
        if type(self).apply_sparse_mask is not MultiheadAttention.apply_sparse_mask:
            raise ValueError(
                f"{type(self).__name__} overrides apply_sparse_mask, which the attention variants do not "
                "apply (their weights are not one softmax over logits); mask through attn_mask instead"
            )
        super().__init__(
            embed_dim, num_heads, kdim=kdim, vdim=vdim, dropout=dropout, bias=bias,
            self_attention=self_attention, encoder_decoder_attention=encoder_decoder_attention,
            dictionary=dictionary, q_noise=q_noise, qn_block_size=qn_block_size,
            xformers_blocksparse_blocksize=xformers_blocksparse_blocksize,
        )
        # default: the paper's daGPAM settings (GpamOptions' defaults), naming this variant
        self.options = GpamOptions(attention=self.variant_name or "dagpam") if options is None else options

    # -- the variant's hooks ----------------------------------------------------------

    def attention_weights(
        self, q: Tensor, k: Tensor, bias: Optional[Tensor], blocked: Optional[Tensor]
    ) -> Tensor:
        """The weights A, B x H' x T x S (fp32), exactly 0 where ``blocked``.

        q: B x H x T x Dh, unscaled projections (``self.scaling`` is 1/sqrt(Dh)). k: B x H x S x Dh.
        bias: finite additive T x S part of ``attn_mask`` (0 where it blocks) or None.
        blocked: bool broadcastable to B x H x T x S, True = masked key, or None.
        """
        raise NotImplementedError(f"{type(self).__name__} defines no attention_weights")

    def group_values(self, v: Tensor) -> Tensor:
        """Values as the weights' heads see them: B x H x S x Dh -> B x H' x S x Dv."""
        return v

    def finish_context(self, context: Tensor) -> Tensor:
        """Per-head post-processing of A V, B x H' x T x Dv (identity by default)."""
        return context

    def scores(self, q: Tensor, k: Tensor, bias: Optional[Tensor]) -> Tensor:
        """q k^T / sqrt(Dh) (+ bias) in fp32, B x H x T x S; q unscaled."""
        scores = torch.matmul(q * self.scaling, k.transpose(-1, -2)).float()
        return scores if bias is None else scores + bias

    def attend(
        self, q: Tensor, k: Tensor, v: Tensor, attn_mask: Optional[Tensor],
        key_padding_mask: Optional[Tensor], need_weights: bool,
    ) -> Tuple[Tensor, Optional[Tensor]]:
        """(context A V, B x H' x T x Dv; weights A, B x H' x T x S fp32, or None).

        q: B x H x T x Dh unscaled; k, v: B x H x S x Dh; attn_mask: T x S additive
        (-inf blocks) or bool (True blocks); key_padding_mask: B x S bool or None.
        The default applies :meth:`attention_weights`, attention dropout on A, and the values.
        """
        bias, attn_blocked = split_attn_mask(attn_mask)
        weights = self.attention_weights(q, k, bias, merge_blocked(attn_blocked, key_padding_mask))
        attn = F.dropout(weights, p=self.dropout_module.p, training=True) if self.dropout_active() else weights
        context = torch.matmul(attn.to(v.dtype), self.group_values(v))  # B x H' x T x Dv
        return self.finish_context(context), weights

    def fused_attention(
        self, q: Tensor, k: Tensor, v: Tensor, attn_mask: Optional[Tensor],
        key_padding_mask: Optional[Tensor], decoding: bool,
    ) -> Optional[Tensor]:
        """A variant's own kernel when no weights are asked for: the *projected* output,
        T x B x C time-major (out_proj applied), or None to take :meth:`attend`.

        Arguments as in :meth:`attend`; ``decoding``: an incremental step without attn_mask.
        """
        return None

    def prune_variant_heads(self, kept_heads: List[int]) -> None:
        """Keep the variant's per-head parameters of ``kept_heads`` (fairseq's head pruning),
        or raise if the variant cannot lose heads. Called before the projections are pruned."""

    # -- fairseq's protocol ----------------------------------------------------------

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
            before_softmax: not supported (the variants have no single logit tensor).
            need_head_weights: return the weights per head, H' x B x T x S
                (implies need_weights; H' = H except for differential attention, H / 2).

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
        if not self.skip_embed_dim_check:  # set by fairseq after head pruning
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
        q = self._split_heads(q, bsz)  # B x H x T x Dh, unscaled
        k = None if k is None else self._split_heads(k, k.size(1))  # B x H x S x Dh (B/beam: see above)
        v = None if v is None else self._split_heads(v, v.size(1))

        if saved_state is not None:
            k, v, key_padding_mask = self._update_cache(
                incremental_state, saved_state, k, v, key_padding_mask, static_kv
            )
        assert k is not None and v is not None
        if key_padding_mask is not None:
            # a 0-dim mask means none; fairseq's cache turns the mask into floats
            key_padding_mask = None if key_padding_mask.dim() == 0 else key_padding_mask.to(torch.bool)

        beams = bsz // k.size(0)
        if beams > 1:  # keys of a sentence shared by its hypotheses: they become its extra query rows
            if attn_mask is not None:
                raise NotImplementedError("an attn_mask with beam-shared encoder keys is not supported")
            q = fold_beams(q, k.size(0))  # B/beam x H x beam*T x Dh

        if not need_weights:
            decoding = incremental_state is not None and attn_mask is None
            out = self.fused_attention(q, k, v, attn_mask, key_padding_mask, decoding)
            if out is not None:
                if beams > 1:  # beam*T x B/beam x C -> T x B x C
                    out = out.view(beams, tgt_len, k.size(0), -1).permute(1, 2, 0, 3).reshape(tgt_len, bsz, -1)
                return out, None

        context, weights = self.attend(q, k, v, attn_mask, key_padding_mask, need_weights)
        if beams > 1:  # B/beam x H' x beam*T x (Dv or S) -> B x H' x T x (Dv or S)
            context = unfold_beams(context, beams, tgt_len)
            weights = None if weights is None else unfold_beams(weights, beams, tgt_len)
        out = self.out_proj(context.permute(2, 0, 1, 3).reshape(tgt_len, bsz, -1))

        head_weights = None
        if need_weights and weights is not None:
            head_weights = weights.transpose(0, 1)  # H' x B x T x S
            if not need_head_weights:
                head_weights = head_weights.mean(dim=0)
        return out, head_weights

    def dropout_active(self) -> bool:
        """Attention dropout applies now (training, or fairseq's apply_during_inference)."""
        return self.dropout_module.p > 0 and (self.training or self.dropout_module.apply_during_inference)

    def _split_heads(self, x: Tensor, bsz: int) -> Tensor:
        """L x B x (H Dh) -> B x H x L x Dh."""
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
            key_padding_mask = key_padding_mask.to(torch.bool)  # fairseq's helper returns floats
        saved_state["prev_key"] = k
        saved_state["prev_value"] = v
        saved_state["prev_key_padding_mask"] = key_padding_mask
        self._set_input_buffer(incremental_state, saved_state)
        return k, v, key_padding_mask

    def _adaptive_prune_heads(self, reserve_head_index: List[Tuple[int, int]]):
        """fairseq's head pruning, extended to the variant's per-head parameters."""
        self.prune_variant_heads([start // self.head_dim for start, _ in reserve_head_index])
        super()._adaptive_prune_heads(reserve_head_index)

    def __prepare_scriptable__(self):
        """Called by ``torch.jit.script``: refused (see the module docstring)."""
        raise RuntimeError(
            f"{type(self).__name__} (--gpam-attention {self.variant_name}) cannot be compiled by "
            "torch.jit.script: it calls autograd Functions and fused kernels TorchScript does not "
            "support. Use torch.compile, or run the model in eager mode"
        )

    def extra_repr(self) -> str:
        return f"variant={self.variant_name}, embed_dim={self.embed_dim}, num_heads={self.num_heads}"
