"""fairseq models registered by the plugin (importing a module registers it)."""

from fairseq_gpam.models import gpam_transformer, gpam_transformer_lm  # noqa: F401
