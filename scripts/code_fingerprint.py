"""A short fingerprint of the code a training run depends on: the plugin's sources and scripts/train.sh.

    python scripts/code_fingerprint.py      # prints 16 hex digits

scripts/compare.sh writes it beside a run when the run starts and resumes a cut-off run only
while it is unchanged, so no run is trained by two versions of the code.
"""

import hashlib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def code_fingerprint(repo: Path = REPO) -> str:
    """SHA-256 (first 16 hex digits) of the plugin's ``.py`` files, in path order, then train.sh."""
    files = sorted(str(f) for f in (repo / "fairseq_gpam").rglob("*.py")) + [str(repo / "scripts" / "train.sh")]
    return hashlib.sha256(b"".join(Path(f).read_bytes() for f in files)).hexdigest()[:16]


if __name__ == "__main__":
    print(code_fingerprint())
