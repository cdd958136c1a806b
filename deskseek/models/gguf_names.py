"""What a GGUF's file name says: its quantization, and whether it is one part of a split set.

Hub repos name files by convention (`Model-Q4_K_M.gguf`, `Model-Q8_0-00001-of-00002.gguf`, folders per
quant for big split sets), and `pull hf.co/OWNER/REPO:QUANT` has to pick files by that convention alone.
"""

from __future__ import annotations

import re

_SPLIT = re.compile(r"^(?P<stem>.+)-(?P<index>\d{5})-of-(?P<count>\d{5})\.gguf$", re.IGNORECASE)
_QUANT = re.compile(
    r"(?:^|[-._])(?P<quant>(?:UD-)?(?:I?Q\d+(?:_[A-Z0-9]+)*|TQ\d_\d|BF16|F16|FP16|F32|MXFP4(?:_MOE)?))$",
    re.IGNORECASE,
)


def split_info(path: str) -> tuple[str, int, int] | None:
    """(stem, index, count) for `x-00002-of-00005.gguf`, else None."""
    match = _SPLIT.match(path)
    if not match:
        return None
    return match["stem"], int(match["index"]), int(match["count"])


def split_parts(first: str) -> list[str]:
    """Every part's path of the split set whose first part is `first` (just [first] when not split)."""
    info = split_info(first)
    if info is None:
        return [first]
    stem, _, count = info
    return [f"{stem}-{index:05d}-of-{count:05d}.gguf" for index in range(1, count + 1)]


def quant_of(path: str) -> str | None:
    """The quantization named in a GGUF path (`...-UD-Q4_K_XL-00001-of-00003.gguf` -> `UD-Q4_K_XL`)."""
    name = path.rsplit("/", 1)[-1]
    info = split_info(name)
    stem = info[0] if info else re.sub(r"\.gguf$", "", name, flags=re.IGNORECASE)
    match = _QUANT.search(stem)
    return match["quant"].upper() if match else None


def is_model_file(path: str) -> bool:
    """A loadable model GGUF (not a vision projector, not a later split part)."""
    name = path.rsplit("/", 1)[-1].lower()
    if not name.endswith(".gguf") or name.startswith("mmproj") or "mmproj" in name:
        return False
    info = split_info(name)
    return info is None or info[1] == 1
