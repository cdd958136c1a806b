"""`deskseek run --file PATH`: the file's text goes into the prompt as the chat's `/file` puts it; a file that
cannot go in is one line, before the model loads when it can be."""

from __future__ import annotations

import json
import time

from tests.cli.test_run import guarded  # noqa: F401  (fixture)
from tests.engines.test_local import starter_path  # noqa: F401  (session fixture)


def test_run_file_puts_the_text_into_the_prompt(guarded, starter_path, tmp_path):  # noqa: F811
    notes = tmp_path / "notes.txt"
    notes.write_text("The harbour opens at six. The ferry leaves at seven. " * 8)
    base = ["run", "--model", str(starter_path), "--json", "--temperature", "0", "--threads", "2", "--max-tokens", "2"]
    without = guarded(*base, "When does the ferry leave?")
    with_file = guarded(*base, "--file", str(notes), "When does the ferry leave?")
    assert without.returncode == 0 and with_file.returncode == 0, with_file.stderr
    tokens = [json.loads(done.stdout)["stats"]["prompt_tokens"] for done in (without, with_file)]
    grown = tokens[1] - tokens[0]
    assert grown > 80  # 8 sentences of 11 words, the heading and the fence
    assert not guarded.marker.exists()


def test_run_file_refusals_are_one_line(guarded, starter_path, tmp_path):  # noqa: F811
    base = ["run", "--model", str(starter_path), "--threads", "2", "--max-tokens", "2"]
    started = time.monotonic()
    missing = guarded(*base, "--file", str(tmp_path / "gone.txt"), "Hi")
    assert (missing.returncode, missing.stderr) == (3, f"error: no such file: {tmp_path / 'gone.txt'}\n")
    (tmp_path / "blob.bin").write_bytes(b"\0\1\2")
    binary = guarded(*base, "--file", str(tmp_path / "blob.bin"), "Hi")
    assert binary.returncode == 1 and binary.stderr.endswith("blob.bin is a binary file: only text files can be "
                                                             "attached\n")
    assert binary.stderr.count("\n") == 1
    assert time.monotonic() - started < 60
    (tmp_path / "long.txt").write_text("word " * 2000)  # 10 KB: ~3,334 tokens, over a 1,024-token context
    large = guarded(*base, "--ctx", "1024", "--file", str(tmp_path / "long.txt"), "Hi")
    assert large.returncode == 1 and large.stderr.count("\n") == 1, large.stderr
    assert "long.txt is 10.00 KB (~3,334 tokens), more than this conversation's context has room for" in large.stderr
