"""NON attention: unnormalised scores (Richter & Wattenhofer 2020).

Richter & Wattenhofer, "Normalized Attention Without Probability Cage"
(arXiv 2005.09561): the softmax is dropped, so a query's weights are its raw
scaled dot products, A_ij = (q_i . k_j / sqrt(d)) / sqrt(n_i), with n_i the
number of keys the query sees (the authors rescale by the square root of the
sequence length so a sum of n_i terms keeps unit scale). The weights have no
sign or sum constraint. Only the weight function is taken from the paper;
their block also changes the layer norms around attention, which stay
fairseq's here. See :func:`fairseq_gpam.modules.variants.functional.non_weights`.
"""

from fairseq_gpam.modules.attention_frame import VariantMultiheadAttention
from fairseq_gpam.modules.variants.functional import non_weights


class NonMultiheadAttention(VariantMultiheadAttention):
    """NON: A = masked scores / sqrt(#visible keys); no softmax."""

    variant_name = "non"

    def attention_weights(self, q, k, bias, blocked):
        return non_weights(self.scores(q, k, bias), blocked)
