"""The `deskseek` command: a thin face over the core.

Each subcommand parses its arguments, calls one core function and prints. Every failure a user can cause
ends as one line on stderr and the exit status of its kind (deskseek/errors.py has the table); a bug ends
the same way, with its traceback in the log. Standard output is the user's too: a reader that goes away
(`| head`) ends the command quietly, and one that cannot take the output (`> /dev/full`, `>&-`) is one line.
"""

from __future__ import annotations

import errno
import logging
import logging.handlers
import os
import sys

from deskseek import __version__, paths
from deskseek.cli import output
from deskseek.cli.flags import Parser
from deskseek.errors import INTERNAL, INTERRUPTED, PIPE_CLOSED, USAGE, DeskseekError, OutputError

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


def build_parser() -> Parser:
    from deskseek.cli import chat, history, info, models, pull, run, show, worker

    parser = Parser(
        prog="deskseek", description="Run DeepSeek-R1 and friends locally: nothing leaves this machine."
    )
    parser.add_argument("--version", action="version", version=f"deskseek {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for group in (pull, models, run, chat, history, info, show, worker):
        group.add_commands(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    if sys.stderr is None:  # started with stderr closed: print(file=None) would write errors into stdout
        sys.stderr = open(os.devnull, "w")  # noqa: SIM115 (for the life of the process)
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return USAGE
    if sys.stdout is None:  # Python's stand-in for a closed file descriptor 1 (`>&-`)
        return _fail(OutputError("standard output is closed; deskseek writes its results there"))
    output.watch()
    try:
        return _run(args)
    finally:
        output.unwatch()


def _run(args) -> int:
    _setup_logging()
    try:
        code = args.func(args)
        sys.stdout.flush()  # a full or closed stdout fails here, not in Python's shutdown
        return code
    except DeskseekError as err:
        return _fail(err)
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return INTERRUPTED
    except OSError as err:
        failed = output.failure(err)
        return _output_failed(failed) if failed else _bug(err)
    except Exception as err:  # a bug: one line for the user, the traceback for us
        return _bug(err)


def _fail(err: DeskseekError) -> int:
    log.info("error: %s", err)
    print(f"error: {err}", file=sys.stderr)
    return err.exit_code


def _bug(err: Exception) -> int:
    log.exception("unexpected error")
    print(f"error: {type(err).__name__}: {err} (details in {paths.log_file()})", file=sys.stderr)
    return INTERNAL


def _output_failed(err: OSError) -> int:
    """The reader went away (EPIPE): nothing to say, as any Unix tool. Else one line: full, or broken."""
    output.discard()
    if err.errno == errno.EPIPE:
        return PIPE_CLOSED
    return _fail(OutputError(f"cannot write to standard output: {err.strerror or err}"))


if __name__ == "__main__":
    sys.exit(main())
