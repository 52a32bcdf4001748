"""``python -m gpam_tools COMMAND``: the same command line as the ``gpam`` console script."""
import sys

from gpam_tools.cli import main

sys.exit(main())
