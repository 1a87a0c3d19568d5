"""How patient the guard is: how long a newly uncovered position waits before recon covers it,
so the trading engine can finish replacing its own stop, and how often the whole book is read
again over REST whether or not the stream is up."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class GuardSettings:
    grace_seconds: float = 10.0
    sweep_seconds: float = 15.0
