"""`python -m proxy.cli`: the same as the `softphone-proxy` command."""

import sys

from proxy.cli import main

sys.exit(main())
