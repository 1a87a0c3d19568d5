"""`python -m recon`, as the `recon` console script."""

from recon.cli import run

run()
