import sys

from gpam_tools.cli import main

sys.exit(main())
