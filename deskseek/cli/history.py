"""`deskseek history`: list, search, read, export and delete saved chats from the shell.

A face over `deskseek.history`, registered on the main parser by `add_commands`. Reading commands never
create the history file: on a fresh install there is simply nothing to list.
"""

from __future__ import annotations

import argparse
import json
import os
import unicodedata
from datetime import datetime
from pathlib import Path

from deskseek import paths
from deskseek.chat.export import FORMATS
from deskseek.chat.history import History
from deskseek.cli import flags
from deskseek.errors import DeskseekError, NotFound, UsageError

TITLE_COLUMN = 30  # a search hit's title is cut to this many characters
SLUG_CHARS = 40  # the title's part of an exported file's name


def add_commands(subparsers) -> None:
    history = subparsers.add_parser("history", help="saved chats: list, search, show, export, rm")
    commands = history.add_subparsers(dest="history_command", metavar="ACTION", required=True)

    p = commands.add_parser("list", aliases=["ls"], help="saved conversations, most recent first")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_list)

    p = commands.add_parser("search", help="find text in every prompt, answer and thought, newest first")
    p.add_argument("text", help="words to find (each one, anywhere in a line, in any case; taken literally)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--limit", type=_positive, default=20, metavar="N", help="at most N hits (default 20)")
    p.set_defaults(func=cmd_search)

    p = commands.add_parser("show", help="print a conversation as a Markdown transcript")
    p.add_argument("id", type=flags.conversation_id)
    p.set_defaults(func=cmd_show)

    p = commands.add_parser("export", help="write a conversation (or --all of them) as Markdown or JSON")
    p.add_argument("id", type=flags.conversation_id, nargs="?")
    p.add_argument("--all", metavar="DIR", help="every conversation into DIR, one file each (ID-title.md)")
    p.add_argument("--format", choices=FORMATS, default="md", help="md (a readable transcript, default) or json")
    p.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of standard output")
    p.add_argument("--force", action="store_true", help="replace files that exist")
    p.set_defaults(func=cmd_export)

    p = commands.add_parser("rm", help="delete a conversation and all its messages")
    p.add_argument("id", type=flags.conversation_id)
    p.set_defaults(func=cmd_rm)


def cmd_list(args) -> int:
    history = _open()
    if history is None:
        rows = []
    else:
        with history:
            rows = history.conversations()
    if args.json:
        print(json.dumps([{
            "id": c.id, "title": c.title, "model": c.model, "created_at": c.created_at,
            "updated_at": c.updated_at, "messages": c.message_count,
        } for c in rows], ensure_ascii=False, indent=2))
        return 0
    if not rows:
        print("no saved conversations yet; `deskseek chat` starts one")
        return 0
    from rich.markup import escape
    from rich.table import Table

    table = Table(box=None, pad_edge=False)
    for column in ("ID", "UPDATED", "MODEL", "MESSAGES", "TITLE"):
        numeric = column in ("ID", "MESSAGES")
        table.add_column(column, no_wrap=column != "TITLE", justify="right" if numeric else "left")
    for c in rows:
        table.add_row(str(c.id), _local(c.updated_at), escape(c.model), str(c.message_count),
                      escape(c.title or "(untitled)"))
    flags.console().print(table)
    return 0


def cmd_show(args) -> int:
    print(_export(args.id, "md"), end="")
    return 0


def cmd_search(args) -> int:
    history = _open()
    if history is None:
        hits = []
    else:
        with history:
            hits = history.search(args.text, args.limit)
    if args.json:
        print(json.dumps([hit.as_json() for hit in hits], ensure_ascii=False, indent=2))
        return 0
    if not hits:
        print(f"nothing found for {args.text!r}")
        return 0
    console = flags.console()
    for hit in hits:
        title = hit.title or "(untitled)"
        title = title if len(title) <= TITLE_COLUMN else title[: TITLE_COLUMN - 1] + "…"
        head = f"{hit.conversation_id:>4}  {_local(hit.updated_at)}  {hit.role:<9}  {title} │ "
        if console.is_terminal:  # the match in reverse video; off a terminal, between [ and ]
            from rich.text import Text

            line = Text(head + hit.snippet)
            for start, end in hit.spans:
                line.stylize("bold reverse", len(head) + start, len(head) + end)
            console.print(line, no_wrap=True, overflow="ellipsis", crop=True)  # one line per hit
        else:
            print(head + hit.marked("[", "]"))
    return 0


def cmd_export(args) -> int:
    if args.all is not None:
        if args.id is not None or args.output:
            raise UsageError("--all DIR exports every conversation: give it without an ID or --output")
        return _export_all(Path(args.all), args.format, args.force)
    if args.id is None:
        raise UsageError("give the ID of a conversation to export (`deskseek history list`), or --all DIR")
    text = _export(args.id, args.format)
    if not args.output:
        print(text, end="" if text.endswith("\n") else "\n")
        return 0
    target = Path(args.output)
    if target.exists() and not args.force:
        raise UsageError(f"{target} already exists; --force replaces it")
    _write(target, text)
    print(f"exported conversation {args.id} to {args.output}")
    return 0


def _export_all(folder: Path, fmt: str, force: bool) -> int:
    """Every file's name is checked before any is written: a refusal leaves the folder as it was."""
    history = _open()
    summaries = [] if history is None else history.conversations()
    if not summaries:
        print("no saved conversations to export")
        return 0
    try:
        targets = {c.id: folder / f"{c.id:06d}-{slug(c.title)}.{fmt}" for c in summaries}
        existing = sorted(str(target) for target in targets.values() if target.exists())
        if existing and not force:
            more = f" and {len(existing) - 1} more" if len(existing) > 1 else ""
            raise UsageError(f"{existing[0]}{more} already exist; --force replaces them")
        if folder.exists() and not folder.is_dir():
            raise UsageError(f"{folder} is a file, not a folder")
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise DeskseekError(f"cannot create {folder}: {err.strerror or err}") from None
        for conversation_id, target in targets.items():
            _write(target, history.export(conversation_id, fmt))
    finally:
        history.close()
    print(f"exported {len(targets)} conversation{'s' if len(targets) != 1 else ''} to {folder}")
    return 0


def slug(title: str | None) -> str:
    """A title as part of a file name: letters and digits of any script, the rest one "-", at most SLUG_CHARS."""
    text = unicodedata.normalize("NFC", title or "")
    words = "".join(ch.lower() if ch.isalnum() else " " for ch in text).split()
    return "-".join(words)[:SLUG_CHARS].strip("-") or "untitled"


def _write(target: Path, text: str) -> None:
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:  # whole or not at all: a full disk must not leave half a transcript where the file was
        tmp.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
        os.replace(tmp, target)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise DeskseekError(f"cannot write {target}: {err.strerror or err}") from None


def cmd_rm(args) -> int:
    with _open_or_raise(args.id) as history:
        title = history.conversation(args.id).title
        history.delete(args.id)
    print(f"deleted conversation {args.id}" + (f" ({title})" if title else ""))
    return 0


def _open() -> History | None:
    """None when no chat was ever saved: a reading command must not create the file just to find it empty."""
    return History() if paths.history_db().exists() else None


def _open_or_raise(conversation_id: int) -> History:
    history = _open()
    if history is None:
        raise NotFound(f"no conversation with id {conversation_id} (no chats have been saved yet)")
    return history


def _export(conversation_id: int, fmt: str) -> str:
    with _open_or_raise(conversation_id) as history:
        return history.export(conversation_id, fmt)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of 1 or more, not {text!r}")
    return value


def _local(stamp: str) -> str:
    return datetime.fromisoformat(stamp).astimezone().strftime("%Y-%m-%d %H:%M")
