"""The KV cache's element types: the names llama.cpp's `-ctk`/`-ctv` take, their ggml ids and their sizes.

A quantized cache is the cheapest memory a long context can buy (q8_0 holds a token in 53% of f16's bytes),
so the planner must count it, and the engine must hand llama.cpp the same type it was planned for. One
table serves both. A quantized V cache only works with flash attention (llama.cpp stores V transposed
without it, which block quantization cannot do), so that rule lives here too.
"""

from __future__ import annotations

from deskseek.models.gguf import GGML_TYPE_IDS, GGML_TYPES

# What llama.cpp's own --cache-type-k/-v accept, in its order; f16 is its default and ours.
CACHE_TYPES = ("f32", "f16", "bf16", "q8_0", "q4_0", "q4_1", "iq4_nl", "q5_0", "q5_1")
DEFAULT = "f16"
FLASH_ATTN = ("auto", "on", "off")
_FLASH_ATTN_TYPE = {"auto": -1, "off": 0, "on": 1}  # llama.cpp's enum llama_flash_attn_type
_UNQUANTIZED = ("f32", "f16", "bf16")


def ggml_type(name: str) -> int:
    """The ggml type id llama_context_params.type_k/type_v take."""
    return GGML_TYPE_IDS[name.upper()]


def bytes_per_element(name: str) -> float:
    """Bytes one cached value takes: 2 for f16, 34/32 for q8_0 (32 values share one f16 scale), 18/32 for q4_0."""
    block, size = GGML_TYPES[ggml_type(name)]
    return size / block


def quantized(name: str) -> bool:
    return name not in _UNQUANTIZED


def conflict(type_v: str, flash_attn: str) -> str | None:
    """Why this combination cannot load, in one line; None when it can."""
    if quantized(type_v) and flash_attn == "off":
        return (f"a {type_v} V cache needs flash attention, which --flash-attn off turns off; "
                "drop --flash-attn off or use -ctv f16")
    return None


def flash_attn_type(flash_attn: str, type_v: str) -> int:
    """llama_context_params.flash_attn_type: as asked, and on where a quantized V cache needs it.

    llama.cpp would turn "auto" on by itself for a quantized V cache too; saying so keeps one rule in one place.
    """
    return _FLASH_ATTN_TYPE["on" if quantized(type_v) and flash_attn == "auto" else flash_attn]
