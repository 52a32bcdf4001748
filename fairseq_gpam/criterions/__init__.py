"""fairseq criteria registered by the plugin (importing a module registers it)."""

from fairseq_gpam.criterions import gpam_diagnostics  # noqa: F401
