"""The AMX probe, run as a child process: `python -m deskseek.llama.amx_probe`.

It writes the tiny models of `probe_models` in every AMX quantization, runs a 24-token batch through
each with llama.cpp's AMX buffer type in play, then again with it excluded, and prints one JSON line per
step on stdout: {"model": NAME} before each AMX run (so that a crash names its model), then
{"errors": {NAME: relative L2 error of the last token's logits}, "amx": {NAME: AMX buffer used}}.
A crash kills only this process; `cpu.py` reads the signal from the exit status.

`--plain` excludes AMX from the first pass too: a control run that must pass on every machine.
"""

from __future__ import annotations

import ctypes
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

from deskseek.llama import cpu, native_log, probe_models
from deskseek.llama.binding import set_fields

BATCH = 24


def _say(**record) -> None:
    print(json.dumps(record), flush=True)


def logits(path: Path, threads: int) -> tuple[np.ndarray, bool]:
    """The last position's logits after one batch, and whether llama.cpp put weights in an AMX buffer."""
    import llama_cpp

    mark = native_log.mark()
    params = llama_cpp.llama_model_default_params()
    set_fields(params, n_gpu_layers=0)  # the CPU's kernels are what is being checked
    model = llama_cpp.llama_model_load_from_file(str(path).encode(), params)
    if not model:
        raise RuntimeError(f"llama.cpp could not load {path.name}: {native_log.first_error(mark)}")
    cparams = llama_cpp.llama_context_default_params()
    set_fields(cparams, n_ctx=64, n_batch=BATCH, n_ubatch=BATCH, n_threads=threads, n_threads_batch=threads)
    ctx = llama_cpp.llama_init_from_model(model, cparams)
    try:
        tokens = (llama_cpp.llama_token * BATCH)(1, *range(3, 3 + BATCH - 1))
        if llama_cpp.llama_decode(ctx, llama_cpp.llama_batch_get_one(tokens, BATCH)) != 0:
            raise RuntimeError(f"llama.cpp could not decode with {path.name}")
        out = llama_cpp.llama_get_logits_ith(ctx, -1)
        values = np.ctypeslib.as_array(ctypes.cast(out, ctypes.POINTER(ctypes.c_float)), (probe_models.N_VOCAB,))
        used_amx = any("AMX" in line and "buffer size" in line for line in native_log.lines_since(mark))
        return values.copy(), used_amx
    finally:
        llama_cpp.llama_free(ctx)
        llama_cpp.llama_model_free(model)


def main(argv: list[str]) -> int:
    import llama_cpp

    native_log.install()
    llama_cpp.llama_backend_init()
    plain = "--plain" in argv
    with tempfile.TemporaryDirectory(prefix="deskseek-amx-probe-") as tmp:
        models = {}
        for arch in ("llama", "deepseek2"):
            source = getattr(probe_models, f"tiny_{arch}")(Path(tmp) / f"{arch}-F16.gguf")
            models[f"{arch} F16"] = source
            for quant in probe_models.QUANTS:
                models[f"{arch} {quant}"] = probe_models.quantize(source, Path(tmp) / f"{arch}-{quant}.gguf", quant)
        if plain:
            cpu.exclude_amx()
        first, amx = {}, {}
        for name, path in models.items():
            _say(model=name)
            first[name], amx[name] = logits(path, threads=2)
        cpu.exclude_amx()
        errors = {}
        for name, path in models.items():
            reference, _ = logits(path, threads=2)
            errors[name] = float(np.linalg.norm(first[name] - reference) / (np.linalg.norm(reference) or 1.0))
    _say(errors=errors, amx=amx)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
