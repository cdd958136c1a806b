"""`deskseek pull`: download and verify a model, resumable."""

from __future__ import annotations

import sys


def cmd_pull(args) -> int:
    from deskseek.cli.pull_view import PullView
    from deskseek.models import pull
    from deskseek.units import human_bytes

    try:
        with PullView() as view:
            item, fetched = pull.pull(args.model, on_event=view, insecure=args.insecure, restart=args.restart)
    except KeyboardInterrupt:
        print("\ninterrupted; run the same command again to pick up where it stopped", file=sys.stderr)
        return 130
    verb = "pulled" if fetched else "already installed:"
    print(f"{verb} {item.name} ({human_bytes(item.size)}) at {item.path}")
    return 0


def add_commands(commands) -> None:
    p = commands.add_parser("pull", help="download a model (resumable, verified)")
    p.add_argument("model", help="ALIAS[:QUANT], hf.co/OWNER/REPO[:QUANT] or OWNER/REPO/FILE.gguf")
    p.add_argument("--insecure", action="store_true",
                   help="install files the source lists no hash for, on their size alone")
    p.add_argument("--restart", action="store_true",
                   help="discard an interrupted download (and the commit it started from) and start over")
    p.set_defaults(func=cmd_pull)
