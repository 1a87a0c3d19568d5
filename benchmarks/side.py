"""Which recon a figure runs: a tree's own Python, started in that tree's folder, so that
`python -m recon` there imports that tree's engine, console and recon and none of another's."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


class NotMeasurable(Exception):
    """A figure a side's code cannot run; the message is the reason, in one line."""


@dataclass(frozen=True)
class Side:
    name: str
    python: Path
    root: Path

    def command(self, *args: str) -> list[str]:
        return [str(self.python), "-m", "recon", *args]

    def environment(self, env: Mapping[str, str] | None = None) -> dict[str, str]:
        """`env` (this process's by default) for a process of this side: without PYTHONPATH,
        which would put one tree's packages in the other's process."""
        return {k: v for k, v in (os.environ if env is None else env).items() if k != "PYTHONPATH"}

    def compile(self) -> None:
        """Its bytecode written ahead, which its first start would otherwise write and count in
        a figure. A file that does not compile is left to fail where it is imported."""
        packages = ("engine", "console", "recon", "tests")
        subprocess.run(
            [str(self.python), "-m", "compileall", "-q", *packages],
            cwd=self.root,
            env=self.environment(),
            capture_output=True,
        )


CURRENT = Side("this tree", Path(sys.executable), ROOT)
