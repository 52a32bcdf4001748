"""Cog attention: signed weights sign(s) softmax(|s|) (Lv et al. 2024).

Lv, Xie, Li, Liao, Sun, Kang, Wang & Yan, "More Expressive Attention with
Negative Weights" (arXiv 2411.07176; code: trestad/CogAttn). The magnitudes
of the scores go through a softmax, their signs are kept::

    A_ij = sign(s_ij) exp(|s_ij|) / sum_j' exp(|s_ij'|)

so sum_j |A_ij| = 1 and a negative score subtracts its value vector. The
authors keep softmax attention in the first and last layers of their
Cogformer for stability; here the variant is used wherever
``--gpam-positions`` puts it. See
:func:`fairseq_gpam.modules.variants.functional.cog_weights`.
"""

from fairseq_gpam.modules.attention_frame import VariantMultiheadAttention
from fairseq_gpam.modules.variants.functional import cog_weights


class CogMultiheadAttention(VariantMultiheadAttention):
    """Cog: A = sign(s) softmax(|s|) over the visible keys."""

    variant_name = "cog"

    def attention_weights(self, q, k, bias, blocked):
        return cog_weights(self.scores(q, k, bias), blocked)
