"""`python -m deskseek.cli`: the same entry point as the `deskseek` script."""

import sys

from deskseek.cli.main import main

sys.exit(main())
