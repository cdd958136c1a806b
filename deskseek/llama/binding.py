"""How deskseek reaches llama.cpp past llama-cpp-python: C functions by name, struct fields by name, checked.

Everything here fails loudly. ctypes forgives too much: assigning to a field a struct does not have
just creates a Python attribute, and a function looked up in the wrong copy of a library runs on the
wrong globals. A llama-cpp-python upgrade that renames a field must stop deskseek with one clear line,
not silently load a model without the setting that kept it from crashing.
"""

from __future__ import annotations

import ctypes

from deskseek.errors import DeskseekError

# llama-cpp-python versions whose C structs and functions this module has been checked against (the suite
# passed on each). pyproject.toml pins the same; tests/llama/test_binding.py fails when they drift apart.
TESTED_VERSIONS = ("0.3.36",)


class BindingError(DeskseekError):
    """The installed llama-cpp-python does not have a struct field or function deskseek relies on."""


def version() -> str:
    import llama_cpp

    return getattr(llama_cpp, "__version__", "unknown")


def function(name: str, library: str, argtypes: list, restype):
    """A C function from the ggml/llama libraries *already loaded* by llama-cpp-python.

    Looked up through libllama's own handle first: the dynamic linker then searches the libraries it
    depends on. Opening `libggml-base.so` by path instead can load a second copy of ggml (wheels ship
    `libggml-base.so` and the `libggml-base.so.0` libllama links against as separate files), whose
    pointers and globals differ: llama.cpp would not recognise its own CPU buffer type, and a thread
    pool or device list would come from a different ggml than the one computing. Where the handle does
    not reach dependencies (Windows), the named library is loaded, which there reuses the loaded module.
    """
    import llama_cpp.llama_cpp as bindings
    from llama_cpp._ctypes_extensions import load_shared_library

    try:
        found = getattr(bindings._lib, name)
    except AttributeError:
        found = getattr(load_shared_library(library, bindings._base_path), name)
    found.argtypes, found.restype = argtypes, restype
    return found


def set_fields(struct: ctypes.Structure, **values) -> None:
    """Assign C struct fields, refusing any name the struct does not declare (ctypes would accept it)."""
    declared = {name for cls in type(struct).__mro__ for name, *_ in getattr(cls, "_fields_", [])}
    missing = sorted(set(values) - declared)
    if missing:
        raise BindingError(
            f"llama-cpp-python {version()} has no {type(struct).__name__}.{', '.join(missing)}; "
            f"deskseek is tested with {', '.join(TESTED_VERSIONS)} (reinstall with `make setup`)"
        )
    for name, value in values.items():
        setattr(struct, name, value)
