"""Tiny random-weight GGUFs for checking llama.cpp's CPU kernels on this machine, and llama.cpp's quantizer.

The AMX probe needs models that exercise every code path a user's model can take through the CPU's
extra buffer types: a llama-type model and a DeepSeek-V3/R1 one (MLA attention, routed and shared
experts: it schedules differently), each in the quantizations llama.cpp has AMX kernels for. Weights
are random (speed and kernel correctness do not depend on their values); the shapes are multiples of
256 where the K-quants need it. The tokenizer is a bare SentencePiece table: the probe feeds token ids.
"""

from __future__ import annotations

import ctypes
from pathlib import Path

import numpy as np

from deskseek.llama.binding import set_fields

N_EMBD, N_HEAD, N_FF, N_VOCAB = 256, 4, 512, 320

# llama_ftype values (llama.h) of the quantizations llama.cpp's AMX kernels cover (Q4_0, Q4_1, Q8_0,
# Q4_K, Q5_K, Q6_K; the _M mixes also bring Q6_K output and Q5_0/Q8_0 fallbacks for odd rows).
QUANTS = {"Q4_0": 2, "Q4_1": 3, "Q8_0": 7, "Q4_K_M": 15, "Q5_K_M": 17, "Q6_K": 18}


def _writer(path: Path, arch: str, n_layer: int):
    from gguf import GGUFWriter, LlamaFileType

    w = GGUFWriter(str(path), arch=arch)
    w.add_name(f"deskseek-probe-{arch}")
    w.add_file_type(LlamaFileType.MOSTLY_F16)
    w.add_context_length(256)
    w.add_embedding_length(N_EMBD)
    w.add_block_count(n_layer)
    w.add_feed_forward_length(N_FF)
    w.add_head_count(N_HEAD)
    w.add_rope_freq_base(10000.0)
    w.add_layer_norm_rms_eps(1e-6)
    tokens = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)]
    tokens += [f"▁t{i}" for i in range(N_VOCAB - len(tokens))]
    w.add_tokenizer_model("llama")
    w.add_token_list(tokens)
    w.add_token_scores([0.0] * len(tokens))
    w.add_token_types([2, 3, 3] + [6] * 256 + [1] * (N_VOCAB - 259))
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    return w


class _Tensors:
    def __init__(self, writer, seed: int):
        self._w, self._rng = writer, np.random.default_rng(seed)

    def matrix(self, name: str, *shape: int, dtype=np.float16) -> None:
        # Scaled by fan-in so activations stay O(1) through the layers and the logits are well spread.
        data = self._rng.standard_normal(shape, dtype=np.float32) * (1.0 / shape[-1] ** 0.5)
        self._w.add_tensor(name, data.astype(dtype))

    def norm(self, name: str, n: int) -> None:
        self._w.add_tensor(name, np.ones(n, dtype=np.float32))

    def ffn(self, i: int, suffix: str, n_ff: int) -> None:
        self.matrix(f"blk.{i}.ffn_gate{suffix}.weight", n_ff, N_EMBD)
        self.matrix(f"blk.{i}.ffn_up{suffix}.weight", n_ff, N_EMBD)
        self.matrix(f"blk.{i}.ffn_down{suffix}.weight", N_EMBD, n_ff)


def _finish(w, t: _Tensors) -> None:
    t.norm("output_norm.weight", N_EMBD)
    t.matrix("output.weight", N_VOCAB, N_EMBD)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def tiny_llama(path: Path, seed: int = 0) -> Path:
    """Two llama layers: attention and a SwiGLU FFN, every matrix 256 wide."""
    w = _writer(path, "llama", n_layer=2)
    w.add_head_count_kv(N_HEAD)
    w.add_rope_dimension_count(N_EMBD // N_HEAD)
    t = _Tensors(w, seed)
    t.matrix("token_embd.weight", N_VOCAB, N_EMBD)
    for i in range(2):
        t.norm(f"blk.{i}.attn_norm.weight", N_EMBD)
        for name in ("q", "k", "v", "output"):
            t.matrix(f"blk.{i}.attn_{name}.weight", N_EMBD, N_EMBD)
        t.norm(f"blk.{i}.ffn_norm.weight", N_EMBD)
        t.ffn(i, "", N_FF)
    _finish(w, t)
    return path


def tiny_deepseek2(path: Path, seed: int = 0) -> Path:
    """DeepSeek-V3/R1 in miniature: MLA with a q LoRA and split k_b/v_b, a dense layer, then 4 routed + 1 shared."""
    from gguf import ExpertGatingFuncType

    q_lora, kv_lora, rope, nope, v_head, n_expert, n_ff_exp = 256, 256, 32, 64, 64, 4, 256
    w = _writer(path, "deepseek2", n_layer=2)
    w.add_head_count_kv(1)
    w.add_leading_dense_block_count(1)
    w.add_q_lora_rank(q_lora)
    w.add_kv_lora_rank(kv_lora)
    w.add_key_length(kv_lora + rope)
    w.add_value_length(kv_lora)
    w.add_key_length_mla(nope + rope)
    w.add_value_length_mla(v_head)
    w.add_rope_dimension_count(rope)
    w.add_expert_count(n_expert)
    w.add_expert_used_count(2)
    w.add_expert_feed_forward_length(n_ff_exp)
    w.add_expert_shared_count(1)
    w.add_expert_weights_scale(2.5)
    w.add_expert_weights_norm(True)
    w.add_expert_gating_func(ExpertGatingFuncType.SIGMOID)
    t = _Tensors(w, seed)
    t.matrix("token_embd.weight", N_VOCAB, N_EMBD)
    for i in range(2):
        t.norm(f"blk.{i}.attn_norm.weight", N_EMBD)
        t.matrix(f"blk.{i}.attn_q_a.weight", q_lora, N_EMBD)
        t.norm(f"blk.{i}.attn_q_a_norm.weight", q_lora)
        t.matrix(f"blk.{i}.attn_q_b.weight", N_HEAD * (nope + rope), q_lora)
        t.matrix(f"blk.{i}.attn_kv_a_mqa.weight", kv_lora + rope, N_EMBD)
        t.norm(f"blk.{i}.attn_kv_a_norm.weight", kv_lora)
        t.matrix(f"blk.{i}.attn_k_b.weight", N_HEAD, kv_lora, nope)
        t.matrix(f"blk.{i}.attn_v_b.weight", N_HEAD, v_head, kv_lora)
        t.matrix(f"blk.{i}.attn_output.weight", N_EMBD, N_HEAD * v_head)
        t.norm(f"blk.{i}.ffn_norm.weight", N_EMBD)
        if i == 0:
            t.ffn(i, "", N_FF)
            continue
        t.matrix(f"blk.{i}.ffn_gate_inp.weight", n_expert, N_EMBD, dtype=np.float32)
        for name in ("gate", "up"):
            t.matrix(f"blk.{i}.ffn_{name}_exps.weight", n_expert, n_ff_exp, N_EMBD)
        t.matrix(f"blk.{i}.ffn_down_exps.weight", n_expert, N_EMBD, n_ff_exp)
        w.add_tensor(f"blk.{i}.exp_probs_b.bias", np.zeros(n_expert, dtype=np.float32))
        t.ffn(i, "_shexp", n_ff_exp)
    _finish(w, t)
    return path


def quantize(source: Path, dest: Path, quant: str, threads: int = 2) -> Path:
    """Quantize with llama.cpp's own quantizer (as `llama-quantize` does); `quant` is a key of QUANTS."""
    import llama_cpp

    params = llama_cpp.llama_model_quantize_default_params()
    set_fields(params, ftype=QUANTS[quant], nthread=threads)
    status = llama_cpp.llama_model_quantize(str(source).encode(), str(dest).encode(), ctypes.byref(params))
    if status != 0:
        raise RuntimeError(f"llama.cpp could not quantize {source.name} to {quant} (status {status})")
    return dest
