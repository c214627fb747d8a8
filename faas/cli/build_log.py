"""`faas deploy`'s build output: quiet by default, one progress line on a terminal, the whole
log on failure or with -v.

Docker's builder numbers its steps (`Step 3/9 : RUN ...`): on a terminal that becomes a line
rewritten in place (`building hello  [3/9]`); elsewhere nothing is printed until the deploy
ends. Every line is kept, so a failed build shows what happened.
"""

from __future__ import annotations

import re
import sys
from typing import TextIO

import click

_STEP = re.compile(r"^Step (\d+)/(\d+) :")


class BuildLog:
    """Collects a build's lines; `verbose` prints them as they come."""

    def __init__(self, verbose: bool = False, stream: TextIO | None = None) -> None:
        self.verbose = verbose
        self.stream = stream or sys.stderr
        self.lines: list[str] = []
        self.label = ""
        self._shown = False

    def start(self, label: str) -> None:
        self.lines = []
        self.label = label
        self._status(label)

    def __call__(self, line: str) -> None:
        self.lines.append(line)
        if self.verbose:
            click.echo(f"  {line}")
            return
        step = _STEP.match(line)
        if step:
            self._status(f"{self.label}  [{step[1]}/{step[2]}]")
        elif line.startswith("importing "):
            self._status(f"{self.label}  [{line}]")

    def _status(self, text: str) -> None:
        if self.verbose or not self.stream.isatty():
            return
        self.stream.write("\r\x1b[K" + text)
        self.stream.flush()
        self._shown = True

    def done(self) -> None:
        """Clear the progress line."""
        if self._shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self._shown = False

    def failed(self) -> None:
        """Show what the build printed (unless it already has been, with -v)."""
        self.done()
        if self.verbose or not self.lines:
            return
        click.echo("build log:", err=True)
        for line in self.lines:
            click.echo(f"  {line}", err=True)
