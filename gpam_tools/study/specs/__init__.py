"""The study specifications ``gpam study NAME`` runs: one module per study (format: ``gpam_tools/study/__init__.py``)."""
