"""What several commands share: the model and memory flags, argument types, offline mode, a console.

Every number a user types is checked here, at the parser, against the range its consumer can take: a value
past it would otherwise travel on to SQLite or a C struct and come back as an OverflowError (exit 70) or,
worse, be truncated silently. A bad value is argparse's usage error: one line, exit status 2.
Where llama.cpp has a flag for the same thing, its spelling works too (`-c`, `-t`, `-ngl`, `-n`, `--temp`,
`-ctk`, `-ctv`, `-fa`), so a command line carried over from llama-cli means the same here.
"""

from __future__ import annotations

import argparse
import math
import os

from deskseek.errors import USAGE
from deskseek.placement import kv_cache

INT32_MAX = 2**31 - 1  # llama.cpp's int32_t fields (n_ctx, n_gpu_layers, top_k, n_predict)
ID_MAX = 2**63 - 1  # SQLite's INTEGER: conversation and message ids
SEED_MAX = 2**32 - 2  # llama.cpp's uint32_t seed; 2**32 - 1 is LLAMA_DEFAULT_SEED, "random"
MAX_THREADS = 512  # ggml's GGML_MAX_N_THREADS


class Parser(argparse.ArgumentParser):
    """argparse, with its usage errors as one line (its default prints the whole usage block first)."""

    def error(self, message: str):
        self.exit(USAGE, f"error: {message} (`{self.prog} --help` lists the options)\n")


def go_offline() -> None:
    """`run`, `chat` and `info` never touch the network: make sure no library we load tries to."""
    os.environ["HF_HUB_OFFLINE"] = "1"


def console():
    """A console as wide as the terminal, or unbounded when piped, so scripts never get wrapped cells.

    Tables print names users and other apps chose: every such cell goes through rich.markup.escape.
    """
    from rich.console import Console

    class _Console(Console):
        def on_broken_pipe(self) -> None:
            """Rich would exit(1) on its own; hand the closed pipe on to main, which ends every command alike."""
            raise  # noqa: PLE0704 (called inside rich's `except BrokenPipeError`: re-raises that error)

    # No emoji codes: a model named `ghost:7b` or `llama:latest` must print as typed, not as 👻 or 🦙.
    probe = _Console(emoji=False)
    return probe if probe.is_terminal else _Console(width=400, emoji=False)


def model_flags(p) -> None:
    """What `run` and `chat` share: which model, how it samples, where its weights go."""
    p.add_argument("-m", "--model", help="installed name, alias or path to a .gguf (default: last used)")
    p.add_argument("--system", help="system prompt (folded into the prompt for models that take none)")
    sampling = p.add_argument_group("sampling (default: the model's recommended values)")
    sampling.add_argument("--temp", "--temperature", dest="temperature", type=real(0), metavar="T",
                          help="temperature; 0 always picks the likeliest token")
    sampling.add_argument("--top-p", type=real(0, 1), metavar="P", help="nucleus sampling (1: off)")
    sampling.add_argument("--top-k", type=whole(0, INT32_MAX), metavar="K", help="keep the K likeliest tokens (0: off)")
    sampling.add_argument("--min-p", type=real(0, 1), metavar="P",
                          help="drop tokens less likely than P times the likeliest (0: off)")
    sampling.add_argument("--repeat-penalty", type=real(0, above=True), metavar="X",
                          help="penalize tokens of the last 64 generated (1: off, llama.cpp's 1.1 a mild one)")
    sampling.add_argument("--seed", type=seed, help="for reproducible sampling (-1: random, the default)")
    sampling.add_argument("-n", "--max-tokens", "--n-predict", dest="max_tokens", type=token_limit, metavar="N",
                          help="stop after N tokens (-1: until the model stops or the context is full)")
    sampling.add_argument("--stop", action="append", type=stop_text, metavar="TEXT",
                          help="stop when the reply writes TEXT (not shown); repeat for several")
    sampling.add_argument("--think-budget", type=positive_int, metavar="N", help="close the thought after N tokens")
    sampling.add_argument("--think-lang", choices=("auto", "any"), type=str.lower,
                          help="auto (default): while the model thinks, only the writing systems of your messages "
                               "(and Latin, digits, symbols, emoji); any: whatever it writes")
    sampling.add_argument("--grammar-file", metavar="FILE", help="constrain the output with a GBNF grammar")
    engine = p.add_argument_group("context and placement")
    context_flags(engine)
    engine.add_argument("-fa", "--flash-attn", choices=kv_cache.FLASH_ATTN, default="auto", type=str.lower,
                        help="flash attention: auto (llama.cpp decides; on for a quantized V cache), on, off")
    engine.add_argument("-t", "--threads", type=whole(1, MAX_THREADS), metavar="N",
                        help="CPU threads (default: the physical cores)")
    engine.add_argument("-ngl", "--gpu-layers", "--n-gpu-layers", dest="gpu_layers", type=whole(-1, INT32_MAX),
                        metavar="N", help="layers to offload (-1: all, 0: none); default: the planner's")
    engine.add_argument("--plan", choices=["auto", "off"], default="auto",
                        help="auto: place weights by deskseek's planner (default); off: llama.cpp's defaults")
    engine.add_argument("--cpu-moe", action="store_true", help="keep every MoE layer's routed experts in RAM")
    engine.add_argument("--n-cpu-moe", type=whole(0, INT32_MAX), metavar="N",
                        help="keep the routed experts of blocks 0..N-1 in RAM (llama.cpp's meaning)")
    memory_flags(engine)
    server_flags(p)
    speculation_flags(p)


def server_flags(p) -> None:
    """A model on an inference server instead of this machine (engines/remote_target.py reads these)."""
    remote = p.add_argument_group("inference server (instead of a model on this machine)")
    remote.add_argument("--server", metavar="URL|NAME",
                        help="an OpenAI-compatible or Ollama server, by URL or by its [servers.NAME] in models.toml "
                             "(also DESKSEEK_SERVER); -m picks its model")
    remote.add_argument("--api-key", metavar="KEY",
                        help="bearer token for the server (DESKSEEK_API_KEY keeps it out of the process list)")


def speculation_flags(p) -> None:
    """Speculative decoding (engines/speculative.py): same text, sooner."""
    group = p.add_argument_group("speculative decoding (the same text, sooner)")
    group.add_argument("--speculate", choices=("auto", "off"), type=str.lower,
                       help="auto (default): draft tokens from the conversation (and --draft) and let the model check "
                            "them in one batch, where that is measured to pay; off: one token at a time")
    group.add_argument("--draft", "-md", "--model-draft", dest="draft", metavar="MODEL",
                       help="a smaller model with the same vocabulary that drafts for this one (installed name, alias "
                            "or .gguf path; default: the model's `draft` in models.toml, where installed)")


def context_flags(parser) -> None:
    """The context and its cache types: what `run`/`chat` load with, and what `info`/`show` plan for."""
    parser.add_argument("-c", "--ctx", "--ctx-size", dest="ctx", type=whole(1, INT32_MAX), metavar="N",
                        help="context size in tokens (default: the most that fits beside the weights, up to the "
                             "model's trained length: 32k for models that think, 8k for others)")
    for short, side in (("-ctk", "k"), ("-ctv", "v")):
        parser.add_argument(short, f"--cache-type-{side}", dest=f"cache_type_{side}", type=str.lower,
                            choices=kv_cache.CACHE_TYPES, default=kv_cache.DEFAULT, metavar="TYPE",
                            help=f"{side.upper()} cache type: {', '.join(kv_cache.CACHE_TYPES)} (default f16)")


def memory_flags(parser) -> None:
    parser.add_argument("--gpu-mem", metavar="SIZE", type=size,
                        help="GPU memory to plan for (e.g. 24G); the budget itself")
    parser.add_argument("--ram", metavar="SIZE", type=size, help="system RAM to plan for (e.g. 64G)")
    parser.add_argument("--rpc", metavar="HOST:PORT[,...]", type=workers,
                        help="add these machines' devices (`deskseek worker` there) and split the model over them; "
                             "unencrypted, no password: trusted networks or SSH tunnels only")
    parser.add_argument("--rpc-link", metavar="GBIT", type=real(0, above=True),
                        help="network bandwidth to the --rpc workers in Gbit/s, for the speed estimate (default 1)")


# -- argument types: each raises ArgumentTypeError with the reason, which argparse prints as one line --


def whole(low: int, high: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{text} is not between {low} and {high}")
        return value

    return parse


def positive_int(text: str) -> int:
    return whole(1, INT32_MAX)(text)


def real(low: float, high: float | None = None, *, above: bool = False):
    """A finite number from `low` (or past it, with `above`) to `high`."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"{text} is not a finite number")
        if value < low or (above and value == low):
            raise argparse.ArgumentTypeError(f"{text} must be {'more than' if above else 'at least'} {low:g}")
        if high is not None and value > high:
            raise argparse.ArgumentTypeError(f"{text} must be at most {high:g}")
        return value

    return parse


def token_limit(text: str) -> int | None:
    """llama.cpp's -n: a positive count, or -1 for no limit (None)."""
    value = whole(-1, INT32_MAX)(text)
    if value == 0:
        raise argparse.ArgumentTypeError("0 tokens is no reply; give at least 1, or -1 for no limit")
    return None if value == -1 else value


def seed(text: str) -> int | None:
    value = whole(-1, SEED_MAX)(text)
    return None if value == -1 else value


def stop_text(text: str) -> str:
    if not text:
        raise argparse.ArgumentTypeError("an empty stop text would stop before the first token")
    return text


def size(text: str) -> int:
    from deskseek.units import parse_size

    try:
        return parse_size(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def workers(text: str) -> list[str]:
    from deskseek.llama.rpc_greeting import parse_endpoints

    try:
        return parse_endpoints(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def conversation_id(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a conversation id (`deskseek history list`)") from None
    if not 1 <= value <= ID_MAX:
        raise argparse.ArgumentTypeError(f"{text} is not a conversation id; ids run from 1 to {ID_MAX}")
    return value


def resume_target(text: str) -> int | str:
    """`--resume` takes "last" (also what a bare --resume means) or a conversation id."""
    return "last" if text == "last" else conversation_id(text)
