"""The binding layer fails loudly: unknown struct fields, untested llama-cpp-python versions, loader exceptions."""

from __future__ import annotations

import re
import tomllib

import llama_cpp
import pytest

from deskseek.engines.local import Engine, LoadError
from deskseek.llama import binding
from deskseek.llama.binding import BindingError, set_fields
from deskseek.llama.overrides import CpuOverrides
from tests.conftest import REPO_ROOT
from tests.engines.test_local import starter_path  # noqa: F401  (session fixture)


def test_a_field_the_struct_lacks_is_refused_not_silently_added():
    params = llama_cpp.llama_model_default_params()
    with pytest.raises(BindingError, match=r"has no llama_model_params\.use_extra_buffers; deskseek is tested with"):
        set_fields(params, n_gpu_layers=0, use_extra_buffers=False)
    assert not hasattr(params, "use_extra_buffers")
    set_fields(params, n_gpu_layers=3, use_extra_bufts=False)
    assert (params.n_gpu_layers, params.use_extra_bufts) == (3, False)


def test_the_pinned_llama_cpp_python_is_the_tested_one():
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    [pin] = [dep for dep in project["dependencies"] if dep.startswith("llama-cpp-python")]
    assert re.fullmatch(r"llama-cpp-python==([\d.]+)", pin), f"pin it to an exact, tested version: {pin}"
    assert pin.split("==")[1] in binding.TESTED_VERSIONS
    assert binding.version() in binding.TESTED_VERSIONS, "the installed llama-cpp-python was never tested"


def test_the_engine_keeps_what_the_model_points_to(starter_path):  # noqa: F811
    """llama_model keeps its params, the override array included: the engine must own that memory for its life."""
    with Engine(starter_path, n_ctx=128, n_threads=2, cpu_patterns=[r"\.ffn_up"], on_progress=lambda f: None) as e:
        assert isinstance(e._overrides, CpuOverrides) and e._overrides.patterns == [rb"\.ffn_up"]
        assert e._progress is not None


def test_a_loader_exception_becomes_one_line(starter_path, monkeypatch):  # noqa: F811
    def refuse(*_args):
        raise RuntimeError("llama_model_load: vocab mismatch")

    monkeypatch.setattr(llama_cpp, "llama_model_load_from_file", refuse)
    with pytest.raises(LoadError, match=r"^cannot load SmolLM2-135M-Instruct.Q4_1.gguf: llama_model_load: vocab"):
        Engine(starter_path, n_ctx=128, n_threads=2)



