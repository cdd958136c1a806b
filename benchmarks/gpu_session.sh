#!/usr/bin/env bash
# The GPU checks CI cannot make, as one script for a short lease on a CUDA machine with no network.
#
#   bash benchmarks/gpu_session.sh [STEP] [GPU_MEM]    STEP: moe (default), speculative, rpc, all, none (build only)
#                                                      (OUT=folder for logs; DEV=.dev by default)
#
# Expects in $DEV: lcp.tgz (llama-cpp-python's sdist trimmed to the sources: `lcp/`), whl/ (gguf, platformdirs,
# diskcache wheels). Builds the vendored llama.cpp with CUDA once (libllama for llama-cpp-python, and llama-bench),
# writes a random-weight GGUF of Qwen3-30B-A3B's shapes beside the build, then runs benchmarks/moe_placement.py:
# the planner's placement against llama.cpp's --n-cpu-moe values and layer offload, with llama-bench beside it;
# `speculative` runs benchmarks/speculative_gpu.py (7B/1.5B-shaped random pair); `rpc` runs benchmarks/rpc_split.py
# with CUDA workers (llama.cpp is built with GGML_RPC on for it).
# Every step is skipped when its output is already there, so a second call on a warm machine goes straight on.
set -euo pipefail
export PYTHONUNBUFFERED=1
DEV=${DEV:-.dev}; OUT=${OUT:-/tmp/gpu-out}; STEP=${1:-moe}; GPU_MEM=${2:-8G}
SITE=${SITE:-/tmp/lcp-site}; BUILD=${BUILD:-/tmp/lcp-build}; SRC=${SRC:-/tmp/lcp-src}; MODEL=/tmp/qwen3-30b-a3b-random-Q4_K.gguf
mkdir -p "$OUT"
say() { echo "[$(date +%T)] $*"; }
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
if [ ! -d "$SITE/llama_cpp" ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --target "$SITE" "$DEV"/whl/*.whl
  mkdir -p "$SRC" && tar -xzf "$DEV/lcp.tgz" -C "$SRC"
  cp -r "$SRC/lcp/llama_cpp" "$SITE/"
fi
export PYTHONPATH=$SITE:$PWD DESKSEEK_HOME=/tmp/deskseek-home
if [ ! -f "$MODEL" ] && [[ $STEP == moe || $STEP == all ]]; then
  say "writing $MODEL (in the background)"
  python3 benchmarks/moe_model.py "$MODEL" > "$OUT/model.log" 2>&1 &
  WRITER=$!
fi
if [ ! -x "$BUILD/bin/llama-bench" ]; then
  say "building llama.cpp with CUDA"
  cmake -S "$SRC/lcp/vendor/llama.cpp" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DGGML_CUDA=ON \
    -DCMAKE_CUDA_ARCHITECTURES=90 -DGGML_CUDA_FA=OFF -DGGML_RPC=ON -DBUILD_SHARED_LIBS=ON -DGGML_NATIVE=ON \
    -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF -DLLAMA_CURL=OFF > "$OUT/cmake.log" 2>&1
  ninja -C "$BUILD" llama-bench > "$OUT/build.log" 2>&1 || { tail -30 "$OUT/build.log"; exit 1; }
  say "built"
fi
mkdir -p "$SITE/llama_cpp/lib"
cp -P "$BUILD"/bin/*.so* "$SITE/llama_cpp/lib/"
export LD_LIBRARY_PATH=$BUILD/bin:${LD_LIBRARY_PATH:-}
[ -n "${WRITER:-}" ] && { wait "$WRITER"; cat "$OUT/model.log"; }
if [[ $STEP == moe || $STEP == all ]]; then
  say "deskseek info"
  python3 -m deskseek.cli info "$MODEL" --gpu-mem "$GPU_MEM" || true
  say "placement sweep"
  python3 benchmarks/moe_placement.py --model "$MODEL" --gpu-mem "$GPU_MEM" --tokens 64 --step 4 \
    --llama-bench "$BUILD/bin/llama-bench" 2>&1 | tee "$OUT/moe_placement.txt"
fi
if [[ $STEP == speculative || $STEP == all ]]; then
  say "speculative decoding"
  python3 benchmarks/speculative_gpu.py --dir /tmp --write-only
  "$BUILD/bin/llama-bench" -m /tmp/random-qwen2-7b-Q4_K.gguf -ngl 99 -p 64 -n 32 2>&1 | tail -5 || true
  if ! python3 benchmarks/speculative_gpu.py --dir /tmp ${SPEC_ARGS:-} 2>&1 | tee "$OUT/speculative_gpu.txt"; then
    say "it failed: where (gdb, if there is one)"
    command -v gdb && gdb -batch -ex run -ex bt --args python3 benchmarks/speculative_gpu.py --dir /tmp --tokens 8 \
      --rounds 1 2>&1 | grep -v "^\[New Thread\|^\[Thread" | tail -40
  fi
fi
if [[ $STEP == rpc || $STEP == all ]]; then
  say "RPC split"
  python3 benchmarks/rpc_split.py --gpu 2>&1 | tee "$OUT/rpc_split.txt"
fi
say "done"
