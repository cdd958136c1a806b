"""`deskseek history`: list, read, export and delete saved chats from the shell.

A face over `deskseek.history`, registered on the main parser by `add_commands`. Reading commands never
create the history file: on a fresh install there is simply nothing to list.
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path

from deskseek import paths
from deskseek.chat.export import FORMATS
from deskseek.chat.history import History
from deskseek.cli import flags
from deskseek.errors import DeskseekError, NotFound, UsageError


def add_commands(subparsers) -> None:
    history = subparsers.add_parser("history", help="saved chats: list, show, export, rm")
    commands = history.add_subparsers(dest="history_command", metavar="ACTION", required=True)

    p = commands.add_parser("list", aliases=["ls"], help="saved conversations, most recent first")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_list)

    p = commands.add_parser("show", help="print a conversation as a Markdown transcript")
    p.add_argument("id", type=flags.conversation_id)
    p.set_defaults(func=cmd_show)

    p = commands.add_parser("export", help="write a conversation as Markdown or JSON")
    p.add_argument("id", type=flags.conversation_id)
    p.add_argument("--format", choices=FORMATS, default="md", help="md (a readable transcript, default) or json")
    p.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of standard output")
    p.add_argument("--force", action="store_true", help="replace FILE if it exists")
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


def cmd_export(args) -> int:
    text = _export(args.id, args.format)
    if not args.output:
        print(text, end="" if text.endswith("\n") else "\n")
        return 0
    target = Path(args.output)
    if target.exists() and not args.force:
        raise UsageError(f"{target} already exists; --force replaces it")
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:  # whole or not at all: a full disk must not leave half a transcript where the file was
        tmp.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
        os.replace(tmp, target)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise DeskseekError(f"cannot write {args.output}: {err.strerror or err}") from None
    print(f"exported conversation {args.id} to {args.output}")
    return 0


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


def _local(stamp: str) -> str:
    return datetime.fromisoformat(stamp).astimezone().strftime("%Y-%m-%d %H:%M")
