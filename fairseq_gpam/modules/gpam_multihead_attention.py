"""daGPAM multi-head attention speaking fairseq's ``MultiheadAttention`` protocol.

Heo & Choi, "Generalized Probabilistic Attention Mechanism in Transformers"
(arXiv 2410.15578). Per head, with Q+ = X Wq, K = X Wk, V = X Wv::

    Q- = ReLU(Q+) W-                       W- is d_head x d_head (shared by heads)
    A  = lambda+ softmax(Q+ K^T / sqrt(d)) - lambda- softmax(Q- K^T / sqrt(d))
    out = concat_heads(A V) Wo

The projections, their initialisation, the incremental-state buffers and
``reorder_incremental_state`` are inherited from fairseq's module, so parameter
names match a softmax checkpoint; ``forward`` is written here in full, because
fairseq's own forward would take PyTorch's fused softmax path and silently
ignore the negative map. The math itself is :mod:`fairseq_gpam.modules.dual_softmax`.
"""

from typing import Dict, Optional, Tuple

import torch
import torch.nn.functional as F
from fairseq.modules import MultiheadAttention
from torch import Tensor, nn

from fairseq_gpam.modules.beam_sharing import first_hypothesis, fold_beams, shares_encoder_keys, unfold_beams
from fairseq_gpam.modules.dual_lambdas import DualLambdas
from fairseq_gpam.modules.dual_softmax import (
    dual_softmax_attention,
    dual_softmax_attention_decode,
    dual_softmax_attention_heads,
)
from fairseq_gpam.modules.gpam_config import GpamOptions

IncrementalState = Dict[str, Dict[str, Optional[Tensor]]]


class GpamMultiheadAttention(MultiheadAttention):
    """Dual-softmax attention; a drop-in for ``fairseq.modules.MultiheadAttention``.

    Args are fairseq's (``embed_dim``, ``num_heads``, ``kdim``, ``vdim``,
    ``dropout``, ``bias``, ``self_attention``, ``encoder_decoder_attention``,
    ``q_noise``, ``qn_block_size``) plus ``options``, the ``--gpam-*`` values.
    ``add_bias_kv``, ``add_zero_attn`` and xformers are not supported.
    """

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
        self.lambdas = DualLambdas(
            options.lambda_neg, options.lambda_mode, options.lambda_max, num_heads
        )
        heads = num_heads if options.neg_query_sharing == "head" else 1
        self.neg_query_weight = nn.Parameter(torch.empty(heads, self.head_dim, self.head_dim))
        self.reset_neg_query(options.neg_query_init)
        # Set by the diagnostics criterion: the next forward computes the signed
        # weights and records the mean negative mass per row.
        self.collect_stats = False
        self.last_negative_mass: Optional[Tensor] = None

    def reset_neg_query(self, init: str) -> None:
        """Initialise W-: ``neg_identity`` (-I) or ``xavier`` (uniform)."""
        with torch.no_grad():
            if init == "neg_identity":
                self.neg_query_weight.copy_(-torch.eye(self.head_dim).expand_as(self.neg_query_weight))
            else:
                for w in self.neg_query_weight:
                    nn.init.xavier_uniform_(w)

    def negative_query(self, q: Tensor) -> Tensor:
        """Q- = ReLU(Q+) W-. q: B x H x T x Dh (already scaled, which ReLU commutes with)."""
        return torch.matmul(F.relu(q), self.neg_query_weight.to(q.dtype))

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
            need_weights: return the signed weights A averaged over heads, B x T x S.
            static_kv: the keys are the encoder output, computed once per sentence.
            attn_mask: T x S additive mask (-inf blocks), e.g. the causal mask.
            before_softmax: not supported (two score maps have no single logit tensor).
            need_head_weights: return A per head, H x B x T x S (implies need_weights).

        Returns:
            (T x B x C output, weights or None).
        """
        if before_softmax:
            raise NotImplementedError(
                "GpamMultiheadAttention has two score maps and cannot return raw logits "
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
                # beam search: encoder keys projected and cached once per sentence
                key, key_padding_mask = first_hypothesis(key, key_padding_mask, self.beam_size)
            k = self.k_proj(key)
            v = self.v_proj(key if self.encoder_decoder_attention else value)
        q = self._split_heads(q, bsz)  # B x H x T x Dh, not yet scaled
        k = None if k is None else self._split_heads(k, k.size(1))  # B x H x S x Dh (B/beam: see above)
        v = None if v is None else self._split_heads(v, v.size(1))

        if saved_state is not None:
            k, v, key_padding_mask = self._update_cache(
                incremental_state, saved_state, k, v, key_padding_mask, static_kv, bsz
            )
        assert k is not None and v is not None
        if key_padding_mask is not None:
            if key_padding_mask.dim() == 0:
                key_padding_mask = None
            else:
                key_padding_mask = key_padding_mask.to(torch.bool)

        # keys cached once per sentence in beam search: the hypotheses of a sentence
        # become extra query rows of that sentence (B x H x T -> B/beam x H x beam*T)
        beams = bsz // k.size(0)
        if beams > 1:
            if attn_mask is not None:
                raise NotImplementedError("an attn_mask with beam-shared encoder keys is not supported")
            q = fold_beams(q, k.size(0))

        lam_pos, lam_neg = self.lambdas()
        want_weights = need_weights or self.collect_stats
        dropout_p = self.dropout_module.p if self._dropout_active() else 0.0
        if (
            self.options.kernel == "auto"
            and not want_weights
            and dropout_p == 0.0
            and not self.lambdas.is_zero
        ):
            # decoding: a few query rows per step; explicit products beat the fused kernel
            decoding = incremental_state is not None and attn_mask is None
            # the output projection is fused into the training path unless a hook
            # (quant-noise) wraps it
            fuse_out_proj = not (decoding or self.out_proj._forward_pre_hooks or self.out_proj._forward_hooks)
            if decoding:
                out = dual_softmax_attention_decode(
                    q, k, v, self.neg_query_weight, lam_pos, lam_neg,
                    key_padding_mask=key_padding_mask, scale=self.scaling,
                )
            else:
                # Q+ and Q- as 2H heads of one fused call, output time-major
                out = dual_softmax_attention_heads(
                    q,
                    k,
                    v,
                    self.neg_query_weight,
                    lam_pos,
                    lam_neg,
                    attn_mask=attn_mask,
                    key_padding_mask=key_padding_mask,
                    scale=self.scaling,
                    out_weight=self.out_proj.weight if fuse_out_proj else None,
                    out_bias=self.out_proj.bias if fuse_out_proj else None,
                )
            if beams > 1:  # beam*T x B/beam x C -> T x B x C
                out = out.view(beams, tgt_len, k.size(0), -1).permute(1, 2, 0, 3).reshape(tgt_len, bsz, -1)
            return (out if fuse_out_proj else self.out_proj(out)), None

        q = q * self.scaling
        q_neg = None if self.lambdas.is_zero else self.negative_query(q)
        result = dual_softmax_attention(
            q,
            q_neg,
            k,
            v,
            lam_pos,
            lam_neg,
            attn_mask=attn_mask,
            key_padding_mask=key_padding_mask,
            dropout_p=dropout_p,
            need_weights=want_weights,
            fused=self.options.kernel == "auto",
        )
        context, signed = result.context, result.weights
        if beams > 1:  # B/beam x H x beam*T x (Dh or S) -> B x H x T x (Dh or S)
            context, signed = (None if x is None else unfold_beams(x, beams, tgt_len) for x in (context, signed))
        if self.collect_stats:
            self._record_stats(signed)

        out = context.permute(2, 0, 1, 3).reshape(tgt_len, bsz, embed_dim)
        out = self.out_proj(out)

        weights = None
        if need_weights:
            weights = signed.transpose(0, 1)  # H x B x T x S
            if not need_head_weights:
                weights = weights.mean(dim=0)
        return out, weights

    def _split_heads(self, x: Tensor, bsz: int) -> Tensor:
        """L x B x C -> B x H x L x Dh."""
        return x.view(-1, bsz, self.num_heads, self.head_dim).permute(1, 2, 0, 3)

    def _dropout_active(self) -> bool:
        return self.dropout_module.p > 0 and (
            self.training or self.dropout_module.apply_during_inference
        )

    def _update_cache(self, incremental_state, saved_state, k, v, key_padding_mask, static_kv, bsz):
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
        saved_state["prev_key"] = k
        saved_state["prev_value"] = v
        saved_state["prev_key_padding_mask"] = key_padding_mask
        self._set_input_buffer(incremental_state, saved_state)
        return k, v, key_padding_mask

    def _record_stats(self, weights: Tensor) -> None:
        """Mean over rows of the total negative weight sum_j max(-A_ij, 0)."""
        with torch.no_grad():
            self.last_negative_mass = weights.detach().clamp(max=0).sum(-1).neg().mean()

    def extra_repr(self) -> str:
        return (
            f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, "
            f"neg_query={self.options.neg_query_init}/{self.options.neg_query_sharing}, "
            f"kernel={self.options.kernel}"
        )
