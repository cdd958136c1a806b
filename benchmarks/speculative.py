"""What speculative decoding (`--speculate`, deskseek/engines/speculative.py) buys: decode speed with it off, on
(`auto`), and with a draft model, on one engine per pairing, in alternating rounds in one process.

    .venv/bin/python benchmarks/speculative.py [--threads 2] [--tokens 160] [--rounds 8]

1. The starter (SmolLM2-135M-Instruct Q4_1) on a copying prompt (rewrite a 15-line function, greedy) and on a
   free-form one (a story, greedy, end of generation banned): tok/s with `--speculate off` and `auto`. The text
   is the same in every round and mode (checked), so the rounds decode the same tokens.
2. Draft models: the starter drafting for itself (a correctness pairing: every draft is taken, but drafting costs
   as much as the target's own decode, so `auto` must find it never pays), and the starter drafting for a
   higher-precision requantization of itself (Q8_0, written here with llama.cpp's quantizer), a pair whose
   drafts are mostly but not always taken, as a 1.5B distill's are for a 7B one. Both with `auto`, and with
   `always` (drafting whatever the cost) to show what the rule saved.

Each round runs every mode back to back, in an order that rotates between rounds; a round's figures are ratios to
its own `off` run, so a neighbour's load on this shared host, which comes and goes over seconds, mostly cancels
out; the report gives the median of those ratios, and the medians and bests of tok/s.
"""

from __future__ import annotations

import argparse
import ctypes
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fixtures.speculation_prompts import COPY, FREE  # noqa: E402

PROMPTS = {"copy": (COPY, False), "free": (FREE, True)}


QUESTIONS = [
    "What is the capital of France?", "Explain photosynthesis in two sentences.", "Write a haiku about rain.",
    "List three uses of a paperclip.", "How do I reverse a list in Python?", "What causes the seasons on Earth?",
    "Give me a recipe for pancakes.", "Why is the sky blue?", "Translate 'good morning' into Spanish.",
    "What is 17 times 23?", "Describe a cat to someone who has never seen one.", "Summarize the plot of Hamlet.",
    "What is a prime number?", "Write a limerick about a programmer.", "How does a bicycle stay upright?",
    "Name the planets of the solar system.", "What is the difference between weather and climate?",
    "Suggest a name for a coffee shop.", "How do vaccines work?", "Write a short thank-you note to a teacher.",
    "What is recursion?", "Explain what a database index is.", "Why do leaves change colour in autumn?",
    "Tell me a fun fact about octopuses.",
]


def exactness(engine, tokens: int, speculate: str = "always") -> tuple[int, list[int]]:
    """Greedy replies to QUESTIONS with `speculate` against `off`: how many are identical, and for the others the
    token where they part. A checked draft's logits come from a batch, and llama.cpp computes a batch with other
    kernels than one token (tinyBLAS against ggml's dot products on a CPU), so a near-tie can flip."""
    from deskseek.engines.events import Settings

    same, parted = 0, []
    for question in QUESTIONS:
        messages = [{"role": "user", "content": question}]
        texts = [engine.generate(messages, Settings(temperature=0, max_tokens=tokens, speculate=mode)).wait().content
                 for mode in ("off", speculate)]
        if texts[0] == texts[1]:
            same += 1
            continue
        plain, drafted = (engine.tokenize(text, add_bos=False) for text in texts)
        parted.append(next((i for i, (a, b) in enumerate(zip(plain, drafted)) if a != b), min(len(plain),
                                                                                              len(drafted))))
    return same, parted


def requantized(source: Path, dst: Path, ftype: int = 7) -> Path:
    """`source` requantized by llama.cpp (ftype 7: Q8_0), once per machine."""
    if dst.exists():
        return dst
    import llama_cpp

    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype, params.allow_requantize, params.nthread = ftype, True, 2
    tmp = dst.with_suffix(".part")
    status = llama_cpp.llama_model_quantize(str(source).encode(), str(tmp).encode(), ctypes.byref(params))
    if status != 0:
        raise SystemExit(f"llama_model_quantize failed ({status})")
    tmp.rename(dst)
    return dst


def run_rounds(engines: dict[str, object], modes: dict[str, tuple[str, str]], prompt: str, ignore_eos: bool,
               tokens: int, rounds: int, temperature: float = 0.0):
    """modes: name -> (engine name, speculate). tok/s and (drafted, accepted) per mode per round; the texts.
    With a temperature, sampling is seeded: the text is still the same in every mode."""
    from deskseek.engines.events import Settings

    rates = {name: [] for name in modes}
    counts = {name: [] for name in modes}
    texts = {}
    messages = [{"role": "user", "content": prompt}]
    for engine in engines.values():  # warm up: the prompt cached, every batch size's graph built once
        engine.generate(messages, Settings(temperature=0, max_tokens=24, speculate="always")).wait()
    names = list(modes)
    for r in range(rounds):
        shift = r % len(names)
        for name in names[shift:] + names[:shift]:
            engine_name, speculate = modes[name]
            settings = Settings(temperature=temperature, seed=7, max_tokens=tokens, ignore_eos=ignore_eos,
                                speculate=speculate)
            reply = engines[engine_name].generate(messages, settings).wait()
            assert reply.error is None, reply.error
            if texts.setdefault(engine_name, reply.content) != reply.content:
                raise SystemExit(f"{name}: the text differs from the other modes' on the same model")
            rates[name].append(reply.stats.gen_tok_s)
            counts[name].append((reply.stats.drafted, reply.stats.accepted))
    return rates, counts, texts


def report(title: str, rates, counts, baseline: dict[str, str]) -> None:
    print(f"\n{title}")
    for name, values in rates.items():
        base = baseline[name]
        ratios = [a / b for a, b in zip(values, rates[base])]
        drafted = sum(d for d, _ in counts[name])
        accepted = sum(a for _, a in counts[name])
        taken = f"{accepted / drafted:.0%} of {drafted // len(values)} drafted/round taken" if drafted else "no drafts"
        ratio = "" if name == base else (f"  x{statistics.median(ratios):.2f} of {base} "
                                         f"(rounds {min(ratios):.2f}-{max(ratios):.2f})")
        print(f"  {name:<22} median {statistics.median(values):6.1f} tok/s, best {max(values):6.1f}; {taken}{ratio}")


def draft_cost(measured) -> None:
    """What the engine measured a target token and a drafted token to cost (nothing where no draft was timed)."""
    if measured.draft_token is not None:
        print(f"  measured: target token {measured.single * 1000:.2f} ms, drafted token "
              f"{measured.draft_token * 1000:.2f} ms ({measured.draft_token / measured.single:.2f}x)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--tokens", type=int, default=160)
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--skip-pairs", action="store_true", help="only the starter with and without lookup drafts")
    parser.add_argument("--exactness", action="store_true",
                        help="only: greedy replies to 24 questions with every draft checked, against plain decoding")
    args = parser.parse_args()

    from deskseek.engines.local import Engine
    from deskseek.llama import cpu
    from tests.fixtures import gguf_writers

    cpu.prepare()
    cache = gguf_writers.default_cache_dir()
    starter = gguf_writers.starter_gguf(cache)
    print(f"{starter.name}, {args.threads} threads, up to {args.tokens} tokens x {args.rounds} rounds, "
          f"greedy; {time.strftime('%Y-%m-%d %H:%M')}")
    if args.exactness:
        for flash_attn in ("auto", "off"):
            with Engine(starter, n_ctx=2048, n_threads=args.threads, flash_attn=flash_attn) as engine:
                same, parted = exactness(engine, args.tokens)
            print(f"flash attention {flash_attn}: {same} of {len(QUESTIONS)} greedy replies identical with every "
                  f"draft checked; the others part at tokens {sorted(parted)}")
        return 0
    with Engine(starter, n_ctx=2048, n_threads=args.threads) as plain:
        engines = {"starter": plain}
        modes = {"off": ("starter", "off"), "auto": ("starter", "auto")}
        for label, (prompt, ignore_eos) in PROMPTS.items():
            rates, counts, texts = run_rounds(engines, modes, prompt, ignore_eos, args.tokens, args.rounds)
            report(f"{label} prompt (lookup drafts), {len(plain.tokenize(texts['starter'], add_bos=False))} tokens "
                   f"a reply:", rates, counts, {"off": "off", "auto": "off"})
        print(f"  measured: one token {plain.speculation_costs.single * 1000:.1f} ms; batches "
              + ", ".join(f"{n}: {s * 1000:.1f} ms" for n, s in sorted(plain.speculation_costs.batches.items())))
    if args.skip_pairs:
        return 0
    target = requantized(starter, cache / "SmolLM2-135M-Instruct.Q8_0-from-Q4_1.gguf")
    for label, target_path in (("the starter drafting for itself", starter),
                               ("the starter (Q4_1) drafting for its Q8_0 requantization", target)):
        with Engine(target_path, n_ctx=2048, n_threads=args.threads) as alone, \
                Engine(target_path, n_ctx=2048, n_threads=args.threads, draft=starter) as paired:
            assert paired.draft is not None, paired.draft_problem
            engines = {"alone": alone, "paired": paired}
            modes = {"off": ("alone", "off"), "draft auto": ("paired", "auto"), "draft always": ("paired", "always")}
            prompt, ignore_eos = PROMPTS["free"]
            rates, counts, texts = run_rounds(engines, modes, prompt, ignore_eos, args.tokens, args.rounds)
            if texts["alone"] != texts["paired"]:
                raise SystemExit(f"{label}: the draft model changed the text")
            report(f"{label}, free-form prompt:", rates, counts, {name: "off" for name in modes})
            draft_cost(paired.speculation_costs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
