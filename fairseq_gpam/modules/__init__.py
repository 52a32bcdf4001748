"""Attention modules: the daGPAM kernel and its lambdas, the fairseq attention frame,
and the variants that plug into it (daGPAM and its peers)."""

from fairseq_gpam.modules.attention_frame import VariantMultiheadAttention
from fairseq_gpam.modules.dual_lambdas import DualLambdas
from fairseq_gpam.modules.kernels import DualAttentionOutput, dual_softmax_attention
from fairseq_gpam.modules.gpam_config import GpamConfig, GpamConfigError, GpamOptions
from fairseq_gpam.modules.variants import DagpamMultiheadAttention

__all__ = [
    "DagpamMultiheadAttention",
    "DualAttentionOutput",
    "DualLambdas",
    "GpamConfig",
    "GpamConfigError",
    "GpamOptions",
    "VariantMultiheadAttention",
    "dual_softmax_attention",
]
