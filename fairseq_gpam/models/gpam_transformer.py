"""``gpam_transformer``: fairseq's encoder-decoder Transformer with daGPAM attention.

Identical to fairseq's ``transformer`` model (same flags, same architectures,
same checkpoint layout for everything but the attention) except that the
attention modules selected by ``--gpam-positions`` are the ``--gpam-attention``
variant (daGPAM, :class:`~fairseq_gpam.modules.DagpamMultiheadAttention`, by default).
"""

from fairseq.distributed import fsdp_wrap
from fairseq.models import register_model, register_model_architecture
from fairseq.models.transformer import (
    TransformerConfig,
    TransformerDecoder,
    TransformerEncoder,
    TransformerModel,
    base_architecture,
    tiny_architecture,
    transformer_iwslt_de_en,
    transformer_vaswani_wmt_en_de_big,
    transformer_wmt_en_de,
)
from fairseq.modules.checkpoint_activations import checkpoint_wrapper

from fairseq_gpam.checkpoint_compat import refuse_mismatched_attention_weights
from fairseq_gpam.data_checks import check_binarised_data
from fairseq_gpam.models.gpam_layers import GpamTransformerDecoderLayer, GpamTransformerEncoderLayer
from fairseq_gpam.modules.gpam_config import GpamOptions, add_gpam_args
from fairseq_gpam.modules.variants import assign_layer_numbers


def wrap_layer(layer, cfg: TransformerConfig):
    """Activation checkpointing and FSDP wrapping, with fairseq's rules."""
    checkpoint = cfg.checkpoint_activations
    if checkpoint:
        layer = checkpoint_wrapper(layer, offload_to_cpu=cfg.offload_activations)
    # a checkpointed layer is always wrapped by FSDP, whatever its size
    return fsdp_wrap(layer, min_num_params=0 if checkpoint else cfg.min_params_to_wrap)


class GpamTransformerEncoder(TransformerEncoder):
    """fairseq's ``TransformerEncoder`` built from :class:`GpamTransformerEncoderLayer`."""

    def __init__(self, args, dictionary, embed_tokens, return_fc=False):
        # set before super().__init__, which calls build_encoder_layer
        self.gpam_options = GpamOptions.from_cfg(args)
        super().__init__(args, dictionary, embed_tokens, return_fc=return_fc)
        # differential attention's lambda_init depends on the layer number (1-based)
        assign_layer_numbers(self.layers)

    def build_encoder_layer(self, args):
        cfg = TransformerConfig.from_namespace(args)
        return wrap_layer(GpamTransformerEncoderLayer(cfg, self.gpam_options, self.return_fc), cfg)


class GpamTransformerDecoder(TransformerDecoder):
    """fairseq's ``TransformerDecoder`` built from :class:`GpamTransformerDecoderLayer`."""

    def __init__(self, args, dictionary, embed_tokens, no_encoder_attn=False, output_projection=None):
        # set before super().__init__, which calls build_decoder_layer
        self.gpam_options = GpamOptions.from_cfg(args)
        super().__init__(
            args,
            dictionary,
            embed_tokens,
            no_encoder_attn=no_encoder_attn,
            output_projection=output_projection,
        )
        # differential attention's lambda_init depends on the layer number (1-based)
        assign_layer_numbers(self.layers)

    def build_decoder_layer(self, args, no_encoder_attn=False):
        cfg = TransformerConfig.from_namespace(args)
        return wrap_layer(GpamTransformerDecoderLayer(cfg, self.gpam_options, no_encoder_attn), cfg)


@register_model("gpam_transformer")
class GpamTransformerModel(TransformerModel):
    """Encoder-decoder Transformer with daGPAM attention (``--arch gpam_transformer_*``)."""

    @classmethod
    def add_args(cls, parser):
        super().add_args(parser)
        add_gpam_args(parser)

    @classmethod
    def build_model(cls, args, task):
        GpamOptions.from_cfg(args)  # reject bad --gpam-* values before anything is built
        check_binarised_data(getattr(args, "data", None))  # name a broken data file now, not later
        return super().build_model(args, task)

    def load_state_dict(self, state_dict, strict=True, *args, **kwargs):
        if strict:
            refuse_mismatched_attention_weights(self, state_dict)
        return super().load_state_dict(state_dict, strict, *args, **kwargs)

    @classmethod
    def build_encoder(cls, args, src_dict, embed_tokens):
        return GpamTransformerEncoder(args, src_dict, embed_tokens)

    @classmethod
    def build_decoder(cls, args, tgt_dict, embed_tokens):
        return GpamTransformerDecoder(
            args,
            tgt_dict,
            embed_tokens,
            no_encoder_attn=getattr(args, "no_cross_attention", False),
        )


# Architectures: each one is fairseq's architecture of the same name without the prefix.


@register_model_architecture("gpam_transformer", "gpam_transformer")
def gpam_base_architecture(args):
    base_architecture(args)


@register_model_architecture("gpam_transformer", "gpam_transformer_tiny")
def gpam_transformer_tiny(args):
    tiny_architecture(args)


@register_model_architecture("gpam_transformer", "gpam_transformer_iwslt_de_en")
def gpam_transformer_iwslt_de_en(args):
    transformer_iwslt_de_en(args)


@register_model_architecture("gpam_transformer", "gpam_transformer_wmt_en_de")
def gpam_transformer_wmt_en_de(args):
    transformer_wmt_en_de(args)


@register_model_architecture("gpam_transformer", "gpam_transformer_vaswani_wmt_en_de_big")
def gpam_transformer_vaswani_wmt_en_de_big(args):
    transformer_vaswani_wmt_en_de_big(args)
