"""Which attention module sits at each position of a Transformer.

``--gpam-attention`` names a variant; ``--gpam-positions`` names where it is
used (``encoder_self``, ``decoder_self``, ``encoder_decoder``). The other
positions keep fairseq's softmax ``MultiheadAttention``, built by the layer's
own hook. Every variant class takes fairseq's ``MultiheadAttention`` keyword
arguments plus ``options`` and honours its forward contract.
"""

from typing import Dict, Optional, Type

from torch import nn

from fairseq_gpam.modules.gpam_config import GpamOptions
from fairseq_gpam.modules.gpam_multihead_attention import GpamMultiheadAttention

# variant name -> module class; "softmax" is fairseq's own module (no entry)
ATTENTION_VARIANTS: Dict[str, Type[nn.Module]] = {
    "dagpam": GpamMultiheadAttention,
}


def build_gpam_attention(
    options: GpamOptions, position: str, embed_dim: int, num_heads: int, **kwargs
) -> Optional[nn.Module]:
    """The variant's module for ``position``, or None where fairseq's softmax attention stays.

    kwargs: fairseq's ``MultiheadAttention`` arguments (kdim, vdim, dropout,
    self_attention, encoder_decoder_attention, q_noise, qn_block_size).
    """
    if not options.uses_gpam(position):
        return None
    variant = ATTENTION_VARIANTS[options.attention]
    return variant(embed_dim, num_heads, options=options, **kwargs)
