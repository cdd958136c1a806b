"""What several commands share: the model and memory flags, argument types, offline mode, a console."""

from __future__ import annotations

import argparse
import os


def go_offline() -> None:
    """`run`, `chat` and `info` never touch the network: make sure no library we load tries to."""
    os.environ["HF_HUB_OFFLINE"] = "1"


def console():
    """A console as wide as the terminal, or unbounded when piped, so scripts never get wrapped cells."""
    from rich.console import Console

    probe = Console()
    return probe if probe.is_terminal else Console(width=400)


def model_flags(p) -> None:
    """What `run` and `chat` share: which model, how it samples, where its weights go."""
    p.add_argument("-m", "--model", help="installed name, alias or path to a .gguf (default: last used)")
    p.add_argument("--system", help="system prompt (folded into the prompt for models that take none)")
    p.add_argument("--temperature", type=float)
    p.add_argument("--top-p", type=float)
    p.add_argument("--seed", type=int)
    p.add_argument("--max-tokens", type=positive_int)
    p.add_argument("--think-budget", type=positive_int, metavar="N", help="close the thought after N tokens")
    p.add_argument("--grammar-file", metavar="FILE", help="constrain the output with a GBNF grammar")
    p.add_argument("--ctx", type=positive_int, default=4096, help="context size in tokens (default 4096)")
    p.add_argument("--threads", type=positive_int)
    p.add_argument("--gpu-layers", type=int, help="layers to offload (-1: all, 0: none); default: the planner's")
    p.add_argument("--plan", choices=["auto", "off"], default="auto",
                   help="auto: place weights by deskseek's planner (default); off: llama.cpp's defaults")
    p.add_argument("--cpu-moe", action="store_true", help="keep every MoE layer's routed experts in RAM")
    p.add_argument("--n-cpu-moe", type=int, metavar="N",
                   help="keep the routed experts of blocks 0..N-1 in RAM (llama.cpp's meaning)")
    memory_flags(p)


def memory_flags(parser) -> None:
    parser.add_argument("--gpu-mem", metavar="SIZE", help="GPU memory to plan for (e.g. 24G); the budget itself")
    parser.add_argument("--ram", metavar="SIZE", help="system RAM to plan for (e.g. 64G)")


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text} must be at least 1")
    return value
