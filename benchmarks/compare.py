"""Figures as ratios against a base: each measured for the base and for this tree in turn,
A B A B, so that whatever else the machine is doing weighs on both alike; the median of each
side, and their ratio, now over base, beside its bound. An absolute bound moves with the
machine; a ratio measured side by side in one run holds on any."""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from benchmarks.side import NotMeasurable, Side

NAME_WIDTH = 72


@dataclass(frozen=True)
class Ratio:
    name: str
    bound: float
    measure: Callable[[Side], float]


def compare(ratios: Sequence[Ratio], base: Side, now: Side, rounds: int) -> bool:
    """Print each ratio's line as it is known; whether every ratio is within its bound. A
    figure the base cannot run is printed as such and bounds nothing."""
    within = True
    for ratio in ratios:
        try:
            base_seconds, now_seconds = _alternate(ratio, base, now, rounds)
        except NotMeasurable as reason:
            print(f"{ratio.name:<{NAME_WIDTH}} not measurable against {base.name}: {reason}")
            continue
        value = now_seconds / base_seconds
        verdict = "ok" if value <= ratio.bound else "OVER"
        within = within and value <= ratio.bound
        print(
            f"{ratio.name:<{NAME_WIDTH}} base {_seconds(base_seconds)}  now {_seconds(now_seconds)}"
            f"  ratio {value:5.2f}  bound {ratio.bound:4.2f}  {verdict}",
            flush=True,
        )
    return within


def _alternate(ratio: Ratio, base: Side, now: Side, rounds: int) -> tuple[float, float]:
    """The medians of `rounds` measurements of each side, taken base, now, base, now…"""
    samples: dict[Side, list[float]] = {base: [], now: []}
    for _ in range(rounds):
        for side, measured in samples.items():
            try:
                measured.append(ratio.measure(side))
            except NotMeasurable as reason:
                if side is now:
                    raise SystemExit(f"{ratio.name}: {now.name} failed: {reason}") from None
                raise
    return statistics.median(samples[base]), statistics.median(samples[now])


def _seconds(value: float) -> str:
    return f"{value:6.2f} s " if value >= 1 else f"{value * 1000:6.1f} ms"
