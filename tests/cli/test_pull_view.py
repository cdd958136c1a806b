"""What `pull` prints off a terminal, fed the events of real pulls."""

from __future__ import annotations

import io
import re

from rich.console import Console

from deskseek.cli.pull_view import PullView
from deskseek.models import pull, store
from tests.models.test_pull import MB, Q4, events
from tests.models.test_pull_trust import tiny  # noqa: F401  (fixture)


def plain_lines(seen, capsys) -> list[str]:
    view = PullView(console=Console(file=io.StringIO(), force_terminal=False), plain_every_s=0)
    with view:
        for event in seen:
            view(event)
    return [line for line in capsys.readouterr().err.splitlines() if "%" in line]


def test_a_resume_that_throws_bytes_away_never_shows_over_100_percent_or_a_negative_speed(tiny, hub, capsys):  # noqa: F811
    staging = store.staging_folder("tiny:Q4_K_M")
    staging.mkdir(parents=True)
    (staging / (Q4 + ".part")).write_bytes(b"x" * (5 * MB))  # longer than the file: not its bytes
    seen, on_event = events()
    pull.pull("tiny", on_event=on_event)
    lines = plain_lines(seen, capsys)
    percents = [float(re.search(r"([\d.]+)%", line)[1]) for line in lines]
    assert lines and max(percents) <= 100.0 and percents[-1] == 100.0
    assert not any(re.search(r" -[\d.]+ ?[KMG]?B/s", line) for line in lines)
