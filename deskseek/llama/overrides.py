"""Tensor buffer-type overrides: which weights must live in system RAM, in the form llama.cpp reads."""

from __future__ import annotations

import ctypes

from deskseek.llama.binding import function, set_fields


class _Override(ctypes.Structure):
    """struct llama_model_tensor_buft_override { const char *pattern; ggml_backend_buffer_type_t buft; }"""

    _fields_ = [("pattern", ctypes.c_char_p), ("buft", ctypes.c_void_p)]


class CpuOverrides:
    """Tensor-name patterns whose weights must live in a CPU buffer (system RAM).

    llama-cpp-python 0.3.x binds `llama_model_params.tensor_buft_overrides` as an unused void pointer and
    `Llama()` ignores unknown keyword arguments, so we build the NULL-terminated array ourselves. The
    model keeps the params it was loaded with, this pointer included: the owner keeps this object (array
    and strings) alive as long as the model.
    """

    def __init__(self, patterns: list[str]):
        cpu = function("ggml_backend_cpu_buffer_type", "ggml-base", [], ctypes.c_void_p)()
        if not cpu:
            raise OSError("ggml has no CPU buffer type")
        self.patterns = [pattern.encode() for pattern in patterns]
        self.array = (_Override * (len(patterns) + 1))()
        for slot, pattern in zip(self.array, self.patterns):
            slot.pattern, slot.buft = pattern, cpu
        self.array[len(patterns)].pattern, self.array[len(patterns)].buft = None, None

    def apply(self, params) -> None:
        """Point llama_model_params at the array; mmap off, as llama.cpp advises with overrides."""
        import llama_cpp

        set_fields(params, tensor_buft_overrides=ctypes.cast(self.array, ctypes.c_void_p),
                   load_mode=llama_cpp.LLAMA_LOAD_MODE_NONE)  # read into buffers: no mmap
