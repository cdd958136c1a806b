"""The first-run pull in a real terminal (tmux): quitting or cancelling mid-download ends it at once.

Ctrl+Q used to restore the terminal and then sit on a blank screen while the download went on (and, on
the reporter's version, installed the model anyway); Ctrl+C there printed "interrupted" and the download
still finished. The terminal helpers are test_chat_process.py's.
"""

from __future__ import annotations

import shutil
import sys
import time

import pytest

from deskseek.models import store
from tests.models.test_pull import REPO
from tests.tui.test_app import offer_tiny_on_the_hub
from tests.tui.test_chat_process import GUARDED, chat_argv, terminal  # noqa: F401  (the terminal fixture)

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")

FILE = "Tiny-Q8_0.gguf"
CHUNK_DELAY_S = 4.0  # the test Hub waits this long between 64 KiB chunks (under the 5 s read timeout): 12 s in all


def start_pulling(term, hub) -> None:
    """Pick `tiny` on the first-run screen (the last row: models.toml's own come after the built-in ones)
    and wait until its bytes are flowing."""
    term.wait_for("the first-run screen", lambda s: "Welcome to deskseek" in s)
    term.send_key("End")
    term.send_key("Enter")
    term.wait_for("the download to start", lambda s: "pulling tiny" in s and hub.bytes_sent(REPO, FILE) > 0)


def test_ctrl_q_during_the_first_run_pull_exits_at_once_and_installs_nothing(terminal, hub, home, tmp_path):  # noqa: F811
    tiny = offer_tiny_on_the_hub(hub, home, tmp_path)
    hub.fault(REPO, FILE, "slow", delay=CHUNK_DELAY_S)
    term = terminal()
    term.start(chat_argv())
    start_pulling(term, hub)
    quit_at = time.monotonic()
    term.send_key("C-q")
    status = term.wait_exit(timeout=CHUNK_DELAY_S * 3)
    took = time.monotonic() - quit_at
    assert status == 0, term.transcript()
    assert took < CHUNK_DELAY_S / 2, f"the process took {took:.1f} s to end after Ctrl+Q"
    time.sleep(CHUNK_DELAY_S * 1.5)  # were anything of it still running, the next chunk would come now
    sent = hub.bytes_sent(REPO, FILE)
    assert 0 < sent < tiny.stat().st_size and store.installed() == []
    part = list(store.staging_folder("tiny:Q8_0").glob("*.part"))
    assert part and part[0].stat().st_size <= sent  # kept for `deskseek pull tiny` to resume


def test_esc_cancels_the_first_run_pull_and_another_pick_resumes_it(terminal, hub, home, tmp_path):  # noqa: F811
    tiny = offer_tiny_on_the_hub(hub, home, tmp_path)
    hub.fault(REPO, FILE, "slow", delay=CHUNK_DELAY_S)
    term = terminal()
    term.start(chat_argv())
    start_pulling(term, hub)
    cancel_at = time.monotonic()
    term.send_key("Escape")
    term.wait_for("the pull to say it stopped", lambda s: "download stopped" in s, timeout=CHUNK_DELAY_S / 2)
    assert time.monotonic() - cancel_at < CHUNK_DELAY_S / 2
    assert store.installed() == []
    term.send_key("Enter")  # the same pick again: it resumes, now at full speed, and the model loads
    term.wait_for("the model to load", lambda s: "tiny:Q8_0" in s and "loading" not in s and "▔▔▔" in s)
    assert [m.name for m in store.installed()] == ["tiny:Q8_0"]
    assert hub.bytes_sent(REPO, FILE) < 2 * tiny.stat().st_size
    term.send_key("C-q")
    assert term.wait_exit() == 0, term.transcript()


def test_first_run_with_hf_hub_offline_says_so_and_touches_no_network(terminal, home, tmp_path, monkeypatch):  # noqa: F811
    """The user's own HF_HUB_OFFLINE=1: the first-run screen says so in one line and offers the starter,
    under the audit hook that records any connect or name lookup: none is made."""
    marker = tmp_path / "network-attempts.txt"
    monkeypatch.setenv("NETWORK_MARKER", str(marker))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    term = terminal()
    term.start([sys.executable, "-c", GUARDED, "chat", "--threads", "2"])
    term.wait_for("the offline line", lambda s: "HF_HUB_OFFLINE is set: the models download from Hugging Face" in s)
    assert "★" in term.screen() and "instant, tiny, no reasoning" in term.screen()
    term.send_key("C-q")
    assert term.wait_exit() == 0, term.transcript()
    assert not marker.exists(), f"network used:\n{marker.read_text()}"


def test_first_run_with_a_slip_in_the_users_registry_is_one_line_not_a_traceback(terminal, home):  # noqa: F811
    """The first-run screen reads models.toml as the app mounts: a mistake there was Textual's full-screen
    traceback. It is read before the app starts now, as every other command does."""
    from tests.conftest import write_registry

    write_registry(home, '[models.mine]\nrepo = 3\n')
    term = terminal()
    term.start(chat_argv())
    assert term.wait_exit() == 1, term.transcript()
    shown = term.transcript()
    assert "Traceback" not in shown and "RegistryError" not in shown and "│" not in shown, shown
    assert f"error: {home / 'models.toml'}:2: models.mine.repo: expected str, got 3" in shown.replace("\n", "")


def test_with_only_a_damaged_model_installed_chat_says_so_rather_than_an_empty_choice(terminal, home, tmp_path):  # noqa: F811
    """A model used where it is, whose file the user has since cut short: "Choose a model" came up empty,
    a dead end. It says what is damaged and what to do, as before the first-run screen asked."""
    from deskseek.models import imports
    from tests.conftest import gguf_bytes

    mine = tmp_path / "mine.gguf"
    mine.write_bytes(gguf_bytes(1 << 20))
    imports.import_model(str(mine), "mine")
    with open(mine, "r+b") as handle:
        handle.truncate(1000)
    term = terminal()
    term.start(chat_argv())
    assert term.wait_exit() == 3, term.transcript()
    assert "error: mine is damaged" in term.transcript() and "Choose a model" not in term.transcript()
