"""Putting a text file into a prompt: `/file PATH` lines become fenced blocks headed by the file's name.

The message stored in the history holds the file's text itself, not the path: regenerate, edit and a resumed
conversation send the same words, whatever happens to the file later. Both faces use this: the chat app
expands its prompt's `/file` lines on Enter, `run --file` reads one before the first prompt.

What can go wrong is said in one line (`AttachError`): no such path, a folder, no permission, a binary
file (NUL bytes, or not UTF-8), or a file larger than the context has room for. The size check runs before
the file is read in full: tokens are estimated from bytes at BYTES_PER_TOKEN, a safe bound (English runs
near 4 bytes a token, code and other scripts nearer 3), against the model's context less what the
conversation already holds (estimated the same way) and less REPLY_ROOM kept for the answer.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

from deskseek.errors import DeskseekError, NotFound
from deskseek.units import human_bytes

BYTES_PER_TOKEN = 3
PER_MESSAGE_TOKENS = 8  # a chat template's role markers around each message
REPLY_ROOM = 1024  # tokens kept for the reply (at most a quarter of the context)
UNKNOWN_CONTEXT_BYTES = 1_000_000  # a server that does not say its context size: a file up to 1 MB
SNIFF_BYTES = 8192  # a NUL byte in the first 8 KiB: binary, said before the size (a 2 GB video is "binary")
COMMAND = re.compile(r"^/file(?:[ \t]+(.*?))?[ \t]*$")
FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")

LANGUAGES = {  # by extension (lower case), for the fence's info string: highlighting, and a hint to the model
    "py": "python", "pyi": "python", "js": "javascript", "mjs": "javascript", "ts": "typescript", "tsx": "tsx",
    "jsx": "jsx", "rs": "rust", "go": "go", "c": "c", "h": "c", "cc": "cpp", "cpp": "cpp", "hpp": "cpp",
    "cs": "csharp", "java": "java", "kt": "kotlin", "swift": "swift", "rb": "ruby", "php": "php", "lua": "lua",
    "sh": "bash", "bash": "bash", "zsh": "zsh", "fish": "fish", "ps1": "powershell", "sql": "sql", "r": "r",
    "html": "html", "htm": "html", "css": "css", "scss": "scss", "xml": "xml", "svg": "xml", "json": "json",
    "jsonl": "json", "yaml": "yaml", "yml": "yaml", "toml": "toml", "ini": "ini", "cfg": "ini", "md": "markdown",
    "markdown": "markdown", "rst": "rst", "tex": "latex", "csv": "csv", "diff": "diff", "patch": "diff",
    "dockerfile": "dockerfile", "makefile": "makefile", "txt": "text", "log": "text",
}


class AttachError(DeskseekError):
    """A file that cannot go into the prompt; one line that names it and says why."""


@dataclass(frozen=True)
class Attachment:
    name: str  # as the user wrote it (the block's heading)
    size: int  # bytes
    tokens: int  # estimated
    block: str  # the heading and the fenced text, as it goes into the message


def estimate_tokens(byte_count: int) -> int:
    return math.ceil(byte_count / BYTES_PER_TOKEN)


def context_room(n_ctx: int | None, messages: list[dict]) -> int | None:
    """Tokens a file may take in the next prompt: None when the context size is not known."""
    if not n_ctx:
        return None
    used = sum(estimate_tokens(len(m.get("content", "").encode("utf-8"))) + PER_MESSAGE_TOKENS for m in messages)
    return max(n_ctx - used - min(REPLY_ROOM, n_ctx // 4), 0)


def language_for(path: Path) -> str:
    name = path.name.lower()
    if name in LANGUAGES:  # Dockerfile, Makefile
        return LANGUAGES[name]
    return LANGUAGES.get(path.suffix.lower().lstrip("."), "")


def fenced(name: str, text: str, language: str = "") -> str:
    """`text` in a fence longer than any run of backticks inside it, so a Markdown file's own fences stay its own."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    body = text if text.endswith("\n") or not text else text + "\n"
    return f"File: {name}\n{fence}{language}\n{body}{fence}"


def read(path_text: str, *, room_tokens: int | None, cwd: Path | None = None) -> Attachment:
    """The file at `path_text` (`~` expanded, relative to `cwd`) as a fenced block; AttachError says why not."""
    name = path_text.strip()
    if not name:
        raise AttachError("/file needs a path: /file PATH")
    path = Path(os.path.expanduser(name))
    if not path.is_absolute():
        path = (cwd or Path.cwd()) / path
    try:
        if path.is_dir():
            raise AttachError(f"{name} is a folder: attach a file from it")
        handle = path.open("rb")
    except FileNotFoundError:
        raise NotFound(f"no such file: {name}") from None
    except PermissionError:
        raise AttachError(f"{name} cannot be read: permission denied") from None
    except OSError as err:
        raise AttachError(f"{name} cannot be read: {err.strerror or err}") from None
    with handle:
        size = os.fstat(handle.fileno()).st_size
        head = handle.read(SNIFF_BYTES)
        if b"\0" in head:
            raise AttachError(f"{name} is a binary file: only text files can be attached")
        limit = UNKNOWN_CONTEXT_BYTES if room_tokens is None else room_tokens * BYTES_PER_TOKEN
        if size > limit:
            raise AttachError(_too_large(name, size, room_tokens, limit))
        data = head + handle.read()
    if b"\0" in data:
        raise AttachError(f"{name} is a binary file: only text files can be attached")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise AttachError(f"{name} is not UTF-8 text (a binary file?): only text files can be attached") from None
    text = text.removeprefix("\ufeff")
    return Attachment(name, len(data), estimate_tokens(len(data)), fenced(name, text, language_for(path)))


def _too_large(name: str, size: int, room_tokens: int | None, limit: int) -> str:
    tokens = f"~{estimate_tokens(size):,} tokens"
    if room_tokens is None:
        return f"{name} is {human_bytes(size)} ({tokens}): files up to {human_bytes(limit)} can be attached"
    return (f"{name} is {human_bytes(size)} ({tokens}), more than this conversation's context has room for: "
            f"~{room_tokens:,} tokens ({human_bytes(limit)})")


def command_lines(text: str) -> list[tuple[int, str]]:
    """(line number, path) of each `/file` line of `text`, leaving out those inside a fenced block: a message
    taken back with Ctrl+E holds its files' texts, and a `/file` line in one of them is that file's text."""
    found, fence = [], None
    for index, line in enumerate(text.split("\n")):
        if fence is not None:
            closing = line.strip()
            if closing.startswith(fence) and not closing.strip(fence[0]):  # as long or longer, nothing after it
                fence = None
        elif marker := FENCE.match(line):
            fence = marker.group(1)
        elif match := COMMAND.match(line.strip()):
            found.append((index, match.group(1) or ""))
    return found


def expand(text: str, *, room_tokens: int | None, cwd: Path | None = None) -> tuple[str, list[Attachment]]:
    """Every `/file PATH` line of `text` replaced by the file's block, in place; each file counts against the
    room left by the ones before it. Returns the text unchanged, and no attachments, when it has no such line."""
    lines = text.split("\n")
    attached: list[Attachment] = []
    for index, path in command_lines(text):
        attachment = read(path, room_tokens=room_tokens, cwd=cwd)
        attached.append(attachment)
        lines[index] = attachment.block
        if room_tokens is not None:
            room_tokens = max(room_tokens - attachment.tokens - PER_MESSAGE_TOKENS, 0)
    return "\n".join(lines), attached


BLOCK = re.compile(r"^File: (?P<name>[^\n]+)\n(?P<fence>`{3,})(?P<language>[^\n`]*)\n(?P<body>.*?)\n?(?P=fence)$",
                   re.MULTILINE | re.DOTALL)  # what fenced() writes: the body holds no run of backticks as long


def shown(text: str) -> str:
    """`text` with each attached file's block as one line that names it: what the transcript shows of a
    message (the model and the history get the file's text)."""
    def note(match: re.Match) -> str:
        body, language = match.group("body"), match.group("language").strip()
        lines = body.count("\n") + 1 if body else 0
        return f"[attached {match.group('name')}: {language + ', ' if language else ''}{lines} line{'s' * (lines != 1)}]"

    return BLOCK.sub(note, text)


def only_files(text: str) -> bool:
    """The prompt is nothing but `/file` lines: no question to send with them yet."""
    lines = [line.strip() for line in text.split("\n") if line.strip()]
    return bool(lines) and len(command_lines(text)) == len(lines)
