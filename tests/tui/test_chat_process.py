"""`deskseek chat` as a real process in a real terminal (tmux): what a user sees, what survives kill -9, no network.

The Pilot tests in test_app.py drive the app inside pytest's process. These start `python -m deskseek.cli.main chat`
the way a user does, on a pseudo-terminal that tmux owns, type with `send-keys` and read the screen back with
`capture-pane`. That covers what Pilot cannot: argument parsing, the terminal driver, Ctrl+Q and the exit
status, the history file written by one process and read by another, and a SIGKILL in the middle of a reply.

Each test gets its own tmux server (`tmux -L <unique socket>`, no user config), killed at the end even when
the test fails, and every wait polls the screen against a deadline and, on timeout, shows the last screen.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from deskseek.chat.history import History
from tests.cli.test_run import GUARDED
from tests.conftest import REPO_ROOT
from tests.engines.test_local import r1_paths, starter_path  # noqa: F401  (session fixtures)

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")

WIDTH, HEIGHT = 100, 30
DEADLINE_S = 60.0
POLL_S = 0.05
# Variables the chat process must see: its data root (set per test by conftest's `home`), the Hub settings
# that go with it, and the guard's marker file. Everything else comes from the tmux server's environment.
FORWARDED = ("DESKSEEK_HOME", "HF_HOME", "HF_HUB_DISABLE_TELEMETRY", "HF_HUB_DOWNLOAD_TIMEOUT", "NETWORK_MARKER",
             "HF_ENDPOINT", "DESKSEEK_OTHER_APPS", "HF_HUB_OFFLINE")
THINKING = re.compile(r"Thinking… (\d+(?:\.\d+)?) s")
CONTEXT_USED = re.compile(r"ctx \d+/\d+")  # the status bar's context use, set once a reply has finished


class Terminal:
    """One tmux server with one 100x30 window running one command; the screen is read as plain text.

    The command runs as `argv; echo $? > status-file` in the pane's /bin/sh, so its exit status (128 + N
    for death by signal N) is read from that file: tmux 3.3a's own `#{pane_dead_status}` and
    `#{pane_dead_signal}` come back blank for some exits (the pane is marked dead when its terminal closes,
    and the reaped status is sometimes never attached), which would make the exit checks flaky.
    """

    def __init__(self, label: str, folder: Path) -> None:
        self.socket = f"deskseek-{label}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.status_file = folder / f"{self.socket}.status"
        self.last_screen = ""
        self.shell_pid: int | None = None
        self.socket_path: Path | None = None

    def tmux(self, *args: str, check: bool = True) -> str:
        env = {k: v for k, v in os.environ.items() if k not in ("TMUX", "TMUX_PANE", "COLUMNS", "LINES")
               and not k.startswith("TEXTUAL")}  # an outer tmux or a set COLUMNS must not leak into the app
        done = subprocess.run(["tmux", "-L", self.socket, "-f", "/dev/null", *args], env=env,
                              capture_output=True, text=True, timeout=20)
        if check and done.returncode != 0:
            raise AssertionError(f"tmux {' '.join(args[:2])} failed ({done.returncode}): {done.stderr.strip()}")
        return done.stdout

    def start(self, argv: list[str]) -> None:
        """Runs argv in the pane; remain-on-exit keeps the pane (and its last screen) after the process ends."""
        forwarded = [arg for key in FORWARDED if key in os.environ for arg in ("-e", f"{key}={os.environ[key]}")]
        command = f"{shlex.join(argv)}; echo $? > {shlex.quote(str(self.status_file))}"
        self.tmux(
            "start-server", ";", "set-option", "-g", "remain-on-exit", "on", ";",
            "set-option", "-g", "default-shell", "/bin/sh", ";",
            "new-session", "-d", "-s", "main", "-x", str(WIDTH), "-y", str(HEIGHT), "-c", str(REPO_ROOT),
            *forwarded, command,
        )
        pid, socket_path = self.tmux("display-message", "-p", "-t", "main",
                                     "#{pane_pid} #{socket_path}").strip().split(" ", 1)
        self.shell_pid, self.socket_path = int(pid), Path(socket_path)

    def deskseek_pid(self, timeout: float = 10.0) -> int:
        """The chat process: the pane shell's child whose command line names deskseek."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [pid for pid in _children(self.shell_pid) if _is_deskseek(pid)]
            if found:
                return found[0]
            time.sleep(POLL_S)
        raise AssertionError(f"no deskseek process under the pane's shell; last screen:\n{self.screen()}")

    def exit_status(self) -> int | None:
        try:
            text = self.status_file.read_text().strip()
        except FileNotFoundError:
            return None
        return int(text) if text else None

    def screen(self) -> str:
        self.last_screen = self.tmux("capture-pane", "-p", "-t", "main")
        return self.last_screen

    def transcript(self) -> str:
        """The screen with up to 200 rows of scrollback: after a crash, Textual's traceback scrolls off the top."""
        return self.tmux("capture-pane", "-p", "-S", "-200", "-t", "main", check=False).rstrip()

    def send_text(self, text: str) -> None:
        self.tmux("send-keys", "-t", "main", "-l", text)

    def send_key(self, key: str) -> None:
        self.tmux("send-keys", "-t", "main", key)

    def wait_for(self, what: str, condition, timeout: float = DEADLINE_S):
        """Polls the screen until `condition(screen)` is truthy and returns that value; on timeout, fails
        showing the last screen (or, sooner, says the process ended and with which status)."""
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            result = condition(screen)
            if result:
                return result
            status = self.exit_status()
            if status is not None:
                raise AssertionError(f"deskseek exited with status {status} while waiting for {what}; "
                                     f"its terminal:\n{self.transcript()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}; last screen:\n{screen}")
            time.sleep(POLL_S)

    def settled(self, timeout: float = 10.0) -> str:
        """The screen once two captures 0.2 s apart agree: the last chunk of a reply has been drawn."""
        deadline, previous = time.monotonic() + timeout, None
        while time.monotonic() < deadline:
            screen = self.screen()
            if screen == previous:
                return screen
            previous = screen
            time.sleep(0.2)
        return self.last_screen

    def wait_exit(self, timeout: float = 30.0) -> int:
        """The process's exit status (128 + N after signal N), once it has ended."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = self.exit_status()
            if status is not None:
                return status
            time.sleep(POLL_S)
        raise AssertionError(f"deskseek still running {timeout:.0f} s after it was asked to end; "
                             f"last screen:\n{self.screen()}")

    def close(self) -> None:
        """Kills the tmux server, then any chat process that outlived it (kill-server only hangs it up), and
        removes the server's socket file, which tmux 3.3a leaves behind."""
        survivors = [pid for pid in _children(self.shell_pid) if _is_deskseek(pid)] if self.shell_pid else []
        self.tmux("kill-server", check=False)
        if self.socket_path is not None:
            self.socket_path.unlink(missing_ok=True)
        for pid in survivors:
            if _is_deskseek(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)


@pytest.fixture
def terminal(request, tmp_path):
    """Makes terminals (each its own tmux server) and kills every one of them at the end, pass or fail."""
    made: list[Terminal] = []

    def make() -> Terminal:
        made.append(Terminal(request.node.name[5:25].replace("_", "-"), tmp_path))
        return made[-1]

    yield make
    for term in made:
        term.close()


def _is_deskseek(pid: int) -> bool:
    """Alive (a zombie's command line is empty) and running deskseek."""
    try:
        return b"deskseek" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def _children(parent: int) -> list[int]:
    """Processes whose parent is `parent`, from /proc (field 4 of stat, after the parenthesised name)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rpartition(")")[2].split()[1]) == parent:
                found.append(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            continue
    return found


# --- reading the screen --------------------------------------------------------------------------------------
# The layout (see app.tcss): a 28-column sidebar ending in "│", then the conversation, the prompt box drawn
# with "▔"/"▁" borders, the status bar, and the footer on the last row.


def _main_column(screen: str) -> list[str]:
    return [line.partition("│")[2] for line in screen.splitlines()]


def conversation(screen: str) -> list[str]:
    """The conversation pane's rows: everything above the prompt box, right of the sidebar."""
    rows = _main_column(screen)
    top = next((i for i, row in enumerate(rows) if "▔▔▔" in row), len(rows))
    return rows[:top]


def status_bar(screen: str) -> str:
    """The row under the prompt box, or "" while the layout is not drawn yet."""
    rows = _main_column(screen)
    bottom = next((i for i, row in enumerate(rows) if "▁▁▁" in row), None)
    return rows[bottom + 1].strip() if bottom is not None and bottom + 1 < len(rows) else ""


def ready(model_name: str):
    """The prompt box and the status bar are drawn, and the status names the model with no "loading"."""

    def check(screen: str) -> bool:
        status = status_bar(screen)
        return "▔▔▔" in screen and status.startswith(model_name) and "loading" not in status

    return check


def answer_after(screen: str, prompt: str) -> str:
    """The text shown below the user's turn, as one whitespace-normalised string ("" before the turn shows)."""
    rows = [row.strip() for row in conversation(screen)]
    start = next((i for i, row in enumerate(rows) if row == prompt), None)
    if start is None:
        return ""
    return " ".join(" ".join(rows[start + 1:]).split())


def thought_shown(screen: str) -> str:
    """The live thought's text: the rows under the "Thinking…" header, without the pane's left bar."""
    rows = conversation(screen)
    start = next((i for i, row in enumerate(rows) if THINKING.search(row)), None)
    if start is None:
        return ""
    return " ".join(row.strip().lstrip("█").strip() for row in rows[start + 1:])


def words(text: str) -> list[str]:
    """What survives Markdown rendering: the words, without markup, punctuation or line breaks."""
    return re.findall(r"\w+", text)


def chat_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "deskseek.cli", "chat", "--threads", "2", *args]


# --- tests ---------------------------------------------------------------------------------------------------


def test_chat_answers_on_screen_quits_with_ctrl_q_and_keeps_the_conversation(
    terminal, starter_path, home,  # noqa: F811
):
    """The whole user path in a real terminal: the app draws and loads the model, a typed prompt is answered on
    screen, Ctrl+Q ends the process with status 0, and the history file holds the same exchange, complete."""
    prompt = "What is the capital of France?"
    term = terminal()
    term.start(chat_argv("--model", str(starter_path), "--temperature", "0", "--max-tokens", "20"))
    term.wait_for("the model to load", ready(starter_path.name))

    term.send_text(prompt)
    term.send_key("Enter")
    term.wait_for("the prompt to show in the conversation",
                  lambda s: prompt in [row.strip() for row in conversation(s)])
    term.wait_for("the reply to finish (context use in the status bar)",
                  lambda s: CONTEXT_USED.search(status_bar(s)) and answer_after(s, prompt))
    screen = term.settled()
    shown = answer_after(screen, prompt)
    assert shown, f"no answer on screen:\n{screen}"

    term.send_key("C-q")
    status = term.wait_exit()
    assert status == 0, f"exit status {status}; its terminal:\n{term.transcript()}"

    with History(home / "history.sqlite3") as history:
        assert history.recovered == 0  # nothing was left streaming
        (summary,) = history.conversations()
        stored = history.conversation(summary.id)
    assert summary.title == prompt and stored.model == starter_path.name
    user, reply = stored.messages
    assert (user.role, user.content, user.state) == ("user", prompt, "complete")
    assert (reply.role, reply.state) == ("assistant", "complete")
    assert reply.finish_reason in ("stop", "length") and reply.content.strip() and reply.reasoning == ""
    assert reply.stats and 0 < reply.stats["completion_tokens"] <= 20
    assert words(shown) == words(reply.content), f"screen: {shown!r}\nstored: {reply.content!r}\n{screen}"


def _peek_reply(db_path: Path) -> tuple[str, str] | None:
    """(state, reasoning) of the newest assistant row, read straight from SQLite in read-only mode.

    Not through History: its constructor "recovers" streaming rows, which would mark the live reply
    interrupted under the running app. A WAL reader never blocks the writer.
    """
    if not db_path.exists():
        return None
    try:
        with contextlib.closing(sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=1)) as db:
            return db.execute("SELECT state, reasoning FROM messages WHERE role = 'assistant' "
                              "ORDER BY id DESC LIMIT 1").fetchone()
    except sqlite3.Error:
        return None


def test_kill_9_mid_thought_keeps_the_partial_reply_marked_interrupted(
    terminal, r1_paths, home, tmp_path,  # noqa: F811
):
    """A SIGKILL gives the app no chance to save: what survives is what the history writer had already flushed
    (at least once a second while streaming). The next open marks that row interrupted, and resuming the
    conversation shows the prompt with the "interrupted" note instead of a reply that looks alive."""
    prompt = "Think about the sea."
    grammar = tmp_path / "forever.gbnf"
    grammar.write_text("root ::= [a-z ]+\n")  # a thought that never reaches </think>
    db_path = home / "history.sqlite3"
    model = r1_paths["old"]
    term = terminal()
    term.start(chat_argv("--model", str(model), "--temperature", "0", "--max-tokens", "3000",
                         "--grammar-file", str(grammar)))
    term.wait_for("the model to load", ready(model.name))

    term.send_text(prompt)
    term.send_key("Enter")
    term.wait_for("two seconds of visible thinking",
                  lambda s: (m := THINKING.search(s)) and float(m.group(1)) >= 2.0)
    # Five words at least (the comparison below reads five): under load the first write can come with the
    # first token alone, after a prompt that took the "two seconds" above.
    flushed = term.wait_for("the streaming reply's reasoning to reach the history file", lambda s: (
        (row := _peek_reply(db_path)) and row[0] == "streaming" and len(words(row[1])) >= 5 and row[1]))
    screen_before = term.screen()
    assert THINKING.search(screen_before), f"no longer thinking before the kill:\n{screen_before}"
    shown = words(thought_shown(screen_before))

    os.kill(term.deskseek_pid(), signal.SIGKILL)
    status = term.wait_exit(timeout=10)
    assert status == 128 + signal.SIGKILL, f"expected death by SIGKILL, got exit status {status}"
    assert (_peek_reply(db_path) or ("unreadable",))[0] == "streaming"  # the dead process left it looking alive

    with History(db_path) as history:
        assert history.recovered == 1
        (summary,) = history.conversations()
        stored = history.conversation(summary.id)
    user, reply = stored.messages
    assert (user.role, user.content) == ("user", prompt)
    assert reply.role == "assistant" and reply.state == "interrupted"
    assert reply.reasoning.startswith(flushed) and reply.reasoning.strip()
    assert reply.content == "" and reply.finish_reason is None
    assert shown[:5] == words(reply.reasoning)[:5], f"on screen: {shown}\nstored: {reply.reasoning!r}"

    again = terminal()
    again.start(chat_argv("--model", str(model), "--resume"))
    again.wait_for("the model to load", ready(model.name))
    screen = again.wait_for("the resumed prompt and the interrupted note", lambda s: (
        prompt in [row.strip() for row in conversation(s)] and "interrupted" in "\n".join(conversation(s)) and s))
    assert "Ctrl+R writes the reply again" in "\n".join(conversation(screen)), screen
    again.send_key("C-q")
    status = again.wait_exit()
    assert status == 0, f"exit status {status}; its terminal:\n{again.transcript()}"
    with History(db_path) as history:  # looking at it changed nothing
        assert history.recovered == 0
        assert [m.state for m in history.conversation(summary.id).messages] == ["complete", "interrupted"]


def test_chat_never_touches_the_network(terminal, starter_path, home, tmp_path, monkeypatch):  # noqa: F811
    """`chat` promises to stay offline: under an audit hook that refuses (and records) any connect or name
    lookup, a whole session (load, one answered prompt, Ctrl+Q) runs, exits 0 and leaves no marker file."""
    marker = tmp_path / "network-attempts.txt"
    monkeypatch.setenv("NETWORK_MARKER", str(marker))
    prompt = "Say hello."
    term = terminal()
    term.start([sys.executable, "-c", GUARDED, "chat", "--threads", "2", "--model", str(starter_path),
                "--temperature", "0", "--max-tokens", "12"])
    term.wait_for("the model to load", ready(starter_path.name))
    term.send_text(prompt)
    term.send_key("Enter")
    term.wait_for("the answer", lambda s: CONTEXT_USED.search(status_bar(s)) and answer_after(s, prompt))
    term.send_key("C-q")
    status = term.wait_exit()
    assert not marker.exists(), f"network used:\n{marker.read_text()}"
    assert status == 0, f"exit status {status}; its terminal:\n{term.transcript()}"
    with History(home / "history.sqlite3") as history:
        (summary,) = history.conversations()
        assert [m.state for m in history.conversation(summary.id).messages] == ["complete", "complete"]


def test_chat_on_a_server_connects_to_it_and_nothing_else(terminal, home, tmp_path, monkeypatch):
    """`chat --server URL` under an audit hook that records every connect and name lookup and refuses all but
    the named host and port: a whole session (the server's model, one answered prompt, Ctrl+Q) runs, and
    every attempt in the record went to the server; the status line names it, the history keeps it."""
    from tests.cli.test_run_server import GUARDED_TO
    from tests.fixtures.inference_servers import InferenceServer

    marker = tmp_path / "connections.txt"
    monkeypatch.setenv("NETWORK_MARKER", str(marker))
    prompt = "What is 6 times 7?"
    with InferenceServer("llama-server") as server:
        term = terminal()
        term.start(["env", "ALLOWED_HOST=127.0.0.1", f"ALLOWED_PORT={server.port}", sys.executable, "-c", GUARDED_TO,
                    "chat", "--server", server.url])
        term.wait_for("the server's model", ready("DeepSeek-R1-Distill-Qwen-7B"))
        assert f"on {server.url}" in status_bar(term.last_screen)
        term.send_text(prompt)
        term.send_key("Enter")
        term.wait_for("the answer", lambda s: CONTEXT_USED.search(status_bar(s)) and "The answer is 42." in s)
        term.send_key("C-q")
        status = term.wait_exit()
    attempts = marker.read_text().splitlines()
    assert attempts and all(line.startswith("allowed ") for line in attempts), attempts
    assert status == 0, f"exit status {status}; its terminal:\n{term.transcript()}"
    with History(home / "history.sqlite3") as history:
        (summary,) = history.conversations()
        stored = history.conversation(summary.id)
        assert stored.server == server.url and [m.state for m in stored.messages] == ["complete", "complete"]


def test_resume_with_nothing_saved_says_so_instead_of_an_empty_chat(terminal, starter_path, home):  # noqa: F811
    """A real terminal (the app would start): `--resume` with no saved conversation is one line and exit 3."""
    term = terminal()
    term.start(chat_argv("--model", str(starter_path), "--resume"))
    term.wait_for("the exit status", lambda _screen: term.exit_status() is not None)
    assert term.exit_status() == 3
    assert "error: there is no saved conversation to resume yet; `deskseek chat` starts one" in term.transcript()
