"""Which attention module sits at each position of a Transformer.

``--gpam-attention`` names a variant; ``--gpam-positions`` names where it is
used (``encoder_self``, ``decoder_self``, ``encoder_decoder``). The other
positions keep fairseq's softmax ``MultiheadAttention``, built by the layer's
own hook. Every variant plugs into :mod:`fairseq_gpam.modules.attention_frame`,
so it takes fairseq's ``MultiheadAttention`` arguments plus ``options`` and
honours its forward contract.
"""

from typing import Dict, Optional, Type

from torch import nn

from fairseq_gpam.modules.gpam_config import POSITIONS, GpamConfigError, GpamOptions
from fairseq_gpam.modules.variants import (
    CodaMultiheadAttention,
    CogMultiheadAttention,
    DagpamMultiheadAttention,
    DifferentialMultiheadAttention,
    NapMultiheadAttention,
    NonMultiheadAttention,
)

# variant name -> module class; "softmax" is fairseq's own module (no entry)
ATTENTION_VARIANTS: Dict[str, Type[nn.Module]] = {
    "dagpam": DagpamMultiheadAttention,
    "non": NonMultiheadAttention,
    "nap": NapMultiheadAttention,
    "coda": CodaMultiheadAttention,
    "diff": DifferentialMultiheadAttention,
    "cog": CogMultiheadAttention,
}


def supported_positions(variant: str):
    """The --gpam-positions a variant can serve (a class may narrow them with
    a ``supported_positions`` attribute; fairseq's softmax serves all)."""
    if variant == "softmax":
        return POSITIONS
    return tuple(getattr(ATTENTION_VARIANTS[variant], "supported_positions", POSITIONS))


def check_variant_positions(options: GpamOptions) -> None:
    """Reject a variant asked for a position it cannot serve, naming what is available."""
    if options.attention == "softmax":
        return
    if options.attention not in ATTENTION_VARIANTS:
        raise GpamConfigError(
            f"--gpam-attention={options.attention!r} has no module; registered: "
            + ", ".join(["softmax", *ATTENTION_VARIANTS])
        )
    served = supported_positions(options.attention)
    for position in options.positions:
        if position not in served:
            others = [name for name in ["softmax", *ATTENTION_VARIANTS] if position in supported_positions(name)]
            raise GpamConfigError(
                f"--gpam-attention {options.attention} cannot serve {position} attention; it "
                f"serves: {', '.join(served)}. Remove {position} from --gpam-positions, or use "
                f"one of the variants that serve it: {', '.join(others)}"
            )


def build_variant_attention(
    options: GpamOptions, position: str, embed_dim: int, num_heads: int, **kwargs
) -> Optional[nn.Module]:
    """The variant's module for ``position``, or None where fairseq's softmax attention stays.

    kwargs: fairseq's ``MultiheadAttention`` keyword arguments (kdim, vdim, dropout,
    self_attention, encoder_decoder_attention, q_noise, qn_block_size, ...).
    """
    check_variant_positions(options)
    if not options.uses_variant(position):
        return None
    variant = ATTENTION_VARIANTS[options.attention]
    return variant(embed_dim, num_heads, options=options, **kwargs)
