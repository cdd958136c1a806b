"""The `deskseek` command's contract with scripts: an exit status per kind of failure, help on a bare
`deskseek`, and standard output treated as the user's: a reader that leaves (`| head`) ends the command
quietly, one that cannot take the output (`> /dev/full`, `>&-`) gets one line. Real processes, real pipes."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from deskseek import errors
from deskseek.chat.history import History
from deskseek.models import store
from tests.cli.test_cli import tiny  # noqa: F401  (fixture)
from tests.conftest import REPO_ROOT

DESKSEEK = [sys.executable, "-m", "deskseek.cli"]
FULL = Path("/dev/full")
needs_dev_full = pytest.mark.skipif(not FULL.exists(), reason="no /dev/full on this system")


def deskseek(*argv: str, **kwargs) -> subprocess.CompletedProcess:
    kwargs.setdefault("stdout", subprocess.PIPE)
    return subprocess.run([*DESKSEEK, *argv], cwd=REPO_ROOT, env=os.environ.copy(), stderr=subprocess.PIPE,
                          text=True, timeout=120, **kwargs)


@pytest.fixture
def long_chat(home) -> int:
    """A stored conversation whose export (about 300 KB) is far more than a pipe holds."""
    with History() as h:
        chat = h.new_conversation("starter", title="long")
        h.add_message(chat, "user", "Count to a lot")
        reply = h.start_reply(chat, "starter")
        reply.add_answer("".join(f"line {n} of a long answer\n" for n in range(12_000)))
        reply.finish("complete", "stop", {})
    return chat


def test_no_command_prints_help_and_exits_2():
    done = deskseek()
    assert done.returncode == errors.USAGE == 2 and done.stdout == ""
    assert done.stderr.startswith("usage: deskseek") and "show" in done.stderr and "history" in done.stderr


def test_the_readme_lists_every_exit_status():
    codes = {value for name, value in vars(errors).items() if name.isupper() and isinstance(value, int)}
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Exit status", 1)[1].split("\n#", 1)[0]
    listed = {int(code) for code in re.findall(r"^\| (\d+) \|", section, re.M)}
    assert listed == codes
    assert len({errors.NotFound.exit_code, errors.NetworkError.exit_code, errors.Busy.exit_code,
                errors.DiskFull.exit_code, errors.UsageError.exit_code, errors.OutputError.exit_code,
                errors.DeskseekError.exit_code, errors.INTERNAL, errors.INTERRUPTED}) == 9


def test_not_found_network_and_busy_each_have_their_status(tiny, monkeypatch):  # noqa: F811
    assert deskseek("pull", "tinyy").returncode == errors.NOT_FOUND
    assert deskseek("history", "show", "4").returncode == errors.NOT_FOUND
    with store.lock("tiny:Q4_K_M"):
        busy = deskseek("pull", "tiny")
    assert busy.returncode == errors.BUSY and busy.stderr.startswith("error: another deskseek is already pulling")
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens there
    offline = deskseek("pull", "hf.co/acme/anything")
    assert offline.returncode == errors.NETWORK and offline.stderr.startswith("error: cannot reach ")


def closed_pipe(*argv: str) -> subprocess.CompletedProcess:
    """Run with stdout a pipe whose reader has already gone: every write fails with EPIPE."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        return deskseek(*argv, stdout=write_end)
    finally:
        os.close(write_end)


@pytest.mark.parametrize("argv", [("history", "export", "{id}"), ("history", "show", "{id}"),
                                  ("history", "list"), ("list",), ("list", "--available"), ("info", "--paths")])
def test_a_reader_that_went_away_ends_the_command_quietly(long_chat, argv):
    done = closed_pipe(*(arg.format(id=long_chat) for arg in argv))
    assert done.stderr == ""  # no "error: BrokenPipeError", no "Exception ignored" from Python's shutdown
    assert done.returncode == errors.PIPE_CLOSED


def test_head_reads_one_line_of_a_long_export(long_chat, tmp_path):
    """What a user types: the pipeline prints one line, and deskseek's stderr stays empty."""
    err = tmp_path / "stderr"
    line = subprocess.run(
        f"{shlex.quote(sys.executable)} -m deskseek.cli history export {long_chat} --format md 2>{shlex.quote(str(err))} "
        "| head -1",
        shell=True, cwd=REPO_ROOT, env=os.environ.copy(), capture_output=True, text=True, timeout=60)
    assert line.returncode == 0 and line.stdout.count("\n") == 1
    assert err.read_text() == ""


@needs_dev_full
def test_a_full_stdout_is_one_line_with_its_own_status(long_chat):
    with FULL.open("w") as full:
        done = deskseek("history", "export", str(long_chat), stdout=full)
    assert done.returncode == errors.OUTPUT
    assert done.stderr == "error: cannot write to standard output: No space left on device\n"


def test_a_closed_stdout_is_one_line_with_its_own_status(long_chat):
    done = subprocess.run(f"exec {shlex.quote(sys.executable)} -m deskseek.cli history show {long_chat} >&-", shell=True,
                          cwd=REPO_ROOT, env=os.environ.copy(), capture_output=True, text=True, timeout=60)
    assert done.returncode == errors.OUTPUT
    assert done.stderr == "error: standard output is closed; deskseek writes its results there\n"


def test_a_broken_pipe_elsewhere_is_reported_not_swallowed(tmp_path):
    """Only a write to stdout counts as the reader leaving: any other EPIPE is a bug, and says so."""
    script = tmp_path / "other_pipe.py"
    script.write_text(
        "import sys\n"
        "from deskseek.cli import main, info\n"
        "def broken(_args):\n"
        "    raise BrokenPipeError(32, 'Broken pipe')  # a child's pipe, not stdout\n"
        "info.cmd_info = broken\n"
        "sys.exit(main.main(['info', '--paths']))\n")
    read_end, write_end = os.pipe()
    try:
        done = subprocess.run([sys.executable, str(script)], cwd=REPO_ROOT, env=os.environ.copy(), stdout=write_end,
                              stderr=subprocess.PIPE, text=True, timeout=60)
    finally:
        os.close(write_end)
        os.close(read_end)
    assert done.returncode == errors.INTERNAL
    assert done.stderr.startswith("error: BrokenPipeError: [Errno 32] Broken pipe (details in ")
