"""Run by path with a side's Python, as `python -P in_side.py <tree> <orders>`: the longest
stall of one streaming run, measured by this tree's benchmark code against <tree>'s console and
engine, printed in seconds.

`-P` keeps this file's folder off the path, where benchmarks/console.py would pass for the
console package. <tree> goes first on the path, for its engine, console and recon and for the
tests' factories that build their objects; `benchmarks` is this file's own package, whichever
tree is measured."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path


def _import_benchmarks_from(folder: Path) -> None:
    spec = importlib.util.spec_from_file_location(
        "benchmarks", folder / "__init__.py", submodule_search_locations=[str(folder)]
    )
    assert spec is not None and spec.loader is not None
    package = importlib.util.module_from_spec(spec)
    sys.modules["benchmarks"] = package
    spec.loader.exec_module(package)


def main(tree: Path, orders: int) -> None:
    sys.path.insert(0, str(tree))
    _import_benchmarks_from(Path(__file__).resolve().parent)
    from benchmarks.console import one_streaming_stall_seconds

    print(one_streaming_stall_seconds(orders))


if __name__ == "__main__":
    main(Path(sys.argv[1]), int(sys.argv[2]))
