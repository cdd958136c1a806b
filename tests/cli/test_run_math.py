"""`deskseek run` and R1's TeX: readable on a terminal, the model's own bytes into a pipe and in --json."""

from __future__ import annotations

import json
import os
import pty
import sys
import time

import pytest

from deskseek.cli.run_math import BOLD, TerminalMath
from tests.cli.test_run import guarded  # noqa: F401  (fixture)
from tests.conftest import REPO_ROOT
from tests.engines.test_local import r1_paths, starter_path  # noqa: F401  (session fixtures)

UNBOLD = "\x1b[22m"


def shown(text: str, *cuts: int, columns: int = 40) -> str:
    math, out, start = TerminalMath(unbold=lambda: UNBOLD, columns=lambda: columns), "", 0
    for cut in [*cuts, len(text)]:
        out += math.feed(text[start:cut])
        start = cut
    return out + math.close()


def test_inline_math_in_its_line_and_the_boxed_answer_bold():
    assert shown(r"So \(\frac{3}{8}\), and $x^2$ is $\boxed{9}$.") == f"So 3/8, and x² is {BOLD}9{UNBOLD}."


def test_display_math_centred_on_its_own_lines():
    text = "The answer:\n\\[\n\\boxed{7}\n\\]\n\nDone."
    assert shown(text, columns=21) == (f"The answer:\n"
                                       f"        ┌───┐\n"
                                       f"        │ {BOLD}7{UNBOLD} │\n"
                                       f"        └───┘\n"
                                       f"\nDone.")
    assert shown("Then \\[x = 1\\] so on.", columns=15) == "Then \n     x = 1\nso on."


def test_what_is_not_math_or_cannot_be_read_prints_as_written():
    text = ("It costs $5 and $10.\n\n```sh\necho $HOME \\(x\\)\n```\n"
            "A matrix \\(\\begin{pmatrix}1\\end{pmatrix}\\) and \\[\\xrightarrow{f}\\] and an open \\(x")
    assert shown(text) == text


def test_every_cut_prints_what_the_whole_text_prints():
    from tests.chat.texmath.test_spans import R1_ANSWER

    whole = shown(R1_ANSWER)
    assert "3/8" in whole and "∑ₖ₌₁ⁿ k = n(n + 1)/2" in whole and r"\frac" not in whole
    for cut in range(len(R1_ANSWER) + 1):
        assert shown(R1_ANSWER, cut) == whole, cut


# --- the real command, on a model made to write TeX ----------------------------------------------------

TEX_GRAMMAR = r'''
root ::= "Let me think" [a-z ]{3,20} ". So \\(x^2\\) it is." "</think>" "\n\n" answer
answer ::= "The answer is \\(\\frac{3}{8}\\), at $5 and $10.\n\\[\n\\boxed{7}\n\\]\n"
'''
ANSWER = "The answer is \\(\\frac{3}{8}\\), at $5 and $10.\n\\[\n\\boxed{7}\n\\]\n"


@pytest.fixture
def tex_run(r1_paths, tmp_path):  # noqa: F811
    grammar = tmp_path / "tex.gbnf"
    grammar.write_text(TEX_GRAMMAR)
    return ["run", "--model", str(r1_paths["new"]), "--temperature", "0", "--threads", "2", "--max-tokens", "200",
            "--grammar-file", str(grammar)]


def test_json_and_a_pipe_get_the_models_tex_byte_for_byte(guarded, tex_run):  # noqa: F811
    done = guarded(*tex_run, "--json", "Three coins?")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["content"] == ANSWER and result["reasoning"].endswith(r"So \(x^2\) it is.")
    piped = guarded(*tex_run, "--hide-thinking", "Three coins?")
    assert piped.returncode == 0, piped.stderr
    assert piped.stdout == ANSWER + "\n"  # the line end that ends every reply


def on_a_terminal(argv: list[str], columns: int = 40) -> str:
    """`deskseek ARGV` with a pseudo-terminal for its output: what the user sees, escape codes and all."""
    pid, fd = pty.fork()
    if pid == 0:
        os.chdir(REPO_ROOT)
        os.execve(sys.executable, [sys.executable, "-m", "deskseek.cli", *argv],
                  {**os.environ, "COLUMNS": str(columns), "LINES": "24"})
    seen, deadline = b"", time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
        _, status = os.waitpid(pid, 0)
    finally:
        os.close(fd)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, seen.decode(errors="replace")
    return seen.decode().replace("\r\n", "\n")


def test_a_terminal_gets_readable_math_and_raw_tex_when_asked(tex_run):
    screen = on_a_terminal([*tex_run, "Three coins?"])
    assert "So x² it is." in screen and "The answer is 3/8, at $5 and $10." in screen
    assert f"│ {BOLD}7" in screen and "┌───┐" in screen and "\\frac" not in screen and "\\boxed" not in screen
    framed = next(line for line in screen.splitlines() if "┌───┐" in line)
    assert framed.index("┌") == (40 - 5) // 2  # centred in the terminal's 40 columns
    raw = on_a_terminal([*tex_run, "--raw-tex", "Three coins?"])
    assert ANSWER.replace("\n", "\n") in raw and "3/8" not in raw
