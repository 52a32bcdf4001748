"""Entry point of ``python -m dataprep`` (run with PYTHONPATH=data-prep)."""

import sys

from .cli import main

sys.exit(main())
