"""fairseq's Transformer layers with the attention chosen by ``--gpam-*``.

Only the ``build_*_attention`` hooks change; everything else (residuals, layer
norms before or after, FFN, dropout) is fairseq's own layer. A position the
options leave to softmax is built by fairseq's own hook.
"""

from fairseq.modules.transformer_layer import TransformerDecoderLayerBase, TransformerEncoderLayerBase

from fairseq_gpam.modules.attention_factory import build_variant_attention
from fairseq_gpam.modules.gpam_config import GpamOptions


class GpamTransformerEncoderLayer(TransformerEncoderLayerBase):
    """Encoder layer whose self-attention follows ``--gpam-attention``/``--gpam-positions``."""

    def __init__(self, cfg, options: GpamOptions, return_fc: bool = False):
        # set before super().__init__, which calls build_self_attention
        self.gpam_options = options
        super().__init__(cfg, return_fc=return_fc)

    def build_self_attention(self, embed_dim, cfg):
        attention = build_variant_attention(
            self.gpam_options,
            "encoder_self",
            embed_dim,
            cfg.encoder.attention_heads,
            dropout=cfg.attention_dropout,
            self_attention=True,
            q_noise=self.quant_noise,
            qn_block_size=self.quant_noise_block_size,
        )
        return super().build_self_attention(embed_dim, cfg) if attention is None else attention


class GpamTransformerDecoderLayer(TransformerDecoderLayerBase):
    """Decoder layer whose self- and encoder-decoder attention follow the ``--gpam-*`` options."""

    def __init__(self, cfg, options: GpamOptions, no_encoder_attn: bool = False):
        # set before super().__init__, which calls the build_*_attention hooks
        self.gpam_options = options
        super().__init__(cfg, no_encoder_attn=no_encoder_attn)

    def build_self_attention(self, embed_dim, cfg, add_bias_kv=False, add_zero_attn=False):
        if self.gpam_options.uses_variant("decoder_self") and (
            add_bias_kv or add_zero_attn or cfg.cross_self_attention
        ):
            raise ValueError(
                f"--gpam-attention {self.gpam_options.attention} in decoder self-attention does "
                "not support add_bias_kv, add_zero_attn or --cross-self-attention; "
                "remove decoder_self from --gpam-positions"
            )
        attention = build_variant_attention(
            self.gpam_options,
            "decoder_self",
            embed_dim,
            cfg.decoder.attention_heads,
            dropout=cfg.attention_dropout,
            self_attention=True,
            q_noise=self.quant_noise,
            qn_block_size=self.quant_noise_block_size,
        )
        if attention is None:
            return super().build_self_attention(embed_dim, cfg, add_bias_kv, add_zero_attn)
        return attention

    def build_encoder_attention(self, embed_dim, cfg):
        attention = build_variant_attention(
            self.gpam_options,
            "encoder_decoder",
            embed_dim,
            cfg.decoder.attention_heads,
            kdim=cfg.encoder.embed_dim,
            vdim=cfg.encoder.embed_dim,
            dropout=cfg.attention_dropout,
            encoder_decoder_attention=True,
            q_noise=self.quant_noise,
            qn_block_size=self.quant_noise_block_size,
        )
        return super().build_encoder_attention(embed_dim, cfg) if attention is None else attention
