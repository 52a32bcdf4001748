"""The attention variants, each selectable by ``--gpam-attention`` (see ``attention_factory``):
daGPAM and its peers, one module per variant, all plugged into
:mod:`fairseq_gpam.modules.attention_frame`. The peers' weight functions are in ``functional``.
"""

from fairseq_gpam.modules.variants.coda import CodaMultiheadAttention
from fairseq_gpam.modules.variants.cog import CogMultiheadAttention
from fairseq_gpam.modules.variants.dagpam import DagpamMultiheadAttention
from fairseq_gpam.modules.variants.differential import DifferentialMultiheadAttention, assign_layer_numbers
from fairseq_gpam.modules.variants.nap import NapMultiheadAttention
from fairseq_gpam.modules.variants.non import NonMultiheadAttention

__all__ = [
    "CodaMultiheadAttention",
    "CogMultiheadAttention",
    "DagpamMultiheadAttention",
    "DifferentialMultiheadAttention",
    "NapMultiheadAttention",
    "NonMultiheadAttention",
    "assign_layer_numbers",
]
