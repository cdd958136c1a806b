"""`deskseek list`, `rm` and `import`: the models on this machine."""

from __future__ import annotations

import json
from pathlib import Path

from deskseek.cli import flags
from deskseek.errors import DeskseekError


def _installed_json(item) -> dict:
    return {
        "name": item.name,
        "path": str(item.path),
        "files": [str(p) for p in item.file_paths()],
        "size": item.size,
        "quant": item.quant,
        "architecture": item.architecture,
        "params": item.params,
        "params_active": item.params_active,
        "reasoning": item.reasoning,
        "source": item.source,
        "repo": item.repo,
        "revision": item.revision,
        "installed_at": item.installed_at,
        "ok": not item.problems(),
    }


def _params(count: int | None, active: int | None) -> str:
    if not count:
        return "?"
    text = f"{count / 1e9:.1f}B" if count >= 1e9 else f"{count / 1e6:.0f}M"
    if active:
        text += f" ({active / 1e9:.1f}B active)"
    return text


def cmd_list(args) -> int:
    from deskseek.models import registry, store
    from deskseek.units import human_bytes

    if args.available:
        return _list_available(args, registry.load(), {m.name for m in store.installed()})
    models = store.installed()
    if args.json:
        print(json.dumps([_installed_json(m) for m in models], indent=2))
        return 0
    if not models:
        print("no models installed; `deskseek pull starter` fetches a tiny one, `deskseek list --available` shows more")
        return 0
    from rich.table import Table

    table = Table(box=None, pad_edge=False)
    for column in ("NAME", "SIZE", "QUANT", "ARCH", "PARAMS", "THINKS", "PATH"):
        table.add_column(column, no_wrap=column != "PATH")
    for m in models:
        problems = m.problems()
        name = m.name + (" [red](damaged)[/]" if problems else "")
        table.add_row(
            name, human_bytes(m.size), m.quant or "?", m.architecture or "?",
            _params(m.params, m.params_active), "yes" if m.reasoning else "no", str(m.path),
        )
    flags.console().print(table)
    return 0


def _list_available(args, specs, installed_names) -> int:
    from deskseek.placement import hardware, planner
    from deskseek.units import human_bytes

    machine = hardware.detect()
    rows = []
    for spec in specs.values():
        quant = spec.quants[spec.default_quant]
        rows.append({
            "name": spec.alias,
            "description": spec.description,
            "default_quant": spec.default_quant,
            "quants": list(spec.quants),
            "size": quant.size,
            "params_b": spec.params,
            "params_active_b": spec.params_active,
            "architecture": spec.architecture,
            "reasoning": spec.reasoning,
            "license": spec.license,
            "installed": [q for q in spec.quants if f"{spec.alias}:{q}" in installed_names],
            "fit": planner.fit_from_size(quant.size, machine) if quant.size else None,
        })
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    from rich.table import Table

    table = Table(box=None, pad_edge=False)
    for column in ("NAME", "SIZE", "PARAMS", "THINKS", "FIT", "INSTALLED", "DESCRIPTION"):
        table.add_column(column, no_wrap=column != "DESCRIPTION")
    for row in rows:
        params = f"{row['params_b']:g}B" + (f"/{row['params_active_b']:g}B" if row["params_active_b"] else "")
        table.add_row(
            row["name"], human_bytes(row["size"]) if row["size"] else "?", params,
            "yes" if row["reasoning"] else "no", row["fit"] or "?", ", ".join(row["installed"]) or "-",
            row["description"],
        )
    flags.console().print(table)
    return 0


def cmd_rm(args) -> int:
    import shutil

    from deskseek.models import store
    from deskseek.units import human_bytes

    try:
        item = store.find(args.model)
    except DeskseekError:
        staging = store.staging_folder(args.model)
        if staging.is_dir():  # an interrupted pull the user wants gone
            shutil.rmtree(staging, ignore_errors=True)
            print(f"removed the partial download of {args.model}")
            return 0
        raise
    freed = store.remove(item)
    shutil.rmtree(store.staging_folder(item.name), ignore_errors=True)
    kept = "" if item.source != "import" else " (your imported file was left in place)"
    print(f"removed {item.name}, freed {human_bytes(freed)}{kept}")
    return 0


def cmd_import(args) -> int:
    from deskseek.errors import DeskseekError as Error
    from deskseek.models import gguf_names, store
    from deskseek.units import human_bytes

    path = Path(args.path)
    info = gguf_names.split_info(path.name)
    name = args.name or (info[0] if info else path.name.removesuffix(".gguf"))
    if store.get(name) is not None:
        raise Error(f"a model named {name!r} is already installed; choose another with --name")
    item = store.register_import(path, name)
    print(f"imported {item.name} ({human_bytes(item.size)}, {item.architecture or 'unknown architecture'}) from {item.path}")
    return 0


def add_commands(commands) -> None:
    p = commands.add_parser("list", aliases=["ls"], help="installed models (or --available ones)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--available", action="store_true", help="models deskseek knows how to pull")
    p.set_defaults(func=cmd_list)

    p = commands.add_parser("rm", help="delete an installed model (or an interrupted download)")
    p.add_argument("model")
    p.set_defaults(func=cmd_rm)

    p = commands.add_parser("import", help="register a GGUF you already have (no copy)")
    p.add_argument("path")
    p.add_argument("--name", help="name to install it under (default: the file's name)")
    p.set_defaults(func=cmd_import)
