"""`deskseek list`, `rm` and `import`: the models on this machine."""

from __future__ import annotations

import json
import sys

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
        "origin": item.origin,
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
    if args.found:
        return _list_found(args)
    models = store.installed()
    if args.json:
        print(json.dumps([_installed_json(m) for m in models], indent=2))
        return 0
    if not models:
        print("no models installed; `deskseek pull` fetches the one recommended for this machine, "
              "`deskseek list --available` shows them all")
        _hint_found()
        return 0
    from rich.markup import escape
    from rich.table import Table

    table = Table(box=None, pad_edge=False)
    for column in ("NAME", "SIZE", "QUANT", "ARCH", "PARAMS", "THINKS", "PATH"):
        table.add_column(column, no_wrap=column != "PATH")
    for m in models:
        problems = m.problems()
        name = escape(m.name) + (" [red](damaged)[/]" if problems else "")
        table.add_row(
            name, human_bytes(m.size), escape(m.quant or "?"), escape(m.architecture or "?"),
            _params(m.params, m.params_active), "yes" if m.reasoning else "no", escape(str(m.path)),
        )
    flags.console().print(table)
    return 0


def _hint_found() -> None:
    """One line when other apps hold models: they run as they are (listing folders only, no headers read)."""
    from deskseek.models import found

    try:
        count = len(found.spots())
    except DeskseekError:  # a bad DESKSEEK_OTHER_APPS: said by the commands that look, not by a hint
        return
    if count:
        print(f"{count} model{'s' if count != 1 else ''} from other apps (Ollama, LM Studio, caches) can run "
              "as they are: `deskseek list --found`")


def _list_found(args) -> int:
    from rich.markup import escape

    from deskseek.models import found
    from deskseek.units import human_bytes

    models = found.scan()
    if args.json:
        print(json.dumps([m.to_json() for m in models], indent=2))
        return 0
    if not models:
        apps = ", ".join(found.LABELS[app] for app in found.enabled_apps()) or "no other apps (DESKSEEK_OTHER_APPS)"
        print(f"no models found in {apps}")
        return 0
    from rich.table import Table

    table = Table(box=None, pad_edge=False)
    for column in ("NAME", "SIZE", "QUANT", "ARCH", "PARAMS", "THINKS", "STATE", "PATH"):
        table.add_column(column, no_wrap=column not in ("PATH", "STATE"))
    for m in models:
        thinks = "?" if m.reasoning is None else "yes" if m.reasoning else "no"
        state = "ok" if m.ok else f"[red]{m.state}: {escape(m.problem or '')}[/]"
        table.add_row(
            escape(m.name), human_bytes(m.size), escape(m.quant or "?"), escape(m.architecture or "?"),
            _params(m.params, m.params_active), thinks, state, escape(str(m.path)),
        )
    flags.console().print(table)
    return 0


def _list_available(args, specs, installed_names) -> int:
    """The catalogue on this machine: size, published scores, fit and expected speed; one model recommended."""
    from deskseek.placement import hardware, recommend
    from deskseek.units import human_bytes

    assessed = recommend.recommend(specs, hardware.detect())
    rows = []
    for item in assessed:
        spec = specs[item.alias]
        rows.append({
            "name": spec.alias,
            "description": spec.description,
            "default_quant": spec.default_quant,
            "quants": list(spec.quants),
            "size": item.size or None,
            "params_b": spec.params,
            "params_active_b": spec.params_active,
            "architecture": spec.architecture,
            "reasoning": spec.reasoning,
            "license": spec.license,
            "installed": [q for q in spec.quants if f"{spec.alias}:{q}" in installed_names],
            "fit": item.fit if item.size else None,
            "ctx": item.ctx or None,
            "est_tok_s": round(item.est_tok_s, 1) if item.fits and item.ctx else None,
            "scores": item.scores or {"aime_2024": None, "math_500": None},
            "scores_source": spec.scores.source if spec.scores else None,
            "recommended": item.recommended,
            "why": item.why or None,
        })
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    from rich.markup import escape
    from rich.table import Table

    table = Table(box=None, pad_edge=False)
    for column in ("NAME", "SIZE", "PARAMS", "THINKS", "AIME", "MATH", "FIT", "SPEED", "INSTALLED", "DESCRIPTION"):
        table.add_column(column, no_wrap=column != "DESCRIPTION", justify="right" if column in ("AIME", "MATH") else "left")
    for row in rows:
        params = f"{row['params_b']:g}B" + (f"/{row['params_active_b']:g}B" if row["params_active_b"] else "")
        scores = row["scores"]
        name = ("[bold]★ " if row["recommended"] else "  ") + escape(row["name"]) + ("[/]" if row["recommended"] else "")
        table.add_row(
            name, human_bytes(row["size"]) if row["size"] else "?", params, "yes" if row["reasoning"] else "no",
            _score(scores["aime_2024"]), _score(scores["math_500"]), row["fit"] or "?",
            f"~{recommend.tok_s(row['est_tok_s'])}" if row["est_tok_s"] else "-",
            escape(", ".join(row["installed"]) or "-"), escape(row["description"]),
        )
    out = flags.console()
    out.print(table)
    best = next(row for row in rows if row["recommended"])
    out.print(f"\n★ for this machine: [bold]{escape(best['name'])}[/] ({escape(best['why'])}); "
              "`deskseek pull` with no name fetches it")
    for source in dict.fromkeys(row["scores_source"] for row in rows if row["scores_source"]):
        out.print(f"AIME 2024 and MATH-500 pass@1 (%): {escape(source)}", highlight=False)
    out.print("SPEED: the decode rate to expect here, estimated from memory bandwidth at the default context",
              highlight=False)
    return 0


def _score(value: float | None) -> str:
    return f"{value:.1f}" if value is not None else "-"


def cmd_rm(args) -> int:
    """Remove an installed model by its full name or alias (never by prefix), or what a pull left behind.

    Each removal holds the model's lock: while a pull of it runs, rm says so instead of deleting the folder
    the pull is writing into.
    """
    import shutil

    from deskseek.models import registry, store
    from deskseek.units import human_bytes

    names = [args.model]
    try:  # `rm tiny` means what `pull tiny` installs (tiny:Q4_K_M), and finds what it left unfinished
        names.append(registry.parse_ref(args.model, registry.load()).name)
    except DeskseekError:
        pass
    for name in dict.fromkeys(names):
        item = next((m for m in store.installed() if m.name == name), None)
        if item is not None:
            with store.lock(item.name, "rm"):
                kept = store.import_note(item)
                freed = store.remove(item)
                shutil.rmtree(store.staging_folder(item.name), ignore_errors=True)
            print(f"removed {item.name}, freed {human_bytes(freed)}{kept}")
            return 0
        if not store.leftovers(name):
            continue
        with store.lock(name, "rm"):
            folders = store.leftovers(name)
            freed = sum(_bytes_under(folder) for folder in folders)
            for folder in folders:
                shutil.rmtree(folder, ignore_errors=True)
        print(f"removed the unfinished download of {name}, freed {human_bytes(freed)}")
        return 0
    store.find(args.model, prefix=False)  # raises the one-line "not installed; did you mean ..."
    return 1


def _bytes_under(folder) -> int:
    total = 0
    for path in folder.rglob("*"):
        try:
            if path.is_file() and not path.is_symlink() and path.stat().st_nlink <= 1:
                total += path.stat().st_size
        except OSError:
            continue
    return total


def cmd_import(args) -> int:
    from deskseek.models import imports
    from deskseek.units import human_bytes

    if args.copy:
        print("copying…", file=sys.stderr, flush=True)
    item = imports.import_model(args.path, args.name, copy=args.copy)
    origin = item.origin or {}
    how = {"link": f"hard-linked at {item.path}", "copy": f"copied to {item.path}"}.get(
        origin.get("kept_as"), "used where it is")
    thinks = ", thinks" if item.reasoning else ""
    print(f"imported {item.name} ({human_bytes(item.size)}, {item.architecture or 'unknown architecture'}{thinks}) "
          f"from {origin.get('name') or origin.get('path')}: {how}")
    return 0


def add_commands(commands) -> None:
    p = commands.add_parser("list", aliases=["ls"], help="installed models (or --available ones, or --found in other apps)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--available", action="store_true", help="models deskseek knows how to pull")
    p.add_argument("--found", action="store_true",
                   help="GGUF models in other apps' folders (Ollama, LM Studio, HF and llama.cpp caches)")
    p.set_defaults(func=cmd_list)

    p = commands.add_parser("rm", help="delete an installed model (or an interrupted download)")
    p.add_argument("model")
    p.set_defaults(func=cmd_rm)

    p = commands.add_parser("import", help="register a GGUF you already have (a hard link or its path, no copy)")
    p.add_argument("path", metavar="NAME_OR_PATH", help="a .gguf file, or a name from `deskseek list --found`")
    p.add_argument("--name", help="name to install it under (default: the file's or the other app's name)")
    p.add_argument("--copy", action="store_true", help="copy the file instead of linking to it")
    p.set_defaults(func=cmd_import)
