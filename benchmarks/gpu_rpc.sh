#!/usr/bin/env bash
# llama.cpp's RPC backend on a CUDA machine: a `deskseek worker` lending the GPU, against the GPU used directly.
#
#   bash benchmarks/gpu_rpc.sh     (OUT=folder for logs; DEV=.dev by default; LAYERS=4: the model's blocks; ROUNDS=2)
#
# Same setup as benchmarks/gpu_session.sh (and the same build folder, so after it only ggml and ggml-rpc are
# rebuilt): $DEV/lcp.tgz, $DEV/whl/. Builds the vendored llama.cpp with CUDA and RPC, writes a random-weight GGUF
# of Qwen3-30B-A3B's shapes cut to $LAYERS blocks (benchmarks/moe_model.py), then benchmarks/rpc_split.py with one
# worker that has the GPU while the main process sees none (CUDA_VISIBLE_DEVICES empty): what the RPC path costs
# over loopback, the planner's estimate beside it, and whether both wrote the same text (greedy).
set -euo pipefail
export PYTHONUNBUFFERED=1
DEV=${DEV:-.dev}; OUT=${OUT:-/tmp/gpu-out}; LAYERS=${LAYERS:-4}; ROUNDS=${ROUNDS:-2}
SITE=${SITE:-/tmp/lcp-site}; BUILD=${BUILD:-/tmp/lcp-build}; SRC=${SRC:-/tmp/lcp-src}; MODEL=/tmp/qwen3-moe-${LAYERS}-layers-random-Q4_K.gguf
mkdir -p "$OUT"
say() { echo "[$(date +%T)] $*"; }
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
if [ ! -d "$SITE/llama_cpp" ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --target "$SITE" "$DEV"/whl/*.whl
  mkdir -p "$SRC" && tar -xzf "$DEV/lcp.tgz" -C "$SRC"
  cp -r "$SRC/lcp/llama_cpp" "$SITE/"
fi
export PYTHONPATH=$SITE:$PWD DESKSEEK_HOME=/tmp/deskseek-home
if [ ! -f "$MODEL" ]; then
  say "writing $MODEL (in the background)"
  python3 benchmarks/moe_model.py "$MODEL" --layers "$LAYERS" > "$OUT/model.log" 2>&1 &
  WRITER=$!
fi
if [ ! -f "$BUILD/bin/libggml-rpc.so" ]; then
  say "building llama.cpp with CUDA and RPC"
  cmake -S "$SRC/lcp/vendor/llama.cpp" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DGGML_CUDA=ON -DGGML_RPC=ON \
    -DCMAKE_CUDA_ARCHITECTURES=90 -DGGML_CUDA_FA=OFF -DBUILD_SHARED_LIBS=ON -DGGML_NATIVE=ON \
    -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF -DLLAMA_CURL=OFF > "$OUT/cmake.log" 2>&1
  ninja -C "$BUILD" llama ggml ggml-rpc > "$OUT/build.log" 2>&1 || { tail -30 "$OUT/build.log"; exit 1; }
  say "built"
fi
mkdir -p "$SITE/llama_cpp/lib"
cp -P "$BUILD"/bin/*.so* "$SITE/llama_cpp/lib/"
export LD_LIBRARY_PATH=$BUILD/bin:${LD_LIBRARY_PATH:-}
python3 -c "import llama_cpp, sys; sys.exit(0 if llama_cpp.llama_supports_rpc() else 'no RPC backend in this build')"
[ -n "${WRITER:-}" ] && { wait "$WRITER"; cat "$OUT/model.log"; }
say "split vs direct"
python3 benchmarks/rpc_split.py --model "$MODEL" --workers 1 --threads 8 --tokens 64 --rounds "$ROUNDS" --rpc-link 100 \
  --main-env CUDA_VISIBLE_DEVICES= 2>&1 | tee "$OUT/rpc_split.txt"
say "done"
