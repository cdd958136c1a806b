"""`deskseek chat`: the Textual app. The one module outside tui/ that imports it."""

from __future__ import annotations

from deskseek.cli import flags


def cmd_chat(args) -> int:
    flags.go_offline()
    from deskseek.chat.history import History
    from deskseek.models import choice, store
    from deskseek.tui import catalog
    from deskseek.tui.app import DeskseekApp

    first_run = args.model is None and not store.installed()
    request = None if first_run else catalog.request_for(args, args.model)
    history = History(ephemeral=args.ephemeral)
    try:
        resume = None
        if args.resume == "last":
            resume = history.last_conversation_id()
        elif args.resume is not None:
            resume = history.conversation(args.resume).id
        if request is not None:
            choice.remember(request.name)
        app = DeskseekApp(request, history=history, resume=resume, flags=args)
        app.run()
    finally:
        history.close()
    return app.return_code or 0


def add_commands(commands) -> None:
    p = commands.add_parser("chat", help="the chat app (offline)")
    p.add_argument("--resume", nargs="?", const="last", type=flags.resume_target, metavar="ID", help="continue a conversation (default: the last)")
    p.add_argument("--ephemeral", action="store_true", help="write nothing to the history")
    flags.model_flags(p)
    p.set_defaults(func=cmd_chat)
