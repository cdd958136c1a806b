"""`/file PATH`: real files on disk become fenced blocks, and every way a file cannot go in is one line."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from deskseek.chat import attach
from deskseek.chat.attach import AttachError
from deskseek.errors import DeskseekError, NotFound


def test_a_text_file_becomes_a_block_headed_by_its_name_in_its_language(tmp_path):
    (tmp_path / "loop.py").write_text("for i in range(3):\n    print(i)\n", encoding="utf-8")
    got = attach.read("loop.py", room_tokens=1000, cwd=tmp_path)
    assert got.block == "File: loop.py\n```python\nfor i in range(3):\n    print(i)\n```"
    assert (got.name, got.size, got.tokens) == ("loop.py", 32, 11)


def test_a_file_with_fences_of_its_own_gets_a_longer_fence_and_keeps_its_text(tmp_path):
    readme = "# Use\n\n```sh\nmake\n```\n\nand ````` five.\n바다에 가자"  # no newline at the end, Korean
    (tmp_path / "README.md").write_text(readme, encoding="utf-8")
    block = attach.read(str(tmp_path / "README.md"), room_tokens=1000).block
    header, body = block.split("\n", 1)
    assert header == f"File: {tmp_path / 'README.md'}"
    assert body == f"``````markdown\n{readme}\n``````"


def test_tilde_expands_and_the_extensionless_and_unknown_get_no_or_their_language(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "Makefile").write_text("all:\n\techo hi\n")
    (tmp_path / "notes.xyz").write_text("plain\n")
    assert attach.read("~/Makefile", room_tokens=None).block.startswith("File: ~/Makefile\n```makefile\n")
    assert attach.read("~/notes.xyz", room_tokens=None).block == "File: ~/notes.xyz\n```\nplain\n```"


def test_what_cannot_go_in_is_one_line_each(tmp_path):
    (tmp_path / "folder").mkdir()
    (tmp_path / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR" + bytes(100))
    (tmp_path / "latin1.txt").write_bytes("café".encode("latin-1"))
    (tmp_path / "late-nul.txt").write_bytes(b"a" * 9000 + b"\0")
    cases = {
        "missing.txt": "no such file: missing.txt",
        "folder": "folder is a folder: attach a file from it",
        "image.png": "image.png is a binary file: only text files can be attached",
        "late-nul.txt": "late-nul.txt is a binary file: only text files can be attached",
        "latin1.txt": "latin1.txt is not UTF-8 text (a binary file?): only text files can be attached",
        "": "/file needs a path: /file PATH",
    }
    for name, message in cases.items():
        with pytest.raises(DeskseekError) as err:
            attach.read(name, room_tokens=10_000, cwd=tmp_path)
        assert str(err.value) == message and "\n" not in str(err.value)
    with pytest.raises(NotFound):
        attach.read("missing.txt", room_tokens=1000, cwd=tmp_path)


def test_a_file_without_read_permission_says_so(tmp_path):
    """Root reads any file, so as root the check runs in a child that is `nobody`, on a file in a folder it
    may enter."""
    folder = Path(tempfile.mkdtemp(prefix="deskseek-attach-"))
    try:
        folder.chmod(0o755)
        secret = folder / "secret.txt"
        secret.write_text("x")
        secret.chmod(0)
        assert _read_as_nobody(folder) == "secret.txt cannot be read: permission denied"
    finally:
        shutil.rmtree(folder)


def _read_as_nobody(folder: Path) -> str:
    """attach.read's refusal, read by a forked child that gave up root (uid 65534) when this test runs as root."""
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: say the refusal and leave, running nothing of pytest's
        try:
            if os.geteuid() == 0:
                os.setuid(65534)
            attach.read("secret.txt", room_tokens=1000, cwd=folder)
            os.write(writer, b"read it")
        except BaseException as err:  # noqa: BLE001 (whatever it is, the parent shows it)
            os.write(writer, str(err).encode())
        finally:
            os._exit(0)
    os.close(writer)
    with os.fdopen(reader, "rb") as said:
        message = said.read().decode()
    os.waitpid(pid, 0)
    return message


def test_a_file_larger_than_the_room_says_its_size_and_the_limit(tmp_path):
    (tmp_path / "big.txt").write_text("x" * 30_001)
    with pytest.raises(AttachError) as err:
        attach.read("big.txt", room_tokens=10_000, cwd=tmp_path)
    assert str(err.value) == ("big.txt is 30.00 KB (~10,001 tokens), more than this conversation's context has "
                              "room for: ~10,000 tokens (30.00 KB)")
    assert attach.read("big.txt", room_tokens=10_001, cwd=tmp_path).tokens == 10_001  # one token more: it fits
    (tmp_path / "huge.txt").write_text("y" * 1_000_001)
    with pytest.raises(AttachError, match=r"^huge.txt is 1.00 MB \(~333,334 tokens\): files up to 1.00 MB can be"):
        attach.read("huge.txt", room_tokens=None, cwd=tmp_path)  # a server that did not say its context size


def test_the_room_is_the_context_less_the_conversation_and_the_reply():
    assert attach.context_room(None, []) is None and attach.context_room(0, []) is None
    assert attach.context_room(4096, []) == 4096 - 1024
    assert attach.context_room(1024, []) == 1024 - 256  # a small context keeps a quarter for the reply
    said = [{"role": "user", "content": "a" * 3000}, {"role": "assistant", "content": "바" * 1000}]  # 3000 bytes each
    assert attach.context_room(4096, said) == 4096 - 1024 - 2 * (1000 + attach.PER_MESSAGE_TOKENS)
    assert attach.context_room(2048, said * 3) == 0


def test_expand_replaces_each_file_line_in_place_and_counts_every_file_against_the_room(tmp_path):
    (tmp_path / "a.txt").write_text("alpha\n")
    (tmp_path / "b.rs").write_text("fn main() {}\n")
    typed = "Compare\n/file a.txt\nwith\n  /file   b.rs  \nplease"
    text, attached = attach.expand(typed, room_tokens=100, cwd=tmp_path)
    assert text == "Compare\nFile: a.txt\n```text\nalpha\n```\nwith\nFile: b.rs\n```rust\nfn main() {}\n```\nplease"
    assert [a.name for a in attached] == ["a.txt", "b.rs"]
    assert attach.expand("no files here, not even /file x", room_tokens=1, cwd=tmp_path) == (
        "no files here, not even /file x", [])
    (tmp_path / "c.txt").write_text("c" * 120)  # 40 tokens: alone it fits 49, after a.txt (2 + 8) it does not
    assert attach.expand("/file c.txt", room_tokens=49, cwd=tmp_path)[1][0].tokens == 40
    with pytest.raises(AttachError, match="c.txt is 120 B"):
        attach.expand("/file a.txt\n/file c.txt", room_tokens=49, cwd=tmp_path)
    assert attach.only_files("/file a.txt\n\n/file b.rs\n") and not attach.only_files("/file a.txt\nwhy?")
    assert not attach.only_files("")


def test_a_file_line_inside_a_fence_is_text_so_an_edited_message_sends_the_same(tmp_path):
    """Ctrl+E gives back a sent message with its files' texts; a `/file` line inside one of them (a README that
    documents /file) is that file's text, and sending the message again must not read another file."""
    (tmp_path / "usage.md").write_text("Type this:\n\n```\n/file notes.txt\n```\n\nor\n\n    /file indented\n")
    sent, _ = attach.expand("/file usage.md\nIs this clear?", room_tokens=1000, cwd=tmp_path)
    assert sent.count("/file notes.txt") == 1
    again, attached = attach.expand(sent, room_tokens=1000, cwd=tmp_path)  # no notes.txt exists: nothing read
    assert (again, attached) == (sent, [])
    assert attach.command_lines("~~~~\n/file a\n~~~\n/file b\n~~~~~\n/file c") == [(5, "c")]
    assert attach.command_lines("```\n/file never closed") == []
    assert not attach.only_files("```\n/file a\n```")


def test_the_transcript_shows_each_attached_file_as_one_line(tmp_path):
    (tmp_path / "a.py").write_text("x = 1\ny = 2\n")
    (tmp_path / "b.md").write_text("```\nfenced\n```")  # its own fence, and no newline at the end
    (tmp_path / "empty.txt").write_text("")
    sent, _ = attach.expand("Compare\n/file a.py\n/file b.md\n/file empty.txt\nplease", room_tokens=1000,
                            cwd=tmp_path)
    assert attach.shown(sent) == ("Compare\n[attached a.py: python, 2 lines]\n[attached b.md: markdown, 3 lines]\n"
                                  "[attached empty.txt: text, 0 lines]\nplease")
    assert attach.shown("File: x\nnot a fence") == "File: x\nnot a fence"
