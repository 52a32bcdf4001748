"""Peer attention variants, each selectable by ``--gpam-attention`` (see ``attention_factory``).

One module per variant; their weight functions are in ``functional``.
"""

from fairseq_gpam.modules.variants.base import VariantMultiheadAttention
from fairseq_gpam.modules.variants.coda import CodaMultiheadAttention
from fairseq_gpam.modules.variants.cog import CogMultiheadAttention
from fairseq_gpam.modules.variants.differential import DifferentialMultiheadAttention, assign_layer_numbers
from fairseq_gpam.modules.variants.nap import NapMultiheadAttention
from fairseq_gpam.modules.variants.non import NonMultiheadAttention

__all__ = [
    "CodaMultiheadAttention",
    "CogMultiheadAttention",
    "DifferentialMultiheadAttention",
    "NapMultiheadAttention",
    "NonMultiheadAttention",
    "VariantMultiheadAttention",
    "assign_layer_numbers",
]
