"""`deskseek run` as real processes: R1 output split in --json, stdin, Ctrl+C, and no network, ever."""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time

import pytest

from deskseek.errors import FAILED, NOT_FOUND, OUTPUT
from tests.conftest import REPO_ROOT
from tests.engines.test_local import R1_GRAMMAR, r1_paths, starter_path  # noqa: F401  (session fixtures)
from tests.fixtures import gguf_writers

# Runs deskseek with an audit hook that fails loudly on any attempt to open a network connection or resolve
# a name, and records it in a file in case some layer swallows the exception.
GUARDED = """
import os, sys
marker = os.environ["NETWORK_MARKER"]
def refuse(event, args):
    if event in ("socket.connect", "socket.getaddrinfo", "socket.gethostbyname", "socket.gethostbyaddr"):
        with open(marker, "a") as log:
            log.write(f"{event} {args!r}\\n")
        raise PermissionError(f"network used by an offline command: {event}")
sys.addaudithook(refuse)
from deskseek.cli.main import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.fixture
def guarded(tmp_path):
    marker = tmp_path / "network-attempts.txt"

    def launch(*argv: str, stdin: str | None = None, **kwargs) -> subprocess.CompletedProcess:
        env = {**os.environ, "NETWORK_MARKER": str(marker)}
        return subprocess.run(
            [sys.executable, "-c", GUARDED, *argv], cwd=REPO_ROOT, env=env, input=stdin,
            capture_output=True, text=True, timeout=120, **kwargs,
        )

    launch.marker = marker
    return launch


def test_run_json_splits_r1_reasoning_from_the_answer_offline(guarded, r1_paths, tmp_path):  # noqa: F811
    grammar = tmp_path / "r1.gbnf"
    grammar.write_text(R1_GRAMMAR)
    done = guarded("run", "--model", str(r1_paths["old"]), "--json", "--temperature", "0", "--threads", "2",
                   "--grammar-file", str(grammar), "--max-tokens", "80", "What is 6 times 7?")
    assert done.returncode == 0, done.stderr
    assert not guarded.marker.exists()
    assert done.stderr == ""  # llama.cpp's log went to the log file, not the terminal
    result = json.loads(done.stdout)
    assert set(result) == {"model", "server", "reasoning", "content", "finish_reason", "thought_closed", "notices",
                           "stats"}
    assert result["server"] is None  # the model ran here
    assert result["reasoning"].startswith("Let me think") and result["content"].startswith("The answer is ")
    assert result["finish_reason"] == "stop" and result["thought_closed"] is True
    assert set(result["stats"]) == {"prompt_tokens", "completion_tokens", "reasoning_tokens", "ttft_s",
                                    "prompt_tok_s", "gen_tok_s", "think_lang_steered", "speculative"}
    assert set(result["stats"]["speculative"]) == {"drafted", "accepted"}
    assert 0 < result["stats"]["reasoning_tokens"] < result["stats"]["completion_tokens"]


def test_the_guard_does_catch_network_use(guarded, home):
    done = guarded("pull", "hf.co/acme/anything")
    assert done.returncode != 0 and guarded.marker.exists()


def test_text_output_shows_thinking_then_answer(guarded, r1_paths, tmp_path):  # noqa: F811
    grammar = tmp_path / "r1.gbnf"
    grammar.write_text(R1_GRAMMAR)
    args = ["run", "--model", str(r1_paths["new"]), "--temperature", "0", "--grammar-file", str(grammar), "6*7?"]
    shown = guarded(*args)
    assert shown.returncode == 0, shown.stderr
    heading, rest = shown.stdout.split("\n", 1)
    assert heading == "Thinking…" and "\x1b[" not in shown.stdout  # no colour codes into a pipe
    reasoning, answer = rest.split("\n\nThe answer is ")
    assert reasoning.startswith("Let me think")
    hidden = guarded(*args[:1], "--hide-thinking", *args[1:])
    assert hidden.stdout.startswith("The answer is ") and "Let me think" not in hidden.stdout


def test_prompt_from_stdin_and_last_model_remembered(guarded, starter_path):  # noqa: F811
    first = guarded("import", str(starter_path), "--name", "smol")
    assert first.returncode == 0, first.stderr
    done = guarded("run", "--model", "smol", "--temperature", "0", "--max-tokens", "8", "-", stdin="Say hello.")
    assert done.returncode == 0 and done.stdout.strip()
    again = guarded("run", "--json", "--max-tokens", "4", stdin="Hi")  # no --model: the last one used
    assert json.loads(again.stdout)["model"] == "smol"
    assert not guarded.marker.exists()


def test_run_without_any_model_says_how_to_get_one(guarded):
    done = guarded("run", "hello")
    assert done.returncode == NOT_FOUND
    assert done.stderr == ("error: no model installed; `deskseek pull` fetches the one recommended for this machine, "
                           "`deskseek pull starter` a tiny one\n")


def test_run_with_a_bad_model_file_is_one_line(guarded, tmp_path):
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"definitely not a model")
    done = guarded("run", "--model", str(bad), "hello")
    assert done.returncode == 1 and done.stderr == f"error: {bad}: not a GGUF file\n"


def test_ctrl_c_stops_generation_and_keeps_the_text(starter_path, tmp_path):  # noqa: F811
    process = subprocess.Popen(
        [sys.executable, "-m", "deskseek.cli", "run", "--model", str(starter_path), "--temperature", "0",
         "--max-tokens", "3000", "--ctx", "4096", "Count from 1 to 2000, separated by commas."],
        cwd=REPO_ROOT, env=os.environ.copy(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    first = process.stdout.read(20)  # generation has begun
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130
    assert err.decode().strip().endswith("(stopped)") and "Traceback" not in err.decode()
    assert len(first + out) > 20


def test_run_on_a_terminal_without_prompt_is_a_conversation(starter_path, home):  # noqa: F811
    """A real pseudo-terminal: the banner, two turns answered, then Ctrl+D ends it cleanly."""
    import pty

    pid, fd = pty.fork()
    if pid == 0:  # the child: deskseek on the terminal
        os.chdir(REPO_ROOT)
        os.execv(sys.executable, [sys.executable, "-m", "deskseek.cli", "run", "--model", str(starter_path),
                                  "--temperature", "0", "--max-tokens", "12", "--threads", "2"])

    def read_until(marker: bytes, timeout: float = 60) -> bytes:
        seen, deadline = b"", time.monotonic() + timeout
        while marker not in seen and time.monotonic() < deadline:
            try:
                seen += os.read(fd, 4096)
            except OSError:
                break
        return seen

    try:
        banner = read_until(b">>> ")
        assert b"Ctrl+D or /bye quits" in banner
        assert re.search(rb"loading \S+ \(98\.36 MB\) 100%", banner), banner  # the load said what it was doing
        os.write(fd, b"My name is Ada.\n")
        first = read_until(b">>> ")
        os.write(fd, b"What is my name?\n")
        second = read_until(b">>> ")
        os.write(fd, b"\x04")  # Ctrl+D
        _, status = os.waitpid(pid, 0)
    finally:
        os.close(fd)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    assert len(first.split(b"My name is Ada.")[-1].strip()) > 3
    assert len(second.split(b"What is my name?")[-1].strip()) > 3


def test_ctrl_c_stops_a_chat_template_that_never_ends(starter_path, tmp_path, home):  # noqa: F811
    """A GGUF whose template loops for ever: `run` hung, deaf to Ctrl+C. Now the interrupt reaches the render."""
    from tests.chat.test_session import LOOPING_TEMPLATE

    looping = gguf_writers.with_metadata(starter_path, tmp_path / "loop.gguf", chat_template=LOOPING_TEMPLATE)
    process = subprocess.Popen(
        [sys.executable, "-m", "deskseek.cli", "run", "--model", str(looping), "--threads", "2", "hello"],
        cwd=REPO_ROOT, env=os.environ.copy(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    log = home / "logs" / "deskseek.log"
    deadline = time.monotonic() + 60  # loaded (however slow this machine), then a second into the template's loops
    while "loaded " not in (log.read_text() if log.exists() else "") and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(1)
    assert process.poll() is None
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=10)
    assert process.returncode == 130 and err.strip().endswith("(stopped)") and "Traceback" not in err, err


def test_run_json_exits_1_when_the_thought_never_closed(guarded, r1_paths):  # noqa: F811
    """The JSON is still printed (it is what the model wrote), but a script must see that there is no answer."""
    done = guarded("run", "--model", str(r1_paths["old"]), "--json", "--temp", "0", "-t", "2", "-n", "3", "6*7?")
    assert done.returncode == FAILED, done.stderr
    result = json.loads(done.stdout)
    assert result["thought_closed"] is False and result["content"] == "" and result["finish_reason"] == "length"
    assert result["reasoning"] and result["stats"]["completion_tokens"] == 3
    text = guarded("run", "--model", str(r1_paths["old"]), "--temp", "0", "-t", "2", "-n", "3", "6*7?")
    assert text.returncode == FAILED and "never finished thinking" in text.stderr and "--max-tokens" in text.stderr
    # Ended inside the thought by a stop (here a --stop text on its first word): more tokens would not help.
    first = result["reasoning"].split()[0]
    stopped = guarded("run", "--model", str(r1_paths["old"]), "--temp", "0", "-t", "2", "-n", "3", "--stop", first,
                      "6*7?")
    assert stopped.returncode == FAILED and "ended its reply inside its thought" in stopped.stderr
    assert "--max-tokens" not in stopped.stderr, stopped.stderr


def test_llama_cpp_flags_and_a_stop_text_end_to_end(guarded, starter_path):  # noqa: F811
    args = ["run", "-m", str(starter_path), "--temp", "0", "-c", "512", "-t", "2", "-ngl", "0", "-n", "24",
            "-ctk", "q8_0", "-ctv", "q8_0", "--json", "What is the capital of France?"]
    whole = json.loads(guarded(*args).stdout)
    stop = whole["content"][4:10]
    done = guarded(*args, "--stop", stop)
    assert done.returncode == 0, done.stderr
    cut = json.loads(done.stdout)
    assert cut["content"] == whole["content"][: whole["content"].index(stop)] and cut["finish_reason"] == "stop"
    assert not guarded.marker.exists()


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full on this system")
def test_run_into_a_full_stdout_is_one_line(starter_path):  # noqa: F811
    with open("/dev/full", "w") as full:
        done = subprocess.run([sys.executable, "-m", "deskseek.cli", "run", "-m", str(starter_path), "--temp", "0",
                               "-t", "2", "-n", "8", "2+2"], cwd=REPO_ROOT, stdout=full, stderr=subprocess.PIPE,
                              text=True, timeout=120)
    assert done.returncode == OUTPUT
    assert done.stderr == "error: cannot write to standard output: No space left on device\n"


def test_run_with_stdout_closed_is_one_line(starter_path):  # noqa: F811
    done = subprocess.run(f"exec {shlex.quote(sys.executable)} -m deskseek.cli run -m {shlex.quote(str(starter_path))} "
                          "-n 4 2+2 >&-", shell=True,
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == OUTPUT
    assert done.stderr == "error: standard output is closed; deskseek writes its results there\n"


def test_prompt_bytes_that_are_not_utf8_are_one_line_naming_where(starter_path, home):  # noqa: F811
    """`printf 'Caf\\xe9?' | deskseek run`: a real pipe of Latin-1 bytes, and the same bytes as an argument."""
    base = [sys.executable, "-m", "deskseek.cli", "run", "-m", str(starter_path), "-n", "4", "-t", "2"]
    piped = subprocess.run(base, input=b"Caf\xe9?", capture_output=True, cwd=REPO_ROOT, timeout=120)
    err = piped.stderr.decode()
    assert piped.returncode == 2 and err == (
        "error: standard input is not UTF-8 (byte 0xe9 at offset 3); convert it first, e.g. `iconv -f latin1 -t "
        "utf-8`\n")
    argv = subprocess.run([*base, b"Caf\xe9?"], capture_output=True, cwd=REPO_ROOT, timeout=120)
    assert argv.returncode == 2 and argv.stderr.decode() == "error: the prompt is not valid UTF-8 (at character 3)\n"
    bom = subprocess.run([*base, "--json"], input="\ufeffSay hi.".encode(), capture_output=True, cwd=REPO_ROOT,
                         timeout=120)
    assert bom.returncode == 0, bom.stderr  # UTF-8 with a byte-order mark (Windows editors write one) is fine


def test_a_6000_token_thought_gets_its_answer_with_the_default_context(guarded, tmp_path):
    """The old default (4,096 tokens for every model) ended such a reply inside its thought, with no answer.

    A tiny R1-templated model trained for 16k thinks (random weights, greedy) until --think-budget closes the
    thought at 6,000 tokens; then it answers. With the default context it gets there; at -c 4096 it cannot.
    """
    from tests.fixtures import chat_templates

    tiny = gguf_writers.tiny_llama(tmp_path / "tiny.gguf", chat_template=chat_templates.R1_TEMPLATE_OLD)
    model = gguf_writers.with_metadata(tiny, tmp_path / "r1-16k.gguf", set_kv={"llama.context_length": 16384})
    # --think-lang any: random weights write random bytes, which the thought guard would steer, and close the
    # thought for once they fight it long enough; this test is about the context.
    args = ["run", "--model", str(model), "--json", "--temp", "0", "-t", "2", "--think-budget", "6000", "-n", "6050",
            "--think-lang", "any"]
    done = guarded(*args, "6*7?")
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout)
    assert result["thought_closed"] and result["content"] and result["stats"]["reasoning_tokens"] == 6000
    old = guarded(*args, "-c", "4096", "6*7?")
    assert old.returncode == FAILED and json.loads(old.stdout)["thought_closed"] is False
    assert "the context (4096 tokens) is full; the reply was cut short: `-c 8192` gives it room" in old.stdout


def test_run_keeps_the_thought_in_the_prompts_scripts_and_says_how_often_it_steered(guarded, tmp_path):
    """A tiny R1 model whose greedy thought prefers Han (tests/fixtures/tiny_thinker.py): by default an English
    prompt's thought has none, --think-lang any lets it through, and the answer is the same."""
    from tests.fixtures.tiny_thinker import ANSWER, THOUGHTS, tiny_thinker

    model = tiny_thinker(tmp_path / "thinker.gguf")
    args = ["run", "--model", str(model), "--json", "--temp", "0", "-t", "1", "What is 2+2?"]
    guarded_reply, free = (json.loads(guarded(*args, *extra).stdout) for extra in ([], ["--think-lang", "any"]))
    assert guarded_reply["reasoning"] == THOUGHTS["Latin"] and guarded_reply["stats"]["think_lang_steered"] == 3
    assert free["reasoning"] == THOUGHTS["any"] and free["stats"]["think_lang_steered"] == 0
    assert guarded_reply["content"] == free["content"] == ANSWER
    bad = guarded(*args, "--think-lang", "english")
    assert bad.returncode == 2 and "--think-lang" in bad.stderr and "auto" in bad.stderr


def test_run_with_a_draft_model_and_with_speculation_off(guarded, starter_path, tmp_path):  # noqa: F811
    """The same text with --speculate off, the default, and a draft model; one of another vocabulary is refused in
    one note, and the reply goes on without it."""
    from tests.fixtures.tiny_thinker import tiny_thinker

    prompt = "Repeat exactly: one two three four five six seven eight nine ten, one two three four five six."
    args = ["run", "--model", str(starter_path), "--json", "--temp", "0", "-t", "2", "-n", "40", "-c", "1024"]
    off, auto, drafted = (json.loads(guarded(*args, *extra, prompt).stdout)
                          for extra in (["--speculate", "off"], [], ["--draft", str(starter_path)]))
    assert off["content"] == auto["content"] == drafted["content"] and off["content"]
    assert off["stats"]["speculative"] == {"drafted": 0, "accepted": 0}
    for result in (auto, drafted):
        assert 0 <= result["stats"]["speculative"]["accepted"] <= result["stats"]["speculative"]["drafted"]
    other = tiny_thinker(tmp_path / "thinker.gguf")
    refused = guarded(*args, "--draft", str(other), prompt)
    assert refused.returncode == 0, refused.stderr
    result = json.loads(refused.stdout)
    assert result["content"] == off["content"]
    assert result["notices"] == [f"thinker.gguf cannot draft for {starter_path.name}: its vocabulary has 276 "
                                 "tokens and the model's 49,152, so its tokens would mean other text; running "
                                 "without it"]
