"""Attention modules: the daGPAM kernel, its lambdas, and the fairseq-protocol module."""

from fairseq_gpam.modules.dual_lambdas import DualLambdas
from fairseq_gpam.modules.dual_softmax import DualAttentionOutput, dual_softmax_attention
from fairseq_gpam.modules.gpam_config import GpamConfig, GpamConfigError, GpamOptions
from fairseq_gpam.modules.gpam_multihead_attention import GpamMultiheadAttention

__all__ = [
    "DualAttentionOutput",
    "DualLambdas",
    "GpamConfig",
    "GpamConfigError",
    "GpamMultiheadAttention",
    "GpamOptions",
    "dual_softmax_attention",
]
