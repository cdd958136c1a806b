"""Speculative decoding on a GPU, at the R1 distills' real shapes: what verifying a draft costs there, and that
`--speculate auto` stays at plain speed where drafts are not taken.

    python benchmarks/speculative_gpu.py [--dir /tmp] [--tokens 256] [--rounds 4]

GPU machines here reach no network, so the pair is random-weight GGUFs of the shapes of DeepSeek-R1-Distill-Qwen-7B
(28 blocks, n_embd 3584, FFN 18944, 28/4 heads) and -1.5B (28 blocks, 1536, 8960, 12/2), Q4_K, with a small byte
vocabulary shared by both (so the pair passes the vocabulary check). Decode speed depends on shapes, not values,
so the costs are the real ones; acceptance is not (two random models rarely agree), which makes this pair the
worst case the adaptive rule must survive:

1. The cost curve: seconds of a one-token decode of the 7B shape, and of each batch of the token and k draft
   tokens, as the engine measured them (`always` drafts, so every size is measured). Beside it, the acceptance
   rate at which a k-token draft breaks even, and the speed-up a 0.8 rate would give (draft_costs' own formula).
2. Draft pair, free writing: plain (`off`), lookup drafts (`auto` on the 7B alone), the 1.5B drafting with `auto`
   and with `always`; tok/s and drafts taken; greedy (where a random model falls into a loop that lookup drafts
   follow) and sampled at temperature 1 (no loops: nothing is taken, the worst case). The text must be the same
   in every mode (checked).
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.moe_model import Q4_K_BLOCK, Q4_K_BYTES, add_byte_vocab, finish, q4_k  # noqa: E402
from benchmarks.speculative import draft_cost, report, run_rounds  # noqa: E402

SHAPES = {  # name: (blocks, n_embd, ffn, heads, kv heads), from the distills' config.json
    "qwen2-7b": (28, 3584, 18944, 28, 4),
    "qwen2-1.5b": (28, 1536, 8960, 12, 2),
    "tiny": (2, 256, 512, 2, 1),  # --smoke: the script itself checked on a CPU in seconds
}
HEAD = 128


def write_dense(path: Path, shape: str, seed: int) -> Path:
    """A random-weight Qwen2 GGUF of `shape`'s layout (Q4_K matrices, F32 norms), once."""
    if path.exists():
        return path
    from gguf import GGMLQuantizationType, GGUFWriter, LlamaFileType

    from tests.fixtures.gguf_writers import _r1_byte_vocab

    n_layer, n_embd, n_ff, n_head, n_kv = SHAPES[shape]
    rng = np.random.default_rng(seed)
    tokens = _r1_byte_vocab()[0]
    tmp = path.with_name(path.name + ".tmp")
    w = GGUFWriter(str(tmp), arch="qwen2")
    w.add_name(f"random {shape} layout")
    w.add_file_type(LlamaFileType.MOSTLY_Q4_K_M)
    w.add_context_length(32768)
    w.add_embedding_length(n_embd)
    w.add_block_count(n_layer)
    w.add_feed_forward_length(n_ff)
    w.add_head_count(n_head)
    w.add_head_count_kv(n_kv)
    w.add_rope_freq_base(1e6)
    w.add_layer_norm_rms_eps(1e-6)
    add_byte_vocab(w)

    def add_q4(name: str, rows: int, cols: int, data: np.ndarray) -> None:
        w.add_tensor(name, data, raw_shape=(rows, cols // Q4_K_BLOCK * Q4_K_BYTES),
                     raw_dtype=GGMLQuantizationType.Q4_K)

    q, kv, o = q4_k(n_head * HEAD, n_embd, rng), q4_k(n_kv * HEAD, n_embd, rng), q4_k(n_embd, n_head * HEAD, rng)
    gate_up, down = q4_k(n_ff, n_embd, rng), q4_k(n_embd, n_ff, rng)
    ones = np.ones(n_embd, dtype=np.float32)
    w.add_tensor("token_embd.weight", (rng.standard_normal((len(tokens), n_embd)) * 0.02).astype(np.float32))
    for i in range(n_layer):
        w.add_tensor(f"blk.{i}.attn_norm.weight", ones)
        add_q4(f"blk.{i}.attn_q.weight", n_head * HEAD, n_embd, q)
        add_q4(f"blk.{i}.attn_k.weight", n_kv * HEAD, n_embd, kv)
        add_q4(f"blk.{i}.attn_v.weight", n_kv * HEAD, n_embd, kv)
        w.add_tensor(f"blk.{i}.attn_q.bias", np.zeros(n_head * HEAD, dtype=np.float32))
        w.add_tensor(f"blk.{i}.attn_k.bias", np.zeros(n_kv * HEAD, dtype=np.float32))
        w.add_tensor(f"blk.{i}.attn_v.bias", np.zeros(n_kv * HEAD, dtype=np.float32))
        add_q4(f"blk.{i}.attn_output.weight", n_embd, n_head * HEAD, o)
        w.add_tensor(f"blk.{i}.ffn_norm.weight", ones)
        add_q4(f"blk.{i}.ffn_gate.weight", n_ff, n_embd, gate_up)
        add_q4(f"blk.{i}.ffn_up.weight", n_ff, n_embd, gate_up)
        add_q4(f"blk.{i}.ffn_down.weight", n_embd, n_ff, down)
    w.add_tensor("output_norm.weight", ones)
    w.add_tensor("output.weight", (rng.standard_normal((len(tokens), n_embd)) * 0.02).astype(np.float32))
    return finish(w, tmp, path)


def cost_curve(measured: dict[int, float]) -> None:
    from deskseek.engines.draft_costs import expected_tokens

    single = measured[1]
    print(f"\ncost of verifying a draft on the 7B shape (one-token decode {single * 1000:.2f} ms):")
    print("  batch  ms      x one token  break-even rate  speed-up at rate 0.8")
    for size, seconds in sorted(measured.items()):
        if size == 1:
            continue
        k = size - 1
        ratio = seconds / single
        even = next((r / 100 for r in range(1, 100) if expected_tokens(r / 100, k) >= ratio), None)
        gain = expected_tokens(0.8, k) / ratio
        shown = f"{even:.2f}" if even is not None else "never"
        print(f"  {size:>5}  {seconds * 1000:6.2f}  {ratio:11.2f}  {shown:>15}  {gain:20.2f}x")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dir", type=Path, default=Path("/tmp"))
    parser.add_argument("--tokens", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--smoke", action="store_true", help="tiny shapes: check the script, not the speed")
    parser.add_argument("--write-only", action="store_true", help="write the two GGUFs and stop")
    args = parser.parse_args()

    from deskseek.engines.events import Settings
    from deskseek.engines.local import Engine

    big, small = ("tiny", "tiny") if args.smoke else ("qwen2-7b", "qwen2-1.5b")
    target = write_dense(args.dir / f"random-{big}-Q4_K.gguf", big, 1)
    draft = write_dense(args.dir / f"random-{small}-draft-Q4_K.gguf", small, 2)
    if args.write_only:
        return 0
    print(f"{target.name} {target.stat().st_size / 1e9:.2f} GB, {draft.name} {draft.stat().st_size / 1e9:.2f} GB; "
          f"all layers on the GPU, greedy, {args.tokens} tokens x {args.rounds} rounds")
    prompt = "Tell me a long story."
    with Engine(target, n_ctx=4096, reasoning=False) as alone, \
            Engine(target, n_ctx=4096, reasoning=False, draft=draft) as paired:
        assert paired.draft is not None, paired.draft_problem
        messages = [{"role": "user", "content": prompt}]
        alone.generate(messages, Settings(temperature=0, max_tokens=64, ignore_eos=True, speculate="always")).wait()
        cost_curve(measure_batches(alone))
        modes = {"off": ("alone", "off"), "lookup auto": ("alone", "auto"), "draft auto": ("paired", "auto"),
                 "draft always": ("paired", "always")}
        engines = {"alone": alone, "paired": paired}
        for temperature, title in ((0.0, "greedy (a random model repeats itself: lookup drafts are all taken)"),
                                   (1.0, "sampled at temperature 1, seeded (drafts rarely taken: the worst case)")):
            rates, counts, texts = run_rounds(engines, modes, prompt, True, args.tokens, args.rounds, temperature)
            if texts["alone"] != texts["paired"]:
                raise SystemExit("the draft model changed the text")
            report(f"random 7B shape, 1.5B shape drafting, {title}:", rates, counts, {name: "off" for name in modes})
        draft_cost(paired.speculation_costs)
    return 0


def measure_batches(engine, sizes=(1, 2, 3, 4, 5, 7, 9, 13, 17), repeats: int = 7) -> dict[int, float]:
    """Median seconds of a decode of each batch size at the end of the engine's context (each taken back out
    again), waiting for the GPU to finish: the costs the adaptive rule weighs, measured apart from it."""
    import time

    llama, ctx = engine._llama, engine._ctx
    tokens = engine._cached[-1:] * max(sizes)
    medians = {}
    for size in sizes:
        times = []
        for _ in range(repeats):
            start = len(engine._cached)
            began = time.perf_counter()
            status = engine._decode_checked(tokens[:size])
            llama.llama_synchronize(ctx)
            times.append(time.perf_counter() - began)
            engine._forget_from(start)
            if status != 0:
                raise SystemExit(f"a batch of {size} failed ({status})")
        medians[size] = statistics.median(times)
    return medians


if __name__ == "__main__":
    sys.exit(main())
