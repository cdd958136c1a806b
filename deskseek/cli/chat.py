"""`deskseek chat`: the Textual app. The one module outside tui/ that imports it."""

from __future__ import annotations

import os
import sys

from deskseek.cli import flags
from deskseek.errors import DeskseekError, NotFound, UsageError


def check_terminal() -> None:
    """The app reads keys from stdin and draws on stderr: without a terminal it would wait forever for keys
    that never come, drawing escape codes into a file. Said at once instead, before anything is loaded."""
    streams = (("standard input", sys.stdin), ("standard output", sys.stdout), ("standard error", sys.stderr))
    missing = [name for name, stream in streams if stream is None or not stream.isatty()]
    if missing:
        named = missing[0] if len(missing) == 1 else f"{', '.join(missing[:-1])} and {missing[-1]}"
        raise DeskseekError(f"deskseek chat needs a terminal, and its {named} {'is' if len(missing) == 1 else 'are'} "
                            "not one; for pipes and scripts use `deskseek run`")


def cmd_chat(args) -> int:
    if args.ephemeral and args.resume is not None:
        raise UsageError("--ephemeral neither reads nor saves the chat history, so it cannot --resume a saved "
                            "conversation; drop --ephemeral to continue it (it is saved as it goes on)")
    check_terminal()
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on"):  # the user's, before ours
        args.hub_offline = "HF_HUB_OFFLINE is set"
    flags.go_offline()
    from deskseek.chat.history import History
    from deskseek.engines import remote_target
    from deskseek.models import choice, registry, store
    from deskseek.tui import catalog
    from deskseek.tui.app import DeskseekApp

    server = remote_target.target(args, args.model)
    if server is not None:  # on a server: from here on as `--server URL|NAME -m MODEL`, its models to pick from
        args.server, args.model = args.server or server.name or server.url, server.model
        asks = args.model is None and len(remote_target.listing(server).models) > 1
    else:
        # No model named and none to default to (nothing installed, or several and none used last): the app
        # asks, from the intact ones; with none intact, loading the default says what is damaged and what to do.
        installed = store.installed()
        intact = any(not item.problems() for item in installed)
        asks = args.model is None and (not installed or (intact and not choice.has_default()))
        if asks and not installed:
            registry.load()  # the first run lists it: a slip in the user's models.toml is one line, not a traceback
    request = None if asks else catalog.request_for(args, args.model)
    history = History(ephemeral=args.ephemeral)
    try:
        resume = None
        if args.resume == "last":
            resume = history.last_conversation_id()
            if resume is None:  # said, rather than a silent empty chat the user did not ask for
                raise NotFound("there is no saved conversation to resume yet; `deskseek chat` starts one")
        elif args.resume is not None:
            resume = history.conversation(args.resume).id
        if request is not None and request.server is None:
            choice.remember(request.name)
        app = DeskseekApp(request, history=history, resume=resume, flags=args)
        if getattr(args, "rpc", None):
            _put_terminal_back_on_a_lost_worker()
        app.run()
    finally:
        history.close()
    return app.return_code or 0


# What Textual's Linux driver turns on (mouse modes, focus events, bracketed paste, in-band resize, the kitty
# keyboard protocol, the alternate screen, a hidden cursor), turned off in the order it undoes them on exit.
_LEAVE_APP_MODE = ("\x1b[?1000l\x1b[?1003l\x1b[?1015l\x1b[?1006l\x1b[?1016l\x1b[?1004l\x1b[?2004l\x1b[?2048l"
                   "\x1b[?7h\x1b[<u\x1b[?1049l\x1b[?25h")


def _put_terminal_back_on_a_lost_worker() -> None:
    """A worker lost while a model loads ends the process from llama.cpp's thread (llama/rpc.py): without this the
    app's terminal modes would outlive it, and the error line would land on a dead screen."""
    try:
        import termios

        fd = sys.stdin.fileno()
        saved = termios.tcgetattr(fd)
    except (ImportError, OSError, ValueError):
        return
    from deskseek.llama import rpc

    def restore() -> None:
        sys.__stderr__.write(_LEAVE_APP_MODE)
        sys.__stderr__.flush()
        termios.tcsetattr(fd, termios.TCSANOW, saved)

    rpc.before_fatal_exit(restore)


def add_commands(commands) -> None:
    p = commands.add_parser("chat", help="the chat app (offline, unless --server)")
    p.add_argument("--resume", nargs="?", const="last", type=flags.resume_target, metavar="ID", help="continue a conversation (default: the last)")
    p.add_argument("--ephemeral", action="store_true", help="write nothing to the history")
    p.add_argument("--raw-tex", action="store_true",
                   help="show formulas as the model wrote them (LaTeX), not as Unicode (Ctrl+L switches)")
    flags.model_flags(p)
    p.set_defaults(func=cmd_chat)
