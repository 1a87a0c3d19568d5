"""The base of `make bench BASE=<rev>`: <rev> checked out in a git worktree under .bench/, with an
environment of its own, both kept for the next comparison against the same commit. Each step
prints a line: making an environment takes a minute or two."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from benchmarks.side import ROOT, Side

BENCH = ROOT / ".bench"


class BaseUnavailable(Exception):
    """The base cannot be had; the message is the one line the operator sees."""


def prepare(rev: str) -> Side:
    sha = _resolve(rev)
    tree = BENCH / sha
    where = tree.relative_to(ROOT)
    if (tree / ".git").exists():
        print(f"base {rev}: {sha[:12]}, in {where}", flush=True)
    else:
        print(f"base {rev}: {sha[:12]}, checking it out in {where}", flush=True)
        _step(["git", "worktree", "add", "--quiet", "--detach", str(tree), sha], ROOT)
    venv = tree / ".venv"
    installed = venv / ".installed-test"
    if installed.exists():
        print(f"base {rev}: environment {where / '.venv'} ready", flush=True)
    else:
        _install(rev, tree, venv)
        installed.touch()
    return Side(rev, venv / "bin" / "python", tree)


def _resolve(rev: str) -> str:
    found = subprocess.run(
        ["git", "rev-parse", "--verify", "--quiet", "--end-of-options", f"{rev}^{{commit}}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    if found.returncode != 0:
        raise BaseUnavailable(f"{rev} names no commit of this repository")
    return found.stdout.strip()


def _install(rev: str, tree: Path, venv: Path) -> None:
    """`recon[test]` installed in `venv` from `tree`, its dependencies pinned to this
    environment's versions so that only recon differs between the sides; at the versions pip
    picks if the base's requirements do not allow those."""
    where = venv.relative_to(ROOT)
    if not (venv / "bin" / "python").exists():
        print(f"base {rev}: making its environment in {where}", flush=True)
        _step([sys.executable, "-m", "venv", str(venv)], tree)
    pins = venv / "pins.txt"
    frozen = [sys.executable, "-m", "pip", "freeze", "--exclude-editable"]
    pins.write_text(subprocess.run(frozen, capture_output=True, text=True, check=True).stdout)
    install = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "-e", ".[test]"]
    print(f"base {rev}: installing recon[test] there, at this environment's versions", flush=True)
    pinned = subprocess.run([*install, "--constraint", str(pins)], cwd=tree, capture_output=True)
    if pinned.returncode != 0:
        print(f"base {rev}: those versions do not suit it; installing at pip's own", flush=True)
        _step(install, tree)


def _step(command: list[str], cwd: Path) -> None:
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0:
        print(done.stderr[-2000:], file=sys.stderr)
        raise BaseUnavailable(f"{' '.join(command[:4])}… failed (exit {done.returncode})")
