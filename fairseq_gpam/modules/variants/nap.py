"""NAP attention: per-row standardised scores with a learned gain and bias.

Richter & Wattenhofer, "Normalized Attention Without Probability Cage"
(arXiv 2005.09561), "normalised attention pooling": the softmax is replaced
by a normalisation of each query's scores over the keys it sees, as a layer
norm would normalise a vector, then a learned per-head gain g_h (init 1) and
bias b_h (init 0)::

    A_ij = g_h (s_ij - mean_j s_ij) / (std_j s_ij + eps) + b_h

Each row of weights therefore has mean b_h and standard deviation about
|g_h|, whatever the sequence length. As in the authors' code the deviation
is the population one and eps = 1e-3 is added to it. See
:func:`fairseq_gpam.modules.variants.functional.nap_weights`.
"""

import torch
from torch import nn

from fairseq_gpam.modules.attention_frame import VariantMultiheadAttention
from fairseq_gpam.modules.variants.functional import nap_weights


class NapMultiheadAttention(VariantMultiheadAttention):
    """NAP: standardised scores, gain and bias per head (``nap_gain``, ``nap_bias``: H values)."""

    variant_name = "nap"

    def __init__(self, embed_dim, num_heads, *args, **kwargs):
        super().__init__(embed_dim, num_heads, *args, **kwargs)
        self.nap_gain = nn.Parameter(torch.ones(num_heads))
        self.nap_bias = nn.Parameter(torch.zeros(num_heads))

    def attention_weights(self, q, k, bias, blocked):
        return nap_weights(self.scores(q, k, bias), blocked, self.nap_gain, self.nap_bias)

    def prune_variant_heads(self, kept_heads):
        """Keep the gain and bias of the kept heads."""
        index = torch.tensor(kept_heads, dtype=torch.long, device=self.nap_gain.device)
        self.nap_gain = nn.Parameter(self.nap_gain.detach()[index].clone())
        self.nap_bias = nn.Parameter(self.nap_bias.detach()[index].clone())
