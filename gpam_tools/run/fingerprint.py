"""A short fingerprint of the code a training run depends on: the plugin and the run layer.

A cut-off run resumes only while this is unchanged, so no run is trained by two versions of the
code. It covers the plugin's ``.py`` files (the model) and the recipe table and command builder
(``gpam_tools/run/recipes.py``, ``gpam_tools/run/train.py``: what fairseq-train is asked to do).
"""

import hashlib
from pathlib import Path

from gpam_tools import REPO

RUN_LAYER = ("gpam_tools/run/recipes.py", "gpam_tools/run/train.py")


def code_fingerprint(repo: Path = REPO) -> str:
    """SHA-256 (first 16 hex digits) of the plugin's ``.py`` files in path order, then the run layer's."""
    repo = Path(repo)
    files = sorted(str(f) for f in (repo / "fairseq_gpam").rglob("*.py")) + [str(repo / f) for f in RUN_LAYER]
    return hashlib.sha256(b"".join(Path(f).read_bytes() for f in files)).hexdigest()[:16]
