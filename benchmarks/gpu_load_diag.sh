#!/usr/bin/env bash
# Where deskseek's model load segfaults on CUDA (2026-11-30: every Engine load did, inside
# llama_model_load_from_file, while llama-bench loaded and ran the same file at 282 tok/s): raw llama_cpp with
# and without a progress callback, deskseek's Engine at the commits in $TREES (each a folder holding `deskseek/`,
# made here with `git archive COMMIT deskseek | tar -x -C .bisect/COMMIT`, carried as `.bisect`), and raw loads
# after deskseek's native log and AMX decision. Run after `bash benchmarks/gpu_session.sh none` (the build).
#
#   TREES=".bisect/1a5c98a .bisect/HEAD" bash benchmarks/gpu_load_diag.sh
set -u
SITE=${SITE:-/tmp/lcp-site}
export PYTHONUNBUFFERED=1 DESKSEEK_CPU_AMX=off DESKSEEK_HOME=/tmp/dh LD_LIBRARY_PATH=${BUILD:-/tmp/lcp-build}/bin
M=/tmp/random-qwen2-1.5b-draft-Q4_K.gguf
PYTHONPATH=$SITE:$PWD python3 benchmarks/speculative_gpu.py --dir /tmp --write-only
try() { echo "== $1"; shift; timeout 60 "$@" 2>&1 | grep -v "^llama_\|^load\|^print_info\|^\.\|^ggml_\|^  Device\|^gguf" | tail -4; echo "rc=${PIPESTATUS[0]}"; }
try "raw load, ngl 99" env PYTHONPATH=$SITE python3 -c "
import llama_cpp as L; L.llama_backend_init(); p=L.llama_model_default_params(); p.n_gpu_layers=99
m=L.llama_model_load_from_file(b'$M', p); print('model', bool(m))
c=L.llama_init_from_model(m, L.llama_context_default_params()); print('ctx', bool(c))"
try "raw load + progress cb" env PYTHONPATH=$SITE python3 -c "
import llama_cpp as L; L.llama_backend_init(); p=L.llama_model_default_params(); p.n_gpu_layers=99
cb=L.llama_progress_callback(lambda f, d: True); p.progress_callback=cb
m=L.llama_model_load_from_file(b'$M', p); print('model', bool(m))"
for c in ${TREES:-.}; do
  try "Engine at $c" env PYTHONPATH=$SITE:$PWD/$c python3 -X faulthandler -c "
from deskseek.engines.local import Engine
from deskseek.engines.events import Settings
e = Engine('$M', n_ctx=512, reasoning=False)
r = e.generate([{'role': 'user', 'content': 'hi'}], Settings(temperature=0, max_tokens=8, ignore_eos=True)).wait()
print('ok', r.stats.gen_tok_s)"
done
for step in "from deskseek.llama import native_log; native_log.install()" "from deskseek.llama import cpu; print(cpu.prepare())"; do
  try "raw load after: $step" env PYTHONPATH=$SITE:$PWD python3 -X faulthandler -c "
$step
import llama_cpp as L; L.llama_backend_init(); p=L.llama_model_default_params(); p.n_gpu_layers=99
m=L.llama_model_load_from_file(b'$M', p); print('model', bool(m))"
done
