"""CoDA quasi-attention (Tay et al. 2019).

Tay, Luu, Zhang, Wang & Hui, "Compositional De-Attention Networks" (NeurIPS
2019). The weights are M = tanh(E) * sigmoid(N), in (-1, 1): E is the
pairwise affinity (dot product) and N the negative L1 distance between a
query and a key, so a value can be added (+), subtracted (-) or ignored (0).

Choices made here, for a Transformer with fairseq's projections:
- E and N are both computed from the module's own query and key projections
  (no extra parameters), with the paper's scale constants alpha = beta =
  1/sqrt(d_head);
- a finite additive ``attn_mask`` entry is added to E, the term that plays
  the score's role (fairseq's causal mask is 0 or -inf: it only blocks);
- N is mean-centred over the keys each query sees. Without centring,
  sigmoid(N) < 0.5 always, and at the L1 distances of a random initialisation
  it is close to 0, which switches attention off.
See :func:`fairseq_gpam.modules.variants.functional.coda_weights`.
"""

from fairseq_gpam.modules.attention_frame import VariantMultiheadAttention
from fairseq_gpam.modules.variants.functional import coda_weights


class CodaMultiheadAttention(VariantMultiheadAttention):
    """CoDA: tanh(q.k / sqrt(d)) * sigmoid(centred -|q - k|_1 / sqrt(d))."""

    variant_name = "coda"

    def attention_weights(self, q, k, bias, blocked):
        return coda_weights(q, k, blocked, bias)  # q, k: the unscaled projections
