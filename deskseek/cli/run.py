"""`deskseek run`: answer one prompt and exit, or a plain line chat on a terminal."""

from __future__ import annotations

import json
import sys

from deskseek.chat import attach
from deskseek.cli import flags
from deskseek.engines import launch
from deskseek.errors import FAILED, INTERRUPTED, DeskseekError, UsageError


def _read_prompt(args) -> str:
    """The prompt as text. Bytes that are not UTF-8 are refused with where they are: guessing an encoding
    (Latin-1? CP949?) would hand the model words the user never wrote."""
    if args.prompt and args.prompt != "-":
        try:
            args.prompt.encode("utf-8")
        except UnicodeEncodeError as err:  # argv bytes Python could not decode arrive as lone surrogates
            raise UsageError(f"the prompt is not valid UTF-8 (at character {err.start})") from None
        return args.prompt
    if sys.stdin is None or sys.stdin.isatty():
        raise UsageError("no prompt: give it as an argument, or pipe it in on standard input")
    data = sys.stdin.buffer.read() if hasattr(sys.stdin, "buffer") else sys.stdin.read().encode()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise UsageError(
            f"standard input is not UTF-8 (byte 0x{data[err.start]:02x} at offset {err.start}); "
            "convert it first, e.g. `iconv -f latin1 -t utf-8`"
        ) from None
    if not text.strip():
        raise UsageError("the prompt on standard input is empty")
    return text


def cmd_run(args) -> int:
    flags.go_offline()
    from deskseek.engines import remote_target

    interactive = args.prompt is None and sys.stdin is not None and sys.stdin.isatty() and not args.json
    prompt = None if interactive else _read_prompt(args)
    if args.file and interactive:
        raise UsageError('--file goes with a prompt: deskseek run --file PATH "your question"')
    for path in args.file:  # missing, a folder, binary: said before a model loads; too large, once it has
        attach.read(path, room_tokens=None)
    server = remote_target.target(args, args.model)
    if server is not None:
        return _run_on_server(server, args, interactive, prompt)
    from deskseek.cli.run_view import LoadingLine
    from deskseek.engines.local import Engine
    from deskseek.llama import cpu
    from deskseek.models import choice

    prepared = launch.prepare(args, args.model)
    chosen, plan = prepared.chosen, prepared.plan
    size = sum(part.stat().st_size for part in launch.split_set(chosen.path))
    line = LoadingLine(chosen.name, size) if sys.stderr.isatty() and not args.json else None
    for note in plan.notes if line is not None else ():
        print(f"note: {note}", file=sys.stderr)  # said before a load that may take minutes
    if line is not None and cpu.needs_probe():
        line.note("checking this CPU's AMX kernels (once per machine)…")
    try:
        engine = Engine(
            chosen.path, **launch.engine_options(args), n_ctx=plan.ctx, n_gpu_layers=plan.gpu_layers,
            reasoning=chosen.reasoning, allow_system=chosen.sampling.system_prompt,
            cpu_patterns=plan.cpu_tensor_patterns, on_progress=line.update if line else None,
            **launch.draft_options(prepared),
        )
    finally:
        if line is not None:
            line.done()
    choice.remember(chosen.name)
    messages = [{"role": "system", "content": args.system}] if args.system else []
    settings = prepared.settings
    try:
        if interactive:
            return _converse(engine, chosen.name, settings, args)
        messages.append({"role": "user", "content": _with_files(prompt, args.file, engine, messages)})
        return _answer_once(engine, chosen.name, messages, settings, args)
    finally:
        engine.close()


def _run_on_server(target, args, interactive: bool, prompt: str | None) -> int:
    """The same reply on a model that runs on an inference server (engines/remote.py): nothing is loaded here."""
    from deskseek.engines import remote, remote_target

    settings = remote_target.settings(args)
    engine = remote.RemoteEngine(remote_target.probe(target))
    messages = [{"role": "system", "content": args.system}] if args.system else []
    try:
        if interactive:
            return _converse(engine, engine.model, settings, args)
        messages.append({"role": "user", "content": _with_files(prompt, args.file, engine, messages)})
        return _answer_once(engine, engine.model, messages, settings, args)
    finally:
        engine.close()


def _with_files(prompt: str, files: list[str], engine, messages: list[dict]) -> str:
    """`--file` texts as fenced blocks before the prompt, as the chat's `/file` lines put them (chat/attach.py)."""
    room = attach.context_room(engine.n_ctx, [*messages, {"role": "user", "content": prompt}])
    blocks = []
    for path in files:
        attachment = attach.read(path, room_tokens=room)
        blocks.append(attachment.block)
        room = None if room is None else max(room - attachment.tokens - attach.PER_MESSAGE_TOKENS, 0)
    return "\n".join([*blocks, prompt])


def _answer_once(engine, name, messages, settings, args) -> int:
    from deskseek.cli.run_view import RunView

    view = RunView(json_output=args.json, hide_thinking=args.hide_thinking, raw_tex=args.raw_tex)
    reply = view.follow(engine.generate(messages, settings))
    if args.json:
        print(json.dumps({
            "model": name,
            "server": engine.server,
            "reasoning": reply.reasoning,
            "content": reply.content,
            "finish_reason": reply.finish_reason,
            "thought_closed": reply.thought_closed,
            "notices": reply.notices,
            "stats": reply.stats.as_dict() if reply.stats else None,
        }, ensure_ascii=False, indent=2))
    if reply.error:
        raise DeskseekError(reply.error)
    if reply.finish_reason == "cancelled":
        return INTERRUPTED
    return 0 if reply.thought_closed else FAILED  # a thought with no answer is no answer, whatever was printed


def _converse(engine, name, settings, args) -> int:
    """`deskseek run` on a terminal with no prompt: a plain multi-turn chat, as `ollama run` offers.

    The same ChatSession as the chat app drives it, over a history kept in memory only.
    """
    from deskseek.chat.history import History
    from deskseek.chat.session import ChatSession
    from deskseek.cli.run_view import RunView

    try:
        import readline  # noqa: F401  (line editing and history for input())
    except ImportError:
        pass
    history = History(ephemeral=True)
    session = ChatSession(history, settings=settings, system=args.system or "")
    session.attach(engine, name)
    where = f"on {engine.server}" if engine.server else "offline"
    print(f"deskseek · {name} · {where}. Ctrl+C stops a reply, Ctrl+D or /bye quits.")
    try:
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
            reply = RunView(json_output=False, hide_thinking=args.hide_thinking, raw_tex=args.raw_tex).follow(
                session.send(line))
            if reply.error:
                print(f"error: {reply.error}", file=sys.stderr)
                session.edit_last()  # the failed exchange is not part of the conversation
    finally:
        history.close()


def add_commands(commands) -> None:
    p = commands.add_parser("run", help="answer one prompt and exit (offline, unless --server)")
    p.add_argument("prompt", nargs="?", help="the prompt; '-' reads standard input; none on a terminal: chat")
    p.add_argument("--json", action="store_true", help="print one JSON object at the end")
    p.add_argument("--file", action="append", default=[], metavar="PATH",
                   help="put a text file into the prompt, as a fenced block headed by its name (repeatable)")
    p.add_argument("--hide-thinking", action="store_true", help="print only the answer")
    p.add_argument("--raw-tex", action="store_true",
                   help="print formulas as the model wrote them (LaTeX) on a terminal too (a pipe always gets them so)")
    flags.model_flags(p)
    p.set_defaults(func=cmd_run)
