"""Differential attention (Ye et al. 2024), extended to fairseq's full contract.

Ye, Dong, Xia, Sun, Zhu, Huang & Wei, "Differential Transformer"
(arXiv 2410.05258; code: microsoft/unilm Diff-Transformer). For layer l
(l = 1, 2, ...) and differential head h::

    A_h   = softmax(Q1 K1^T / sqrt(d)) - lambda softmax(Q2 K2^T / sqrt(d))
    lambda = exp(lq1 . lk1) - exp(lq2 . lk2) + lambda_init
    lambda_init = 0.8 - 0.6 exp(-0.3 (l - 1))
    head_h = (1 - lambda_init) RMSNorm(A_h V_h)

Head arrangement (the paper's, as in its reference code): with the baseline's
H heads of width d = C / H, fairseq's projections are split into 2H query and
key sub-heads of width d and H / 2 *differential* heads; differential head h
pairs query/key sub-heads 2h and 2h + 1 and reads a value of width 2d (value
channels [2hd, 2(h+1)d)). So the parameter count equals the baseline's plus
4 d lambda parameters and a 2d RMSNorm weight (shared by the heads), and
``need_head_weights`` returns H / 2 maps. H must be even.
lq1, lk1, lq2, lk2 are d-vectors shared by the module's heads, drawn from
N(0, 0.1^2) as in the reference code. Unlike it, fairseq's projections keep
their biases and there is no rotary embedding (fairseq's positions are used).

Extensions beyond the reference code (causal self-attention only): padding
masks and blocked entries give exactly zero weight in both maps, encoder
self-attention and encoder-decoder attention use the same formula with the
layer's own number, and incremental decoding reuses fairseq's cache (the
maps are recomputed from cached keys, so the cached and full results agree).
Every unblocked row of A_h sums to 1 - lambda.

The layer number is not one of fairseq's ``MultiheadAttention`` arguments:
the ``gpam_`` models set it after building their layers
(:func:`assign_layer_numbers`); a module built on its own is given
``layer_number=`` or :meth:`set_layer_number` before its first forward.
"""

from typing import Optional

import torch
from torch import Tensor, nn

from fairseq_gpam.modules.attention_frame import VariantMultiheadAttention
from fairseq_gpam.modules.variants.functional import (
    differential_lambda_init,
    differential_weights,
    rms_norm,
)

LAMBDA_PARAM_STD = 0.1


class DifferentialMultiheadAttention(VariantMultiheadAttention):
    """Differential attention with H / 2 heads of value width 2 C / H.

    Extra args: ``layer_number`` (1-based), which sets lambda_init; may be set later.
    """

    variant_name = "diff"

    def __init__(self, embed_dim, num_heads, *args, layer_number: Optional[int] = None, **kwargs):
        if num_heads % 2:
            raise ValueError(
                f"--gpam-attention diff pairs heads and needs an even number of attention "
                f"heads, got {num_heads}; set --encoder-attention-heads / "
                "--decoder-attention-heads to an even number"
            )
        super().__init__(embed_dim, num_heads, *args, **kwargs)
        d = self.head_dim
        self.lambda_q1 = nn.Parameter(torch.empty(d).normal_(0.0, LAMBDA_PARAM_STD))
        self.lambda_k1 = nn.Parameter(torch.empty(d).normal_(0.0, LAMBDA_PARAM_STD))
        self.lambda_q2 = nn.Parameter(torch.empty(d).normal_(0.0, LAMBDA_PARAM_STD))
        self.lambda_k2 = nn.Parameter(torch.empty(d).normal_(0.0, LAMBDA_PARAM_STD))
        self.subln_weight = nn.Parameter(torch.ones(2 * d))
        self.layer_number: Optional[int] = None
        self.lambda_init: Optional[float] = None
        if layer_number is not None:
            self.set_layer_number(layer_number)

    def set_layer_number(self, layer_number: int) -> None:
        """Layer l (1-based) of the stack this module sits in; sets lambda_init."""
        self.layer_number = int(layer_number)
        self.lambda_init = differential_lambda_init(self.layer_number)

    def lambda_full(self) -> Tensor:
        """lambda = exp(lq1 . lk1) - exp(lq2 . lk2) + lambda_init, a 0-dim fp32 tensor."""
        if self.lambda_init is None:
            raise RuntimeError(
                "DifferentialMultiheadAttention has no layer number, so no lambda_init: "
                "call set_layer_number(l) (the gpam_ models do this after building their layers)"
            )
        lam1 = torch.exp(torch.dot(self.lambda_q1.float(), self.lambda_k1.float()))
        lam2 = torch.exp(torch.dot(self.lambda_q2.float(), self.lambda_k2.float()))
        return lam1 - lam2 + self.lambda_init

    def attention_weights(self, q, k, bias, blocked):
        # sub-heads 2h, 2h+1 of the fairseq split are Q1/K1 and Q2/K2 of differential head h
        return differential_weights(self.scores(q, k, bias), blocked, self.lambda_full())

    def group_values(self, v: Tensor) -> Tensor:
        """B x H x S x d -> B x H/2 x S x 2d: value sub-heads 2h and 2h+1 side by side."""
        bsz, heads, src_len, d = v.shape
        return v.view(bsz, heads // 2, 2, src_len, d).permute(0, 1, 3, 2, 4).reshape(
            bsz, heads // 2, src_len, 2 * d
        )

    def finish_context(self, context: Tensor) -> Tensor:
        """(1 - lambda_init) RMSNorm(A_h V_h), per differential head."""
        return rms_norm(context, self.subln_weight) * (1.0 - self.lambda_init)

    def prune_variant_heads(self, kept_heads) -> None:
        raise NotImplementedError(
            "--gpam-attention diff cannot prune single heads: its heads work in pairs (Q1/K1, Q2/K2) "
            "that share one value head; prune the other positions, or use --mha-heads-to-keep -1"
        )

    def extra_repr(self) -> str:
        return super().extra_repr() + f", layer_number={self.layer_number}, lambda_init={self.lambda_init}"


def assign_layer_numbers(layers) -> None:
    """Give every differential module inside ``layers[i]`` the layer number i + 1.

    layers: a fairseq encoder's or decoder's ``layers`` (possibly checkpoint- or
    FSDP-wrapped). The encoder-decoder attention of decoder layer i gets i + 1 too.
    """
    for index, layer in enumerate(layers):
        for module in layer.modules():
            if isinstance(module, DifferentialMultiheadAttention):
                module.set_layer_number(index + 1)
