"""``gpam_transformer_lm``: fairseq's Transformer language model with daGPAM attention.

Same flags and architectures as fairseq's ``transformer_lm`` (plain, adaptive
input and softmax, character embeddings); the decoder self-attention is daGPAM
when ``decoder_self`` is in ``--gpam-positions``.
"""

from dataclasses import dataclass

from fairseq.models import register_model, register_model_architecture
from fairseq.models.transformer_lm import (
    TransformerLanguageModel,
    TransformerLanguageModelConfig,
    base_lm_architecture,
    transformer_lm_baevski_wiki103,
    transformer_lm_gpt,
)

from fairseq_gpam.checkpoint_compat import refuse_mismatched_attention_weights
from fairseq_gpam.data_checks import check_binarised_data
from fairseq_gpam.models.gpam_transformer import GpamTransformerDecoder
from fairseq_gpam.modules.gpam_config import GpamConfig, GpamOptions, check_gpam_args


@dataclass
class GpamTransformerLanguageModelConfig(TransformerLanguageModelConfig, GpamConfig):
    """fairseq's LM options plus the ``--gpam-*`` options."""


@register_model("gpam_transformer_lm", dataclass=GpamTransformerLanguageModelConfig)
class GpamTransformerLanguageModel(TransformerLanguageModel):
    """Decoder-only Transformer LM with daGPAM self-attention (``--arch gpam_transformer_lm*``)."""

    @classmethod
    def add_args(cls, parser):
        super().add_args(parser)  # every field of the dataclass, ours included
        check_gpam_args(parser)

    @classmethod
    def build_model(cls, args, task):
        GpamOptions.from_cfg(args)  # reject bad --gpam-* values before anything is built
        check_binarised_data(getattr(args, "data", None))  # name a broken data file now, not later
        # fairseq builds the LM's decoder inline, with no hook for its layers. Let it
        # build the baseline (which also chooses the input embedding: plain, character
        # or adaptive input, and completes args), then build our decoder around the
        # same embedding and drop the baseline's.
        baseline = super().build_model(args, task)
        decoder = GpamTransformerDecoder(
            args, task.target_dictionary, baseline.decoder.embed_tokens, no_encoder_attn=True
        )
        return cls(decoder)

    def load_state_dict(self, state_dict, strict=True, *args, **kwargs):
        if strict:
            refuse_mismatched_attention_weights(self, state_dict)
        return super().load_state_dict(state_dict, strict, *args, **kwargs)


# Architectures: each one is fairseq's architecture of the same name without the prefix.
# register_model(..., dataclass=...) above already registers "gpam_transformer_lm" itself.


@register_model_architecture("gpam_transformer_lm", "gpam_transformer_lm_wiki103")
def gpam_transformer_lm_wiki103(args):
    transformer_lm_baevski_wiki103(args)


@register_model_architecture("gpam_transformer_lm", "gpam_transformer_lm_gpt")
def gpam_transformer_lm_gpt(args):
    transformer_lm_gpt(args)


@register_model_architecture("gpam_transformer_lm", "gpam_transformer_lm_tiny")
def gpam_transformer_lm_tiny(args):
    """A 2-layer, 64-wide LM for tests and smoke runs (no fairseq counterpart)."""
    args.decoder_embed_dim = getattr(args, "decoder_embed_dim", 64)
    args.decoder_ffn_embed_dim = getattr(args, "decoder_ffn_embed_dim", 128)
    args.decoder_layers = getattr(args, "decoder_layers", 2)
    args.decoder_attention_heads = getattr(args, "decoder_attention_heads", 2)
    base_lm_architecture(args)
