"""Write a random-weight GGUF with Qwen3-30B-A3B's real layout, for placement benchmarks on a GPU machine.

    python benchmarks/moe_model.py OUT.gguf [--layers 48]

Decode speed depends on tensor shapes and types, not on the values, so a file of the real shapes measures
what the real model would, without a 17 GB download (GPU machines here reach no network). Layout from the
model's config: 48 blocks, n_embd 2048, 32 query / 4 KV heads of 128, 128 routed experts of 768, 8 used,
every block MoE. Experts and attention are Q4_K (the bulk of a Q4_K_M file), norms F32; the vocabulary is a
small byte-level one (the 151k-row embedding and head are a few percent of a token's reads, and identical
across placements). Three expert arrays are shared by every block, so writing needs little memory.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

N_EMBD, N_HEAD, N_HEAD_KV, HEAD = 2048, 32, 4, 128
N_EXPERT, N_USED, N_FF_EXP = 128, 8, 768
Q4_K_BLOCK, Q4_K_BYTES = 256, 144


def q4_k(rows: int, cols: int, rng: np.random.Generator) -> np.ndarray:
    """Random Q4_K blocks with small, finite scales (random f16 bits could be NaN, and NaN routing is not real)."""
    blocks = rng.integers(0, 256, size=(rows, cols // Q4_K_BLOCK, Q4_K_BYTES), dtype=np.uint8)
    blocks[..., 0:4] = np.frombuffer(np.array([2**-12, 2**-12], dtype=np.float16).tobytes(), dtype=np.uint8)
    return blocks.reshape(rows, cols // Q4_K_BLOCK * Q4_K_BYTES)


def add_byte_vocab(w) -> None:
    """The tests' small byte-level vocabulary with R1's special tokens: every random-weight file here has it."""
    from tests.fixtures.gguf_writers import _r1_byte_vocab

    tokens, types, merges = _r1_byte_vocab()
    w.add_vocab_size(len(tokens))
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("qwen2")
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_merges(merges)
    w.add_bos_token_id(len(tokens) - 1)
    w.add_eos_token_id(len(tokens) - 2)


def finish(w, tmp: Path, path: Path) -> Path:
    """Write the file out under its temporary name, then give it its own: a killed writer leaves no half file."""
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    tmp.replace(path)
    return path


def write(path: Path, n_layer: int) -> Path:
    from gguf import GGMLQuantizationType, GGUFWriter, LlamaFileType

    from tests.fixtures.gguf_writers import _r1_byte_vocab

    rng = np.random.default_rng(0)
    q4 = GGMLQuantizationType.Q4_K
    tokens = _r1_byte_vocab()[0]
    tmp = path.with_name(path.name + ".tmp")
    w = GGUFWriter(str(tmp), arch="qwen3moe")
    w.add_name("random Qwen3-30B-A3B layout")
    w.add_file_type(LlamaFileType.MOSTLY_Q4_K_M)
    w.add_context_length(32768)
    w.add_embedding_length(N_EMBD)
    w.add_block_count(n_layer)
    w.add_feed_forward_length(6144)
    w.add_head_count(N_HEAD)
    w.add_head_count_kv(N_HEAD_KV)
    w.add_key_length(HEAD)
    w.add_value_length(HEAD)
    w.add_rope_freq_base(1e6)
    w.add_layer_norm_rms_eps(1e-6)
    w.add_expert_count(N_EXPERT)
    w.add_expert_used_count(N_USED)
    w.add_expert_feed_forward_length(N_FF_EXP)
    add_byte_vocab(w)

    def f32(*shape: int, scale: float = 0.02) -> np.ndarray:
        return (rng.standard_normal(shape, dtype=np.float32) * scale).astype(np.float32)

    def add_q4(name: str, data: np.ndarray, shape: tuple[int, ...]) -> None:
        w.add_tensor(name, data, raw_shape=shape[:-1] + (shape[-1] // Q4_K_BLOCK * Q4_K_BYTES,), raw_dtype=q4)

    gate_up = q4_k(N_EXPERT * N_FF_EXP, N_EMBD, rng)
    down = q4_k(N_EXPERT * N_EMBD, N_FF_EXP, rng)
    attn_q, attn_o = q4_k(N_HEAD * HEAD, N_EMBD, rng), q4_k(N_EMBD, N_HEAD * HEAD, rng)
    attn_kv = q4_k(N_HEAD_KV * HEAD, N_EMBD, rng)
    ones = np.ones(N_EMBD, dtype=np.float32)
    w.add_tensor("token_embd.weight", f32(len(tokens), N_EMBD))
    for i in range(n_layer):
        w.add_tensor(f"blk.{i}.attn_norm.weight", ones)
        add_q4(f"blk.{i}.attn_q.weight", attn_q, (N_HEAD * HEAD, N_EMBD))
        add_q4(f"blk.{i}.attn_k.weight", attn_kv, (N_HEAD_KV * HEAD, N_EMBD))
        add_q4(f"blk.{i}.attn_v.weight", attn_kv, (N_HEAD_KV * HEAD, N_EMBD))
        add_q4(f"blk.{i}.attn_output.weight", attn_o, (N_EMBD, N_HEAD * HEAD))
        w.add_tensor(f"blk.{i}.attn_q_norm.weight", np.ones(HEAD, dtype=np.float32))
        w.add_tensor(f"blk.{i}.attn_k_norm.weight", np.ones(HEAD, dtype=np.float32))
        w.add_tensor(f"blk.{i}.ffn_norm.weight", ones)
        w.add_tensor(f"blk.{i}.ffn_gate_inp.weight", f32(N_EXPERT, N_EMBD))
        add_q4(f"blk.{i}.ffn_gate_exps.weight", gate_up.reshape(N_EXPERT, N_FF_EXP, -1), (N_EXPERT, N_FF_EXP, N_EMBD))
        add_q4(f"blk.{i}.ffn_up_exps.weight", gate_up.reshape(N_EXPERT, N_FF_EXP, -1), (N_EXPERT, N_FF_EXP, N_EMBD))
        add_q4(f"blk.{i}.ffn_down_exps.weight", down.reshape(N_EXPERT, N_EMBD, -1), (N_EXPERT, N_EMBD, N_FF_EXP))
    w.add_tensor("output_norm.weight", ones)
    w.add_tensor("output.weight", f32(len(tokens), N_EMBD))
    return finish(w, tmp, path)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path)
    parser.add_argument("--layers", type=int, default=48)
    args = parser.parse_args()
    if not args.out.exists():
        write(args.out, args.layers)
    print(f"{args.out}: {args.out.stat().st_size / 1e9:.1f} GB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
