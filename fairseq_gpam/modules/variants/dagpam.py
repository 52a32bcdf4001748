"""daGPAM: dual-attention GPAM (Heo & Choi 2024), one variant of the attention frame.

Heo & Choi, "Generalized Probabilistic Attention Mechanism in Transformers"
(arXiv 2410.15578). Per head, with Q+ = X Wq, K = X Wk, V = X Wv::

    Q- = ReLU(Q+) W-                       W- is d_head x d_head (shared by heads, or one per head)
    A  = lambda+ softmax(Q+ K^T / sqrt(d)) - lambda- softmax(Q- K^T / sqrt(d))
    out = concat_heads(A V) Wo             lambda+ = 1 + lambda-, so rows of A sum to 1

The frame (:mod:`fairseq_gpam.modules.attention_frame`) does the projections,
masks and cache; this module adds W- and the lambdas and calls the kernels of
:mod:`fairseq_gpam.modules.kernels`: the fused training path and the
decoding path when no weights are asked for, the explicit path otherwise.

At a constant lambda- = 0 the module is plain softmax attention and has no W-
(a parameter without a gradient would stop fairseq's DistributedDataParallel,
which runs without ``--find-unused-parameters``); a checkpoint that holds an
unused W- for such a module still loads (:meth:`upgrade_state_dict_named`).
"""

from typing import List, Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from fairseq_gpam.modules.attention_frame import VariantMultiheadAttention
from fairseq_gpam.modules.dual_lambdas import DualLambdas
from fairseq_gpam.modules.kernels import (
    dual_softmax_attention,
    dual_softmax_attention_decode,
    dual_softmax_attention_heads,
)


class DagpamMultiheadAttention(VariantMultiheadAttention):
    """daGPAM attention: signed weights lambda+ A+ - lambda- A-.

    Parameters beyond fairseq's: ``neg_query_weight`` (W-, G x Dh x Dh with G = 1
    or H; absent at a constant lambda- = 0) and ``lambdas.theta`` (trainable lambda-).
    """

    variant_name = "dagpam"

    def __init__(self, embed_dim, num_heads, *args, **kwargs):
        super().__init__(embed_dim, num_heads, *args, **kwargs)
        options = self.options
        self.lambdas = DualLambdas(options.lambda_neg, options.lambda_mode, options.lambda_max, num_heads)
        self.neg_query_weight: Optional[nn.Parameter] = None
        if not self.lambdas.is_zero:
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
        """Q- = ReLU(Q+) W-. q: B x H x T x Dh (scaled or not: ReLU commutes with the scale)."""
        return torch.matmul(F.relu(q), self.neg_query_weight.to(q.dtype))

    def fused_attention(self, q, k, v, attn_mask, key_padding_mask, decoding):
        if (self.options.kernel != "auto" or self.collect_stats or self.dropout_active()
                or self.neg_query_weight is None):
            return None
        lam_pos, lam_neg = self.lambdas()
        if decoding:  # a few query rows per step: explicit products beat the fused kernel
            out = dual_softmax_attention_decode(
                q, k, v, self.neg_query_weight, lam_pos, lam_neg,
                key_padding_mask=key_padding_mask, scale=self.scaling,
            )
            return self.out_proj(out)
        # the output projection is fused into the kernel unless a hook (quant-noise) wraps it
        fuse = not (self.out_proj._forward_pre_hooks or self.out_proj._forward_hooks)
        out = dual_softmax_attention_heads(  # Q+ and Q- as 2H heads of one fused call, time-major
            q, k, v, self.neg_query_weight, lam_pos, lam_neg,
            attn_mask=attn_mask, key_padding_mask=key_padding_mask, scale=self.scaling,
            out_weight=self.out_proj.weight if fuse else None,
            out_bias=self.out_proj.bias if fuse else None,
        )
        return out if fuse else self.out_proj(out)

    def attend(self, q, k, v, attn_mask, key_padding_mask, need_weights):
        q = q * self.scaling
        q_neg = None if self.neg_query_weight is None else self.negative_query(q)
        lam_pos, lam_neg = self.lambdas()
        result = dual_softmax_attention(
            q, q_neg, k, v, lam_pos, lam_neg,
            attn_mask=attn_mask, key_padding_mask=key_padding_mask,
            dropout_p=self.dropout_module.p if self.dropout_active() else 0.0,
            need_weights=need_weights or self.collect_stats,
            fused=self.options.kernel == "auto",
        )
        if self.collect_stats:
            self._record_stats(result.weights)
        return result.context, result.weights

    def prune_variant_heads(self, kept_heads: List[int]) -> None:
        """Keep W- and lambda- of the kept heads where they are per head."""
        index = torch.tensor(kept_heads, dtype=torch.long, device=self.q_proj.weight.device)
        if self.neg_query_weight is not None and self.neg_query_weight.size(0) > 1:
            self.neg_query_weight = nn.Parameter(self.neg_query_weight.detach()[index].clone())
        theta = self.lambdas.theta
        if theta is not None and theta.numel() > 1:
            self.lambdas.theta = nn.Parameter(theta.detach()[index].clone())

    def upgrade_state_dict_named(self, state_dict, name):
        """fairseq's upgrade, and drop the unused W- an older checkpoint holds for a constant lambda- = 0."""
        super().upgrade_state_dict_named(state_dict, name)
        if self.neg_query_weight is None:
            state_dict.pop((name + "." if name else "") + "neg_query_weight", None)

    def _record_stats(self, weights: Tensor) -> None:
        """Mean over rows of the total negative weight sum_j max(-A_ij, 0)."""
        with torch.no_grad():
            self.last_negative_mass = weights.detach().clamp(max=0).sum(-1).neg().mean()

    def extra_repr(self) -> str:
        sharing = "none" if self.neg_query_weight is None else self.options.neg_query_sharing
        return (
            f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, "
            f"neg_query={self.options.neg_query_init}/{sharing}, kernel={self.options.kernel}"
        )
