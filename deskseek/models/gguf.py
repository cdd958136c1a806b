"""Read a GGUF's metadata and tensor table straight from its header, without loading any weights.

`deskseek list`, `import` and the placement planner need a model's architecture, size and tensor shapes
in milliseconds, for files of hundreds of gigabytes, without llama.cpp (which would map the whole file).
The header comes from files we did not write (downloads, other apps' stores), so every count, length
and type is checked against the file before it is trusted: a bad file is one NotGguf line, never a
Python error, and a file cut short anywhere (tensor data included) is called truncated.
"""

from __future__ import annotations

import os
import re
import struct
from dataclasses import dataclass, field
from pathlib import Path

from deskseek.errors import DeskseekError

MAGIC = b"GGUF"
DEFAULT_ALIGNMENT = 32  # GGUF's data section starts at a multiple of general.alignment, 32 when unset

# GGUF metadata value types, from the GGUF spec.
_SCALARS = {
    0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d",
}
_STRING, _ARRAY = 8, 9
_INTEGERS = {0, 1, 2, 3, 4, 5, 10, 11}
_MAX_NESTING = 4  # arrays of arrays: the spec allows them, real files use none
_KEPT_ITEMS = 64  # longer arrays (vocabularies) are kept as their length...
_KEPT_NUMBERS = 1024  # ...except numbers per layer (head counts of a 100-layer model), read in full
_MAX_ITEMS = 1 << 32  # no real array comes near (vocabularies hold some 10**5): a count past it is garbage


# ggml tensor types: (elements per block, bytes per block), from ggml's type traits. Enough to size a tensor
# from its shape without touching its data (planner tests build tables of models nobody has downloaded).
GGML_TYPES: dict[int, tuple[int, int]] = {
    0: (1, 4), 1: (1, 2), 2: (32, 18), 3: (32, 20), 6: (32, 22), 7: (32, 24), 8: (32, 34), 9: (32, 36),
    10: (256, 84), 11: (256, 110), 12: (256, 144), 13: (256, 176), 14: (256, 210), 15: (256, 292),
    16: (256, 66), 17: (256, 74), 18: (256, 98), 19: (256, 50), 20: (32, 18), 21: (256, 110), 22: (256, 82),
    23: (256, 136), 24: (1, 1), 25: (1, 2), 26: (1, 4), 27: (1, 8), 28: (1, 8), 29: (256, 56), 30: (1, 2),
    34: (256, 54), 35: (256, 66), 39: (32, 17),
}
GGML_TYPE_IDS = {
    "F32": 0, "F16": 1, "Q4_0": 2, "Q4_1": 3, "Q5_0": 6, "Q5_1": 7, "Q8_0": 8, "Q2_K": 10, "Q3_K": 11, "Q4_K": 12,
    "Q5_K": 13, "Q6_K": 14, "IQ2_XXS": 16, "IQ2_XS": 17, "IQ3_XXS": 18, "IQ1_S": 19, "IQ4_NL": 20, "IQ3_S": 21,
    "IQ2_S": 22, "IQ4_XS": 23, "IQ1_M": 29, "BF16": 30, "TQ1_0": 34, "TQ2_0": 35, "MXFP4": 39,
}

# general.file_type (llama.cpp's llama_ftype): the quantization a file was made with, for files whose name
# does not say (Ollama's blobs are named by their hash). Bit 1024 marks a type llama.cpp had to guess.
FILE_TYPES = {
    0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 7: "Q8_0", 8: "Q5_0", 9: "Q5_1", 10: "Q2_K", 11: "Q3_K_S",
    12: "Q3_K_M", 13: "Q3_K_L", 14: "Q4_K_S", 15: "Q4_K_M", 16: "Q5_K_S", 17: "Q5_K_M", 18: "Q6_K",
    19: "IQ2_XXS", 20: "IQ2_XS", 21: "Q2_K_S", 22: "IQ3_XS", 23: "IQ3_XXS", 24: "IQ1_S", 25: "IQ4_NL",
    26: "IQ3_S", 27: "IQ3_M", 28: "IQ2_S", 29: "IQ2_M", 30: "IQ4_XS", 31: "IQ1_M", 32: "BF16", 36: "TQ1_0",
    37: "TQ2_0", 38: "MXFP4_MOE",
}
_GUESSED_FILE_TYPE = 1024

_ARCHITECTURE = re.compile(r"[A-Za-z0-9._-]{1,64}")
THINK_TAGS = ("<think>", "</think>")


class NotGguf(DeskseekError):
    """A file that is not a GGUF, or whose header is cut short or malformed."""


def is_reasoning_template(template: str) -> bool:
    """A chat template that mentions the think tags belongs to a model that reasons (R1, Qwen3, QwQ...).

    The one rule for "does it think" everywhere: the engine at load time, `list` and `import` from the
    header, `run` for a model in another app's folder.
    """
    return any(tag in template for tag in THINK_TAGS)


@dataclass(frozen=True)
class Tensor:
    name: str
    shape: tuple[int, ...]
    ggml_type: int
    offset: int

    @property
    def elements(self) -> int:
        count = 1
        for dim in self.shape:
            count *= dim
        return count

    @property
    def nbytes(self) -> int:
        block, size = GGML_TYPES.get(self.ggml_type, (1, 4))  # an unknown type: assume the worst, f32
        return self.elements // block * size


@dataclass
class GgufInfo:
    path: Path
    version: int
    metadata: dict = field(default_factory=dict)  # arrays longer than 64 items are kept as their length
    tensors: list[Tensor] = field(default_factory=list)

    @property
    def architecture(self) -> str | None:
        return self.metadata.get("general.architecture")

    def arch_value(self, key: str, default=None):
        return self.metadata.get(f"{self.architecture}.{key}", default)

    @property
    def chat_template(self) -> str | None:
        return self.metadata.get("tokenizer.chat_template")

    @property
    def thinks(self) -> bool | None:
        """Whether the model reasons, from its own chat template; None when it carries no template."""
        template = self.chat_template
        return None if template is None else is_reasoning_template(template)

    @property
    def quant(self) -> str | None:
        """The quantization named by general.file_type, if the file records one deskseek knows."""
        kind = self.metadata.get("general.file_type")
        return FILE_TYPES.get(kind & ~_GUESSED_FILE_TYPE) if isinstance(kind, int) else None

    @property
    def parameters(self) -> int:
        return sum(t.elements for t in self.tensors)

    @property
    def active_parameters(self) -> int:
        """Per-token parameters: a MoE touches `expert_used_count` of `expert_count` routed experts."""
        experts = self.arch_value("expert_count") or 0
        used = self.arch_value("expert_used_count") or 0
        if not experts or not used:
            return self.parameters
        routed = sum(t.elements for t in self.tensors if "_exps" in t.name)
        return self.parameters - routed + routed * used // experts


class _Reader:
    """Reads the header, checking every length against what is left of the file before reading it."""

    def __init__(self, handle, path: Path):
        self.handle, self.path = handle, path
        self.size = os.fstat(handle.fileno()).st_size

    def left(self) -> int:
        return self.size - self.handle.tell()

    def truncated(self) -> NotGguf:
        return NotGguf(f"{self.path}: truncated GGUF header (the file is incomplete or damaged)")

    def malformed(self, what: str) -> NotGguf:
        return NotGguf(f"{self.path}: malformed GGUF header ({what})")

    def take(self, size: int) -> bytes:
        if size > self.left():
            raise self.truncated()
        data = self.handle.read(size)
        if len(data) != size:
            raise self.truncated()
        return data

    def skip(self, size: int) -> None:
        if size > self.left():
            raise self.truncated()
        self.handle.seek(size, os.SEEK_CUR)

    def skip_strings(self, count: int) -> None:
        """Step over `count` strings (a vocabulary: most of a header's bytes) a megabyte at a time, undecoded."""
        start = self.handle.tell()
        chunk, base, at = b"", start, 0  # `chunk` holds the file's bytes from `base`; `at` is our place in it
        for _ in range(count):
            if at + 8 > len(chunk):
                base += at
                self.handle.seek(base)
                chunk, at = self.handle.read(1 << 20), 0
                if len(chunk) < 8:
                    raise self.truncated()
            length = struct.unpack_from("<Q", chunk, at)[0]
            if length > 1 << 26:
                raise self.malformed(f"string of {length} bytes")
            at += 8 + length
        if base + at > self.size:
            raise self.truncated()
        self.handle.seek(base + at)

    def scalar(self, fmt: str):
        return struct.unpack(fmt, self.take(struct.calcsize(fmt)))[0]

    def string(self) -> str:
        length = self.scalar("<Q")
        if length > 1 << 26:
            raise self.malformed(f"string of {length} bytes")
        return self.take(length).decode("utf-8", errors="replace")

    def value(self, kind: int, depth: int = 0):
        if kind in _SCALARS:
            return self.scalar(_SCALARS[kind])
        if kind == _STRING:
            return self.string()
        if kind == _ARRAY:
            return self.array(depth)
        raise self.malformed(f"unknown value type {kind}")

    def array(self, depth: int):
        item_kind, count = self.scalar("<I"), self.scalar("<Q")
        if depth >= _MAX_NESTING:
            raise self.malformed("arrays nested too deep")
        if item_kind in _SCALARS:
            smallest = struct.calcsize(_SCALARS[item_kind])
        elif item_kind in (_STRING, _ARRAY):
            smallest = 8 if item_kind == _STRING else 12  # a length, or an item type and a count
        else:
            raise self.malformed(f"unknown value type {item_kind}")
        if count > _MAX_ITEMS:
            raise self.malformed(f"an array of {count} items")
        if count * smallest > self.left():
            raise self.truncated()
        if count <= _KEPT_ITEMS or (item_kind in _SCALARS and count <= _KEPT_NUMBERS):
            return [self.value(item_kind, depth + 1) for _ in range(count)]
        if item_kind in _SCALARS:
            self.skip(smallest * count)
        elif item_kind == _STRING:
            self.skip_strings(count)
        else:
            for _ in range(count):
                self.array(depth + 1)
        return count


# Keys whose type the rest of deskseek relies on: a file that breaks them is refused here, in one line,
# rather than imported and then breaking every `list` after it.
_STRING_KEYS = ("general.architecture", "tokenizer.chat_template")
_INTEGER_KEYS = ("general.alignment", "general.file_type")
_ARCH_INTEGER_KEYS = ("block_count", "context_length", "embedding_length", "expert_count", "expert_used_count",
                      "vocab_size", "attention.key_length", "attention.value_length")


def _check_types(info: GgufInfo, reader: _Reader) -> None:
    meta = info.metadata
    for key in _STRING_KEYS:
        if key in meta and not isinstance(meta[key], str):
            raise reader.malformed(f"{key} is {repr(meta[key])[:40]}, not a string")
    for key in _INTEGER_KEYS + tuple(f"{info.architecture}.{k}" for k in _ARCH_INTEGER_KEYS):
        if key in meta and (not isinstance(meta[key], int) or isinstance(meta[key], bool) or meta[key] < 0):
            raise reader.malformed(f"{key} is {repr(meta[key])[:40]}, not a count")
    if info.architecture is not None and not _ARCHITECTURE.fullmatch(info.architecture):
        raise reader.malformed(f"general.architecture {info.architecture[:40]!r} is not an architecture name")
    alignment = meta.get("general.alignment", DEFAULT_ALIGNMENT)
    if alignment <= 0 or alignment & (alignment - 1):
        raise reader.malformed(f"general.alignment {alignment} is not a power of two")


def _check_data_fits(info: GgufInfo, reader: _Reader) -> None:
    """Every tensor's bytes must lie inside the file: a download cut short has a whole header and no tail."""
    alignment = info.metadata.get("general.alignment", DEFAULT_ALIGNMENT)
    start = -(-reader.handle.tell() // alignment) * alignment
    end = start
    for tensor in info.tensors:
        size = tensor.nbytes if tensor.ggml_type in GGML_TYPES else 0  # an unknown type: its offset at least
        end = max(end, start + tensor.offset + size)
    if end > reader.size:
        raise NotGguf(f"{info.path}: truncated: tensor data ends at {end} bytes, file has {reader.size} "
                      "(the file is incomplete or damaged)")


def read(path: str | Path) -> GgufInfo:
    """Parse the header of a GGUF (the first part, for a split set); raise NotGguf on anything odd."""
    path = Path(path)
    try:
        handle = path.open("rb")
    except OSError as err:
        raise NotGguf(f"{path}: cannot open: {err.strerror or err}") from None
    try:
        with handle:
            return _parse(_Reader(handle, path))
    except OSError as err:  # a read error mid-header (a failing disk, a file on a vanished mount)
        raise NotGguf(f"{path}: cannot read: {err.strerror or err}") from None


def _parse(reader: _Reader) -> GgufInfo:
    path = reader.path
    if reader.handle.read(4) != MAGIC:
        raise NotGguf(f"{path}: not a GGUF file")
    version = reader.scalar("<I")
    if version not in (2, 3):
        raise NotGguf(f"{path}: unsupported GGUF version {version}")
    tensor_count, kv_count = reader.scalar("<Q"), reader.scalar("<Q")
    if tensor_count > 1 << 24 or kv_count > 1 << 20:
        raise reader.malformed(f"{kv_count} metadata entries and {tensor_count} tensors")
    if kv_count * 12 + tensor_count * 24 > reader.left():  # the least each KV pair and tensor entry takes
        raise reader.truncated()
    info = GgufInfo(path=path, version=version)
    for _ in range(kv_count):
        key = reader.string()
        info.metadata[key] = reader.value(reader.scalar("<I"))
    _check_types(info, reader)
    for _ in range(tensor_count):
        name = reader.string()
        dims = reader.scalar("<I")
        if dims > 8:
            raise NotGguf(f"{path}: malformed GGUF tensor table")
        shape = tuple(reader.scalar("<Q") for _ in range(dims))
        info.tensors.append(Tensor(name, shape, reader.scalar("<I"), reader.scalar("<Q")))
    _check_data_fits(info, reader)
    return info


def read_set(paths: list[Path]) -> GgufInfo:
    """One GgufInfo for a split set: metadata from the first part, tensors from every part."""
    first = read(paths[0])
    for part in paths[1:]:
        first.tensors.extend(read(part).tensors)
    return first
