"""What a catalogue entry may say beyond where to download it: the published scores that rank it, and the
architecture's shape that lets it be planned for a machine before download (placement/recommend.py).

Parsed with the registry's checker (`check`: its get() and fail(), which point at the file, line and field),
so a slip in a user's entry reads like every other registry error.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Scores:
    """Published benchmark results (pass@1, percent): what "stronger" means when recommending a model."""

    aime_2024: float | None
    math_500: float | None
    source: str  # where the figures come from, named wherever they are shown

    def as_dict(self) -> dict:
        return {"aime_2024": self.aime_2024, "math_500": self.math_500}


@dataclass(frozen=True)
class Shape:
    """The few figures of a model's architecture that decide its memory beyond the weights (the KV cache per
    token, the embeddings) and its trained context: enough to plan it before a byte is downloaded."""

    layers: int
    embd: int
    vocab: int
    kv_heads: int
    head_dim: int  # per K head; value_dim when V differs (MLA: a 576-wide K, a 512-wide V, one head)
    value_dim: int
    context: int  # trained length
    experts: int = 0
    experts_used: int = 0
    dense_layers: int = 0  # leading blocks without routed experts (DeepSeek's three)


def parse_scores(check, table: dict) -> Scores | None:
    raw = check.get(table, "scores", dict, default=None)
    if raw is None:
        return None
    values = {}
    for key in ("aime_2024", "math_500"):
        value = check.get(raw, key, (float, int), path="scores.", default=None)
        if value is not None and not 0 <= value <= 100:
            raise check.fail(f"scores.{key}", f"a pass@1 percentage from 0 to 100, got {value!r}")
        values[key] = float(value) if value is not None else None
    unknown = sorted(set(raw) - {"aime_2024", "math_500", "source"})
    if unknown:
        raise check.fail(f"scores.{unknown[0]}", "unknown score: aime_2024, math_500 and source are known")
    return Scores(**values, source=check.get(raw, "source", str, path="scores."))


_SHAPE_FIELDS = ("layers", "embd", "vocab", "kv_heads", "head_dim", "context")
_SHAPE_OPTIONAL = ("value_dim", "experts", "experts_used", "dense_layers")


def parse_shape(check, table: dict) -> Shape | None:
    raw = check.get(table, "shape", dict, default=None)
    if raw is None:
        return None
    unknown = sorted(set(raw) - set(_SHAPE_FIELDS) - set(_SHAPE_OPTIONAL))
    if unknown:
        raise check.fail(f"shape.{unknown[0]}", f"unknown field: {', '.join(_SHAPE_FIELDS + _SHAPE_OPTIONAL)}")
    values = {key: check.get(raw, key, int, path="shape.") for key in _SHAPE_FIELDS}
    values.update({key: check.get(raw, key, int, path="shape.", default=0) for key in _SHAPE_OPTIONAL})
    for key, value in values.items():
        if value < 0 or (key in _SHAPE_FIELDS and value == 0):
            raise check.fail(f"shape.{key}", f"expected a positive count, got {value!r}")
    if values["layers"] > 4096:  # planned one by one: a typo of a few digits must not take all the memory
        raise check.fail("shape.layers", f"expected at most 4096 layers, got {values['layers']}")
    values["value_dim"] = values["value_dim"] or values["head_dim"]
    if values["experts"] and values["experts_used"] >= values["experts"]:
        raise check.fail("shape.experts_used", "a Mixture-of-Experts uses fewer experts per token than it has")
    return Shape(**values)
