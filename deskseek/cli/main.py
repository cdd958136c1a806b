"""The `deskseek` command: a thin face over the core.

Each subcommand parses its arguments, calls one core function and prints. Every failure a user can cause
ends as one line on stderr and a non-zero exit; a bug ends the same way, with its traceback in the log.
"""

from __future__ import annotations

import argparse
import json
import logging
import logging.handlers
import sys
from pathlib import Path

from deskseek import __version__, paths
from deskseek.engines import launch
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
    root = logging.getLogger("deskseek")
    root.addHandler(handler)
    root.setLevel(logging.INFO)


# --- commands -------------------------------------------------------------------------------------------


def cmd_pull(args) -> int:
    from deskseek.cli.pull_view import PullView
    from deskseek.models import pull

    with PullView() as view:
        item, fetched = pull.pull(args.model, on_event=view)
    verb = "pulled" if fetched else "already installed:"
    print(f"{verb} {item.name} ({pull.human_bytes(item.size)}) at {item.path}")
    return 0


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
    from deskseek.models.pull import human_bytes

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
    _console().print(table)
    return 0


def _console():
    """A console as wide as the terminal, or unbounded when piped, so scripts never get wrapped cells."""
    from rich.console import Console

    probe = Console()
    return probe if probe.is_terminal else Console(width=400)


def _list_available(args, specs, installed_names) -> int:
    from deskseek.models.pull import human_bytes
    from deskseek.placement import hardware, planner

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
    _console().print(table)
    return 0


def cmd_rm(args) -> int:
    import shutil

    from deskseek.models import store
    from deskseek.models.pull import human_bytes

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
    from deskseek.models.pull import human_bytes

    path = Path(args.path)
    info = gguf_names.split_info(path.name)
    name = args.name or (info[0] if info else path.name.removesuffix(".gguf"))
    if store.get(name) is not None:
        raise Error(f"a model named {name!r} is already installed; choose another with --name")
    item = store.register_import(path, name)
    print(f"imported {item.name} ({human_bytes(item.size)}, {item.architecture or 'unknown architecture'}) from {item.path}")
    return 0


def _go_offline() -> None:
    """`run` and `chat` never touch the network: make sure no library we load tries to."""
    import os

    os.environ["HF_HUB_OFFLINE"] = "1"


def _read_prompt(args) -> str:
    if args.prompt and args.prompt != "-":
        return args.prompt
    if sys.stdin is None or sys.stdin.isatty():
        raise DeskseekError("no prompt: give it as an argument, or pipe it in on standard input")
    text = sys.stdin.read()
    if not text.strip():
        raise DeskseekError("the prompt on standard input is empty")
    return text


def cmd_chat(args) -> int:
    _go_offline()
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
            try:
                resume = history.conversation(int(args.resume)).id
            except ValueError:
                raise DeskseekError(f"--resume takes a conversation number, not {args.resume!r}") from None
        if request is not None:
            choice.remember(request.name)
        app = DeskseekApp(request, history=history, resume=resume, flags=args)
        app.run()
    finally:
        history.close()
    return app.return_code or 0


def cmd_run(args) -> int:
    _go_offline()
    from deskseek.engines.local import Engine
    from deskseek.models import choice

    interactive = args.prompt is None and sys.stdin is not None and sys.stdin.isatty() and not args.json
    prompt = None if interactive else _read_prompt(args)
    prepared = launch.prepare(args, args.model)
    chosen, plan = prepared.chosen, prepared.plan
    engine = Engine(
        chosen.path, n_ctx=args.ctx, n_threads=args.threads, n_gpu_layers=plan.gpu_layers,
        reasoning=chosen.reasoning, allow_system=chosen.sampling.system_prompt,
        cpu_patterns=plan.cpu_tensor_patterns,
    )
    choice.remember(chosen.name)
    messages = [{"role": "system", "content": args.system}] if args.system else []
    settings = launch.settings(args, chosen.sampling)
    try:
        if interactive:
            return _converse(engine, chosen.name, messages, settings, args)
        messages.append({"role": "user", "content": prompt})
        return _answer_once(engine, chosen.name, messages, settings, args)
    finally:
        engine.close()


def _answer_once(engine, name, messages, settings, args) -> int:
    from deskseek.cli.run_view import RunView

    view = RunView(json_output=args.json, hide_thinking=args.hide_thinking)
    reply = view.follow(engine.generate(messages, settings))
    if args.json:
        print(json.dumps({
            "model": name,
            "reasoning": reply.reasoning,
            "content": reply.content,
            "finish_reason": reply.finish_reason,
            "thought_closed": reply.thought_closed,
            "notices": reply.notices,
            "stats": reply.stats.as_dict() if reply.stats else None,
        }, ensure_ascii=False, indent=2))
    if reply.error:
        raise DeskseekError(reply.error)
    return 130 if reply.finish_reason == "cancelled" else 0


def _converse(engine, name, messages, settings, args) -> int:
    """`deskseek run` on a terminal with no prompt: a plain multi-turn chat, as `ollama run` offers."""
    from deskseek.cli.run_view import RunView

    try:
        import readline  # noqa: F401  (line editing and history for input())
    except ImportError:
        pass
    print(f"deskseek · {name} · offline. Ctrl+C stops a reply, Ctrl+D or /bye quits.")
    while True:
        try:
            line = input(">>> ")
        except EOFError:
            print()
            return 0
        except KeyboardInterrupt:
            print("\n(Ctrl+D or /bye quits)")
            continue
        if line.strip() in ("/bye", "/exit", "/quit"):
            return 0
        if not line.strip():
            continue
        messages.append({"role": "user", "content": line})
        reply = RunView(json_output=False, hide_thinking=args.hide_thinking).follow(engine.generate(messages, settings))
        if reply.error:
            print(f"error: {reply.error}", file=sys.stderr)
            messages.pop()
            continue
        messages.append({"role": "assistant", "content": reply.content})


def cmd_info(args) -> int:
    all_paths = {key: str(value) for key, value in paths.all_paths().items()}
    if args.paths:
        width = max(len(key) for key in all_paths)
        for key, value in all_paths.items():
            print(f"{key:<{width}}  {value}")
        return 0
    _go_offline()
    machine, explicit = launch.machine(args)
    if not args.model:
        if args.json:
            print(json.dumps({"version": __version__, "paths": all_paths, "machine": machine.as_dict()}, indent=2))
            return 0
        print(f"deskseek {__version__}")
        _print_machine(machine)
        width = max(len(key) for key in all_paths)
        for key, value in all_paths.items():
            print(f"{key:<{width}}  {value}")
        return 0
    from deskseek.models import choice

    chosen = choice.choose(args.model)
    facts, plan = launch.plan_for(chosen.path, args, machine, explicit)
    report = {
        "model": chosen.name,
        "path": str(chosen.path),
        "architecture": facts.architecture,
        "layers": facts.n_layer,
        "weights_bytes": facts.total_bytes,
        "moe": {
            "expert_count": facts.n_expert,
            "expert_used_count": facts.n_expert_used,
            "expert_bytes": facts.routed_expert_bytes,
            "dense_bytes": facts.dense_bytes,
        } if facts.moe else None,
        "ctx": args.ctx,
        "kv_bytes": plan.kv_bytes,
        "plan": {
            "strategy": plan.strategy,
            "gpu_layers": plan.gpu_layers,
            "cpu_tensor_patterns": plan.cpu_tensor_patterns,
            "gpu_bytes": plan.gpu_bytes,
            "cpu_bytes": plan.cpu_bytes,
            "est_decode_tok_s": plan.est_decode_tok_s,
            "fits": plan.fits,
            "reason": plan.reason,
        },
        "machine": machine.as_dict(),
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    from deskseek.models.pull import human_bytes

    _print_machine(machine)
    print(f"model      {chosen.name} ({facts.architecture}, {facts.n_layer} layers, {human_bytes(facts.total_bytes)})")
    if facts.moe:
        print(f"experts    {facts.n_expert} routed, {facts.n_expert_used} used per token; "
              f"{human_bytes(facts.routed_expert_bytes)} of expert weights, {human_bytes(facts.dense_bytes)} the rest")
    print(f"KV cache   {human_bytes(plan.kv_bytes)} for {args.ctx} tokens")
    print(f"plan       {plan.summary()}: {plan.reason}")
    if plan.fits:
        print(f"memory     GPU {human_bytes(plan.gpu_bytes)}, RAM {human_bytes(plan.cpu_bytes)}; "
              f"about {plan.est_decode_tok_s:.1f} tok/s at best (from memory bandwidth)")
    for pattern in plan.cpu_tensor_patterns:
        print(f"in RAM     {pattern}")
    for note in plan.notes:
        print(f"note       {note}")
    if machine.unified_memory:
        print("note       unified memory: GPU and CPU share RAM, so experts in RAM only help past Metal's working-set limit")
    return 0 if plan.fits else 1


def _print_machine(machine) -> None:
    from deskseek.models.pull import human_bytes

    gpus = ", ".join(f"{g.description or g.name} ({human_bytes(g.free_bytes)} free)" for g in machine.gpus) or "none"
    print(f"backend    {machine.backend}; GPU: {gpus}")
    print(f"CPU        {machine.cpu_name}; RAM {human_bytes(machine.ram_bytes)} available "
          f"of {human_bytes(machine.ram_total_bytes)}")


def _model_flags(p) -> None:
    """What `run` and `chat` share: which model, how it samples, where its weights go."""
    p.add_argument("-m", "--model", help="installed name, alias or path to a .gguf (default: last used)")
    p.add_argument("--system", help="system prompt (folded into the prompt for models that take none)")
    p.add_argument("--temperature", type=float)
    p.add_argument("--top-p", type=float)
    p.add_argument("--seed", type=int)
    p.add_argument("--max-tokens", type=_positive_int)
    p.add_argument("--think-budget", type=_positive_int, metavar="N", help="close the thought after N tokens")
    p.add_argument("--grammar-file", metavar="FILE", help="constrain the output with a GBNF grammar")
    p.add_argument("--ctx", type=_positive_int, default=4096, help="context size in tokens (default 4096)")
    p.add_argument("--threads", type=_positive_int)
    p.add_argument("--gpu-layers", type=int, help="layers to offload (-1: all, 0: none); default: the planner's")
    p.add_argument("--plan", choices=["auto", "off"], default="auto",
                   help="auto: place weights by deskseek's planner (default); off: llama.cpp's defaults")
    p.add_argument("--cpu-moe", action="store_true", help="keep every MoE layer's routed experts in RAM")
    p.add_argument("--n-cpu-moe", type=int, metavar="N", help="keep the routed experts of the first N layers in RAM")
    _memory_flags(p)


def _memory_flags(parser) -> None:
    parser.add_argument("--gpu-mem", metavar="SIZE", help="GPU memory to plan for (e.g. 24G); the budget itself")
    parser.add_argument("--ram", metavar="SIZE", help="system RAM to plan for (e.g. 64G)")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text} must be at least 1")
    return value


# --- parser ---------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="deskseek", description="Run DeepSeek-R1 and friends locally: nothing leaves this machine."
    )
    parser.add_argument("--version", action="version", version=f"deskseek {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = commands.add_parser("pull", help="download a model (resumable, verified)")
    p.add_argument("model", help="ALIAS[:QUANT], hf.co/OWNER/REPO[:QUANT] or OWNER/REPO/FILE.gguf")
    p.set_defaults(func=cmd_pull)

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

    p = commands.add_parser("run", help="answer one prompt and exit (offline)")
    p.add_argument("prompt", nargs="?", help="the prompt; '-' reads standard input; none on a terminal: chat")
    p.add_argument("--json", action="store_true", help="print one JSON object at the end")
    p.add_argument("--hide-thinking", action="store_true", help="print only the answer")
    _model_flags(p)
    p.set_defaults(func=cmd_run)

    p = commands.add_parser("chat", help="the chat app (offline)")
    p.add_argument("--resume", nargs="?", const="last", metavar="ID", help="continue a conversation (default: the last)")
    p.add_argument("--ephemeral", action="store_true", help="write nothing to the history")
    _model_flags(p)
    p.set_defaults(func=cmd_chat)

    from deskseek.cli.history import add_commands as add_history_commands

    add_history_commands(commands)

    p = commands.add_parser("info", help="this machine, where data lives, and a model's memory plan")
    p.add_argument("model", nargs="?", help="installed name, alias or path to a .gguf")
    p.add_argument("--paths", action="store_true", help="only the data paths")
    p.add_argument("--json", action="store_true")
    p.add_argument("--ctx", type=_positive_int, default=4096, help="context to plan for (default 4096)")
    _memory_flags(p)
    p.set_defaults(func=cmd_info)
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
        return err.exit_code
    except KeyboardInterrupt:
        print("\ninterrupted; run the same command again to pick up where it stopped", file=sys.stderr)
        return 130
    except Exception as err:  # a bug: one line for the user, the traceback for us
        log.exception("unexpected error")
        print(f"error: {type(err).__name__}: {err} (details in {paths.log_file()})", file=sys.stderr)
        return 70


if __name__ == "__main__":
    sys.exit(main())
