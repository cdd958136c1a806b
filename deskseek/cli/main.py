"""The `deskseek` command: a thin face over the core.

Each subcommand parses its arguments, calls one core function and prints. Every failure a user can cause
ends as one line on stderr and a non-zero exit; a bug ends the same way, with its traceback in the log.
"""

from __future__ import annotations

import argparse
import logging
import logging.handlers
import sys

from deskseek import __version__, paths
from deskseek.errors import DeskseekError

log = logging.getLogger("deskseek")


def _setup_logging() -> None:
    """Log to a file under the data root, never to the terminal (a TUI owns the terminal)."""
    try:
        paths.ensure(paths.logs_dir())
        handler = logging.handlers.RotatingFileHandler(
            paths.log_file(), maxBytes=5_000_000, backupCount=2, encoding="utf-8"
        )
    except OSError:
        return
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.raiseExceptions = False  # a full disk must not print a traceback per log line over the user's output
    root = logging.getLogger("deskseek")
    root.addHandler(handler)
    root.setLevel(logging.INFO)


def build_parser() -> argparse.ArgumentParser:
    from deskseek.cli import chat, history, info, models, pull, run

    parser = argparse.ArgumentParser(
        prog="deskseek", description="Run DeepSeek-R1 and friends locally: nothing leaves this machine."
    )
    parser.add_argument("--version", action="version", version=f"deskseek {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for group in (pull, models, run, chat, history, info):
        group.add_commands(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    _setup_logging()
    try:
        return args.func(args)
    except DeskseekError as err:
        log.info("error: %s", err)
        print(f"error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    except Exception as err:  # a bug: one line for the user, the traceback for us
        log.exception("unexpected error")
        print(f"error: {type(err).__name__}: {err} (details in {paths.log_file()})", file=sys.stderr)
        return 70


if __name__ == "__main__":
    sys.exit(main())
