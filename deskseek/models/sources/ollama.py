"""Ollama's models, where Ollama keeps them: found by its manifests, run from its blobs in place.

Ollama stores `manifests/HOST/NAMESPACE/MODEL/TAG` (JSON, OCI-style) naming layers by digest, and the
layers themselves as `blobs/sha256-HEX`. The layer of type `application/vnd.ollama.image.model` is a
plain GGUF that llama.cpp loads as it is. Names are the ones `ollama list` prints: `deepseek-r1:7b` for
the default registry's library, `NAMESPACE/MODEL:TAG` for a user's models there, and
`HOST/NAMESPACE/MODEL:TAG` for other registries (`hf.co/bartowski/...:Q4_K_M`).
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path

from deskseek.models import gguf
from deskseek.models.sources.on_disk import Spot, subfolders

APP = "ollama"
ENV = "OLLAMA_MODELS"
# The Linux installer runs Ollama as its own user with its store here; tests point this elsewhere.
SYSTEM_STORES = [Path("/usr/share/ollama/.ollama/models")]
MODEL_LAYER = "application/vnd.ollama.image.model"
TEMPLATE_LAYER = "application/vnd.ollama.image.template"
DEFAULT_HOST, DEFAULT_NAMESPACE = "registry.ollama.ai", "library"
_DIGEST = re.compile(r"sha256[:-]([0-9a-f]{64})")
_SMALL = 1 << 20  # manifests and templates are a few KB; anything bigger is not one


def roots() -> list[Path]:
    """$OLLAMA_MODELS as Ollama reads it, else ~/.ollama/models (and the Linux service's store)."""
    override = os.environ.get(ENV)
    if override:
        return [Path(override).expanduser()]
    found = [Path.home() / ".ollama" / "models"]
    if sys.platform.startswith("linux"):
        found += SYSTEM_STORES
    return found


def display_name(host: str, namespace: str, model: str, tag: str) -> str:
    """The name `ollama list` shows: defaults left out, as Ollama's own shortest form does."""
    if host.lower() != DEFAULT_HOST:
        return f"{host}/{namespace}/{model}:{tag}"
    if namespace.lower() != DEFAULT_NAMESPACE:
        return f"{namespace}/{model}:{tag}"
    return f"{model}:{tag}"


def blob_path(root: Path, sha256: str) -> Path:
    """Where Ollama keeps the blob of this digest (`sha256:HEX` on disk in releases before 0.1.30)."""
    current = root / "blobs" / f"sha256-{sha256}"
    old = root / "blobs" / f"sha256:{sha256}"
    return old if not current.exists() and old.exists() else current


def scan(root: Path) -> Iterator[Spot]:
    """Every model manifest under `root`; unreadable manifests become damaged spots, never errors."""
    manifests = root / "manifests"
    for host in subfolders(manifests):
        for namespace in subfolders(host):
            for model in subfolders(namespace):
                try:
                    tags = sorted(p for p in model.iterdir() if not p.name.startswith("."))
                except OSError:
                    continue
                for tag in tags:
                    spot = _spot(root, display_name(host.name, namespace.name, model.name, tag.name), tag)
                    if spot is not None:
                        yield spot


def _spot(root: Path, short: str, manifest: Path) -> Spot | None:
    name = f"{APP}:{short}"
    host_form = "/".join(manifest.parts[-4:-1]) + ":" + manifest.name
    aliases = {f"{APP}:{host_form}"} | ({f"{APP}:{short.removesuffix(':latest')}"} if short.endswith(":latest") else set())
    try:
        if manifest.stat().st_size > _SMALL:
            raise ValueError("too large for a manifest")
        layers = json.loads(manifest.read_text(encoding="utf-8"))["layers"]
        model = next((layer for layer in layers if layer.get("mediaType") == MODEL_LAYER), None)
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
        reason = getattr(err, "strerror", None) or err
        return Spot(app=APP, name=name, files=[manifest], problem=f"its manifest cannot be read ({reason})",
                    aliases=aliases)
    if model is None:
        return None  # not a GGUF model (an embedding or adapter-only manifest, a newer non-GGUF format)
    match = _DIGEST.fullmatch(str(model.get("digest", "")))
    if not match:
        return Spot(app=APP, name=name, files=[manifest], problem="its manifest names no model blob", aliases=aliases)
    sha256 = match[1]
    size = model.get("size")
    return Spot(
        app=APP, name=name, files=[blob_path(root, sha256)], sha256=sha256, aliases=aliases,
        sizes=[size] if isinstance(size, int) else None, thinks_hint=_template_thinks(root, layers),
    )


def _template_thinks(root: Path, layers: list) -> bool | None:
    """Ollama's own template for the model (a Go template), read for think tags when the GGUF has none."""
    for layer in layers:
        match = _DIGEST.fullmatch(str(layer.get("digest", ""))) if isinstance(layer, dict) else None
        if match and layer.get("mediaType") == TEMPLATE_LAYER:
            try:
                path = blob_path(root, match[1])
                if path.stat().st_size <= _SMALL:
                    return gguf.is_reasoning_template(path.read_text(encoding="utf-8", errors="replace"))
            except OSError:
                return None
    return None
