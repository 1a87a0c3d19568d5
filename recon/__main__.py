"""`python -m recon`, as the `recon` console script."""

import sys

from recon.cli import main

sys.exit(main())
