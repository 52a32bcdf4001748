"""CoDA quasi-attention (Tay et al. 2019).

Tay, Luu, Zhang, Wang & Hui, "Compositional De-Attention Networks" (NeurIPS
2019). The weights are M = tanh(E) * sigmoid(N), in (-1, 1): E is the
pairwise affinity (dot product) and N the negative L1 distance between a
query and a key, so a value can be added (+), subtracted (-) or ignored (0).

Choices made here, for a Transformer with fairseq's projections:
- E and N are both computed from the module's own query and key projections
  (no extra parameters), with the paper's scale constants alpha = beta =
  1/sqrt(d_head);
- N is mean-centred over the keys each query sees. Without centring,
  sigmoid(N) < 0.5 always, and at the L1 distances of a random initialisation
  it is close to 0, which switches attention off.
See :func:`fairseq_gpam.modules.variants.functional.coda_weights`.
"""

from fairseq_gpam.modules.variants.base import VariantMultiheadAttention
from fairseq_gpam.modules.variants.functional import coda_weights


class CodaMultiheadAttention(VariantMultiheadAttention):
    """CoDA: tanh(q.k / sqrt(d)) * sigmoid(centred -|q - k|_1 / sqrt(d))."""

    variant_name = "coda"

    def attention_weights(self, q, k, bias, blocked):
        if bias is not None:
            raise NotImplementedError(
                "--gpam-attention coda cannot use an attn_mask with finite additive "
                "biases (only blocking -inf / bool masks)"
            )
        # q arrives scaled by 1/sqrt(d); the L1 distance is between the projections themselves
        return coda_weights(q / self.scaling, k, blocked)
