"""Read a GGUF's metadata and tensor table straight from its header, without loading any weights.

`deskseek list`, `import` and the placement planner need a model's architecture, size and tensor shapes
in milliseconds, for files of hundreds of gigabytes, without llama.cpp (which would map the whole file).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

from deskseek.errors import DeskseekError

MAGIC = b"GGUF"

# GGUF metadata value types, from the GGUF spec.
_SCALARS = {
    0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d",
}
_STRING, _ARRAY = 8, 9


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


class NotGguf(DeskseekError):
    """A file that is not a GGUF, or whose header is cut short or malformed."""


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
    def __init__(self, handle, path: Path):
        self.handle, self.path = handle, path

    def take(self, size: int) -> bytes:
        data = self.handle.read(size)
        if len(data) != size:
            raise NotGguf(f"{self.path}: truncated GGUF header (the file is incomplete or damaged)")
        return data

    def scalar(self, fmt: str):
        return struct.unpack(fmt, self.take(struct.calcsize(fmt)))[0]

    def string(self) -> str:
        length = self.scalar("<Q")
        if length > 1 << 26:
            raise NotGguf(f"{self.path}: malformed GGUF header (string of {length} bytes)")
        return self.take(length).decode("utf-8", errors="replace")

    def value(self, kind: int):
        if kind in _SCALARS:
            return self.scalar(_SCALARS[kind])
        if kind == _STRING:
            return self.string()
        if kind == _ARRAY:
            item_kind, count = self.scalar("<I"), self.scalar("<Q")
            if item_kind in _SCALARS and count > 64:
                self.handle.seek(struct.calcsize(_SCALARS[item_kind]) * count, 1)
                return count
            items = [self.value(item_kind) for _ in range(count)]
            return items if count <= 64 else count
        raise NotGguf(f"{self.path}: malformed GGUF header (unknown value type {kind})")


def read(path: str | Path) -> GgufInfo:
    """Parse the header of a GGUF (the first part, for a split set); raise NotGguf on anything odd."""
    path = Path(path)
    try:
        handle = path.open("rb")
    except OSError as err:
        raise NotGguf(f"{path}: cannot open: {err.strerror or err}") from None
    with handle:
        reader = _Reader(handle, path)
        if handle.read(4) != MAGIC:
            raise NotGguf(f"{path}: not a GGUF file")
        version = reader.scalar("<I")
        if version not in (2, 3):
            raise NotGguf(f"{path}: unsupported GGUF version {version}")
        tensor_count, kv_count = reader.scalar("<Q"), reader.scalar("<Q")
        if tensor_count > 1 << 24 or kv_count > 1 << 20:
            raise NotGguf(f"{path}: malformed GGUF header")
        info = GgufInfo(path=path, version=version)
        for _ in range(kv_count):
            key = reader.string()
            info.metadata[key] = reader.value(reader.scalar("<I"))
        for _ in range(tensor_count):
            name = reader.string()
            dims = reader.scalar("<I")
            if dims > 8:
                raise NotGguf(f"{path}: malformed GGUF tensor table")
            shape = tuple(reader.scalar("<Q") for _ in range(dims))
            info.tensors.append(Tensor(name, shape, reader.scalar("<I"), reader.scalar("<Q")))
        return info


def read_set(paths: list[Path]) -> GgufInfo:
    """One GgufInfo for a split set: metadata from the first part, tensors from every part."""
    first = read(paths[0])
    for part in paths[1:]:
        first.tensors.extend(read(part).tensors)
    return first
