"""How `deskseek pull` shows progress: a rich bar on a terminal, plain lines everywhere else.

Plain lines matter for the engineers who script deskseek: a log file full of carriage-return redraws is
useless, so off a terminal we print one line every few seconds instead.
"""

from __future__ import annotations

import sys
import time

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from deskseek.models import download
from deskseek.units import human_bytes


class PullView:
    """Receives pull events (possibly many per second) and draws them at a human rate."""

    def __init__(self, console: Console | None = None, plain_every_s: float = 5.0):
        self.console = console or Console(stderr=True)
        self.fancy = self.console.is_terminal
        self.plain_every_s = plain_every_s
        self.progress: Progress | None = None
        self.task = None
        self.name = ""
        self.last_line = 0.0
        self.started_at = 0.0
        self.start_bytes = 0

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.progress is not None:
            self.progress.stop()
        return False

    def __call__(self, event: download.Event) -> None:
        if isinstance(event, download.Started):
            self._start(event)
        elif isinstance(event, download.Progress):
            self._advance(event)
        elif isinstance(event, download.Checking):
            self._say(f"checking {human_bytes(event.size)} kept from an earlier pull of {event.file}")
        elif isinstance(event, download.Retrying):
            self._say(f"{event.file}: {event.reason}; retrying in {event.delay_s:.1f} s")
        elif isinstance(event, download.Note):
            self._say(event.message)

    def _say(self, text: str) -> None:
        if self.progress is not None:
            self.progress.console.print(f"[dim]{text}[/]", highlight=False)
        else:
            self.console.print(text, highlight=False, markup=False)

    def _start(self, event: download.Started) -> None:
        self.name = event.name
        self.started_at, self.start_bytes = time.monotonic(), event.already
        resumed = f", resuming at {human_bytes(event.already)}" if event.already else ""
        self._say(f"pulling {event.name} ({human_bytes(event.total)}) from {event.source}{resumed}")
        fit = _fit(event.total)
        if fit:
            self._say(f"on this machine: {fit}")
        if self.fancy and self.progress is None:
            self.progress = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                DownloadColumn(),
                TransferSpeedColumn(),
                TimeRemainingColumn(),
                console=self.console,
                transient=False,
            )
            self.progress.start()
            self.task = self.progress.add_task(event.name, total=event.total, completed=event.already)

    def _advance(self, event: download.Progress) -> None:
        if event.done < self.start_bytes:  # kept bytes thrown away (not this file's): the rate counts from here
            self.started_at, self.start_bytes = time.monotonic(), event.done
        if self.progress is not None:
            self.progress.update(self.task, completed=event.done, total=event.total)
            return
        now = time.monotonic()
        if now - self.last_line < self.plain_every_s and event.done < event.total:
            return
        self.last_line = now
        elapsed = max(now - self.started_at, 1e-6)
        rate = max(event.done - self.start_bytes, 0) / elapsed
        percent = min(100 * event.done / event.total, 100) if event.total else 100
        eta = (event.total - event.done) / rate if rate > 0 else 0
        print(
            f"{self.name}: {percent:5.1f}% {human_bytes(event.done)}/{human_bytes(event.total)} "
            f"{human_bytes(rate)}/s eta {eta:.0f}s",
            file=sys.stderr,
            flush=True,
        )


def _fit(size: int) -> str:
    """How the model will fit this machine, said before the download (as Jan and LM Studio do)."""
    from deskseek.placement import hardware, planner

    try:
        return planner.fit_from_size(size, hardware.detect())
    except Exception:  # an estimate must never stop a download
        return ""
