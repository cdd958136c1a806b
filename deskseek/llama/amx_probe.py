"""The AMX probe, run as a child process: `python -m deskseek.llama.amx_probe`.

It writes the tiny models of `probe_models` in every AMX quantization and, for each, feeds a 40-token batch
(one full 32-row AMX block and a partial one: the two paths of llama.cpp's AMX matmul for prompts) and then
two single tokens (its separate one-row path, every decoded token), with llama.cpp's AMX buffer type in
play; then the same again with AMX taken out. It prints one JSON line per step on stdout:
{"phase": "amx"|"plain", "model": NAME} before each run (so that a crash names its phase and model), then
{"errors": {NAME: worst relative L2 error of the logits}, "amx": {NAME: [AMX used in pass 1, in pass 2]},
"control": bool}.
A crash kills only this process; `cpu.py` reads the signal from the exit status.

`--plain` excludes AMX from the first pass too: a control run that must pass on every machine.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

from deskseek.llama import cpu, native_log, probe_models
from deskseek.llama.binding import set_fields

BATCH = 40
SINGLE_TOKENS = 2


def _say(**record) -> None:
    print(json.dumps(record), flush=True)


def logits(path: Path, threads: int) -> tuple[list[np.ndarray], bool]:
    """The last position's logits after the batch and after each single token; whether AMX held weights."""
    import llama_cpp

    mark = native_log.mark()
    params = llama_cpp.llama_model_default_params()
    set_fields(params, n_gpu_layers=0)  # the CPU's kernels are what is being checked
    model = llama_cpp.llama_model_load_from_file(str(path).encode(), params)
    if not model:
        raise RuntimeError(f"llama.cpp could not load {path.name}: {native_log.first_error(mark)}")
    cparams = llama_cpp.llama_context_default_params()
    set_fields(cparams, n_ctx=128, n_batch=BATCH, n_ubatch=BATCH, n_threads=threads, n_threads_batch=threads)
    ctx = llama_cpp.llama_init_from_model(model, cparams)
    if not ctx:
        llama_cpp.llama_model_free(model)
        raise RuntimeError(f"llama.cpp could not make a context for {path.name}: {native_log.first_error(mark)}")
    try:
        out = []
        steps = [[1, *range(3, 3 + BATCH - 1)]] + [[200 + i] for i in range(SINGLE_TOKENS)]
        for tokens in steps:
            array = (llama_cpp.llama_token * len(tokens))(*tokens)
            if llama_cpp.llama_decode(ctx, llama_cpp.llama_batch_get_one(array, len(tokens))) != 0:
                raise RuntimeError(f"llama.cpp could not decode with {path.name}")
            row = llama_cpp.llama_get_logits_ith(ctx, -1)
            values = ctypes.cast(row, ctypes.POINTER(ctypes.c_float))
            out.append(np.ctypeslib.as_array(values, (probe_models.N_VOCAB,)).copy())
        used_amx = any("AMX" in line and "buffer size" in line for line in native_log.lines_since(mark))
        return out, used_amx
    finally:
        llama_cpp.llama_free(ctx)
        llama_cpp.llama_model_free(model)


def _error(got: list[np.ndarray], want: list[np.ndarray]) -> float:
    """The worst relative L2 error over the steps; inf where either side is not finite."""
    worst = 0.0
    for a, b in zip(got, want, strict=True):
        if not (np.isfinite(a).all() and np.isfinite(b).all()):
            return float("inf")
        worst = max(worst, float(np.linalg.norm(a - b) / (np.linalg.norm(b) or 1.0)))
    return worst


def main(argv: list[str]) -> int:
    import llama_cpp

    native_log.install()
    llama_cpp.llama_backend_init()
    plain = "--plain" in argv
    given = os.environ.get(cpu.WORK_DIR_ENV)  # the parent's folder, removed by it even when this crashes
    with contextlib.nullcontext(given) if given else tempfile.TemporaryDirectory(prefix="deskseek-amx-probe-") as tmp:
        models = {}
        for arch in ("llama", "deepseek2"):
            source = getattr(probe_models, f"tiny_{arch}")(Path(tmp) / f"{arch}-F16.gguf")
            models[f"{arch} F16"] = source
            for quant in probe_models.QUANTS:
                models[f"{arch} {quant}"] = probe_models.quantize(source, Path(tmp) / f"{arch}-{quant}.gguf", quant)
        if plain and not cpu.exclude_amx():
            raise SystemExit("AMX could not be taken out of llama.cpp's buffer types")
        first, used = {}, {}
        for name, path in models.items():
            _say(phase="amx", model=name)
            first[name], used[name] = logits(path, threads=2)
        if not cpu.exclude_amx():
            raise SystemExit("AMX could not be taken out of llama.cpp's buffer types")
        errors = {}
        for name, path in models.items():
            _say(phase="plain", model=name)
            reference, plain_used = logits(path, threads=2)
            errors[name], used[name] = _error(first[name], reference), [used[name], plain_used]
    _say(errors=errors, amx=used, control=plain)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
