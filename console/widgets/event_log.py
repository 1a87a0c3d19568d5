"""The event log: plain lines in Textual's virtualised `Log`, coloured by what each line says.

Lines are plain text, never markup: a broker's error message is shown as it came, brackets and
all, and a run's thousands of lines cost nothing until they scroll into view."""

from __future__ import annotations

import re

from rich.highlighter import Highlighter
from rich.text import Text
from textual.widgets import Log

LOG_LINES_KEPT = 1_000
SUCCEEDED = "✓"
SKIPPED = "–"
FAILED = "✗"

_COLOURS = (
    (re.compile(rf"^{FAILED} .*"), "bold red"),
    (re.compile(rf"^{SUCCEEDED}"), "green"),
    (re.compile(rf"^{SKIPPED}"), "yellow"),
    (re.compile(rf"^[{SUCCEEDED}{SKIPPED}] (\S+)"), "bold"),
    (re.compile(r"^\S+(?= confirmed with the others)"), "bold"),
    (re.compile(r"^\S+(?= needs cover:)"), "bold red"),
    (re.compile(r"^decision needed"), "magenta"),
    (re.compile(r"^previous run interrupted:"), "yellow"),
    (re.compile(r"^run (?:started|\S+)$"), "bold"),
    (re.compile(r"^Run \S+ finished: .*"), "bold"),
)


class EventColours(Highlighter):
    def highlight(self, text: Text) -> None:
        for pattern, style in _COLOURS:
            for found in pattern.finditer(text.plain):
                start, end = found.span(found.lastindex or 0)
                text.stylize(style, start, end)


class EventLog(Log):
    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, highlight=True, max_lines=LOG_LINES_KEPT)
        self.highlighter = EventColours()
