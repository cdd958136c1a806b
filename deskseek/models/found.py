"""The GGUF models other apps already keep on this machine: found, described, resolved by name.

People arrive with models on disk (Ollama's `deepseek-r1:7b`, LM Studio's downloads, the Hugging Face
cache, llama.cpp's `-hf` cache), and downloading 5 to 400 GB again is the complaint those tools hear
most. Every name listed here (`ollama:deepseek-r1:7b`, `lmstudio:PUBLISHER/REPO/FILE`,
`hf:OWNER/REPO/PATH`, `llamacpp:...`) works wherever a model name goes, and runs the file where it is.

Looking is cheap: folder listings and manifests first (`spots`), headers only for what is shown or run
(`describe`). Nothing here writes to another app's folder, and nothing raises over a broken file, link
or permission: such a model is listed with the reason. `DESKSEEK_OTHER_APPS=off` turns it all off.
"""

from __future__ import annotations

import difflib
import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from deskseek.errors import DeskseekError, NotFound
from deskseek.models import gguf, gguf_names, store
from deskseek.models.sources import hf_cache, llama_cpp_cache, lmstudio, ollama
from deskseek.models.sources.on_disk import Spot

ENV = "DESKSEEK_OTHER_APPS"
SOURCES = {"ollama": ollama, "lmstudio": lmstudio, "hf": hf_cache, "llamacpp": llama_cpp_cache}
LABELS = {"ollama": "Ollama", "lmstudio": "LM Studio", "hf": "the Hugging Face cache", "llamacpp": "llama.cpp's cache"}
_SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass
class Found:
    name: str
    app: str
    files: list[Path]
    size: int
    state: str  # "ok" | "incomplete" (parts of a split set missing) | "damaged"
    problem: str | None = None
    quant: str | None = None
    architecture: str | None = None
    params: int | None = None
    params_active: int | None = None
    reasoning: bool | None = None  # None: the GGUF carries no chat template to tell
    sha256: str | None = None  # what the app names the file by (a claim, not verified here)

    @property
    def path(self) -> Path:
        return self.files[0]

    @property
    def ok(self) -> bool:
        return self.state == "ok"

    def to_json(self) -> dict:
        return {
            "name": self.name, "app": self.app, "path": str(self.path), "files": [str(f) for f in self.files],
            "size": self.size, "quant": self.quant, "architecture": self.architecture, "params": self.params,
            "params_active": self.params_active, "reasoning": self.reasoning, "state": self.state,
            "problem": self.problem,
        }


def enabled_apps() -> list[str]:
    """The apps to look in: all by default; DESKSEEK_OTHER_APPS=off for none, or a list like `ollama,hf`."""
    raw = os.environ.get(ENV, "").strip().lower()
    if raw in ("", "on", "all", "1", "yes", "true"):
        return list(SOURCES)
    if raw in ("off", "none", "0", "no", "false"):
        return []
    chosen = [part.strip() for part in raw.split(",") if part.strip()]
    unknown = [app for app in chosen if app not in SOURCES]
    if unknown:
        raise DeskseekError(f"{ENV}={raw}: unknown app {unknown[0]!r}; use off, or some of: {', '.join(SOURCES)}")
    return chosen


def app_of(text: str) -> str | None:
    """The app a name belongs to (`ollama:deepseek-r1:7b` -> `ollama`), None for other names."""
    prefix, sep, rest = text.strip().partition(":")
    return prefix.lower() if sep and rest and prefix.lower() in SOURCES else None


def roots(app: str) -> list[Path]:
    """The app's folders that exist, each once."""
    found: dict[str, Path] = {}
    for root in SOURCES[app].roots():
        if os.path.isdir(root):
            found.setdefault(os.path.realpath(root), root)
    return list(found.values())


def spots(apps: list[str] | None = None) -> list[Spot]:
    """Every model in the apps' folders, from listings alone.

    A file two apps share (llama.cpp pointed at the Hugging Face cache) is listed once, under the first
    app; within one app, two names for one file are both kept (Ollama's `r1:latest` and `r1:7b`).
    """
    earlier: set[object] = set()
    found = []
    for app in enabled_apps() if apps is None else apps:
        this_app: set[object] = set()
        for root in roots(app):
            try:
                for spot in SOURCES[app].scan(root):
                    where = _identity(spot.files[0])
                    if where not in earlier:
                        this_app.add(where)
                        found.append(spot)
            except OSError:  # a folder that vanished or locked up mid-scan: what was found stands
                continue
        earlier |= this_app
    return found


def _identity(path: Path) -> object:
    """One file however it is reached: a symlink from one app into another's blobs, or a hard link."""
    try:
        info = os.stat(path)
        return (info.st_dev, info.st_ino)
    except OSError:  # broken: listed as damaged, once per path
        return os.path.join(os.path.realpath(path.parent), path.name)


def scan() -> list[Found]:
    """Every model of the enabled apps, described (headers read): what `deskseek list --found` shows."""
    return sorted((describe(spot) for spot in spots()), key=lambda found: found.name.lower())


def describe(spot: Spot) -> Found:
    """Sizes, header facts and state of one spot; a broken file makes a damaged entry, never an error."""
    size, problem = 0, spot.problem
    for index, path in enumerate(spot.files):
        try:
            info = os.stat(path)
        except OSError as err:
            problem = problem or _unreadable(path, err)
            continue
        size += info.st_size
        expected = spot.sizes[index] if spot.sizes and index < len(spot.sizes) else None
        if expected is not None and info.st_size != expected and problem is None:
            problem = f"{path.name} is {info.st_size} bytes, {LABELS[spot.app]} recorded {expected}"
    header = None
    try:
        if problem is None:
            header = gguf.read_set(spot.files)
        elif spot.incomplete and os.path.exists(spot.files[0]):
            header = gguf.read(spot.files[0])  # what it is, though it cannot run
    except gguf.NotGguf as err:
        problem = problem or _without_path(str(err), spot.files)
    state = "ok" if problem is None else "incomplete" if spot.incomplete else "damaged"
    named_quant = None if spot.app == "ollama" else gguf_names.quant_of(spot.files[0].name)
    thinks = header.thinks if header is not None else None
    found = Found(name=spot.name, app=spot.app, files=spot.files, size=size, state=state, problem=problem,
                  quant=named_quant or (header.quant if header else None),
                  reasoning=thinks if thinks is not None else spot.thinks_hint, sha256=spot.sha256)
    if header is not None:
        found.architecture = header.architecture
        found.params = header.parameters if problem is None else None
        active = header.active_parameters if problem is None else None
        found.params_active = active if active != found.params else None
    return found


def _unreadable(path: Path, err: OSError) -> str:
    if isinstance(err, FileNotFoundError):
        return f"{path} is a link to a file that is gone" if os.path.islink(path) else f"{path} is missing"
    if isinstance(err, PermissionError):
        return f"{path} cannot be read (permission denied)"
    return f"{path} cannot be read ({err.strerror or err})"


def _without_path(message: str, files: list[Path]) -> str:
    for path in files:
        if message.startswith(f"{path}: "):
            return message[len(f"{path}: "):] if len(files) == 1 else f"{path.name}: {message[len(f'{path}: '):]}"
    return message


def get(text: str) -> Found:
    """The found model of this name, described; NotFound (one line, with close names) when there is none."""
    app = app_of(text)
    if app is None:
        raise NotFound(f"{text!r} is not the name of a model in another app (ollama:, lmstudio:, hf:, llamacpp:)")
    if app not in enabled_apps():
        raise NotFound(f"{text!r}: deskseek is not looking in {LABELS[app]} ({ENV}={os.environ.get(ENV, '')})")
    candidates = spots([app])
    spot = _match(candidates, text.strip())
    if spot is None:
        raise NotFound(_not_found(text.strip(), app, candidates))
    return describe(spot)


def _match(candidates: list[Spot], text: str) -> Spot | None:
    wanted = f"{text.partition(':')[0].lower()}:{text.partition(':')[2]}"
    exact = [s for s in candidates if wanted == s.name or wanted in s.aliases]
    if exact:
        return exact[0]
    folded = [s for s in candidates if wanted.lower() in {n.lower() for n in {s.name, *s.aliases}}]
    return folded[0] if len(folded) == 1 else None


def _not_found(text: str, app: str, candidates: list[Spot]) -> str:
    names = {s.name.lower(): s.name for s in candidates}
    close = difflib.get_close_matches(text.lower(), list(names), n=3, cutoff=0.6)
    if close:
        return f"no model {text!r} in {LABELS[app]}; did you mean {', '.join(names[c] for c in close)}?"
    if candidates:
        return f"no model {text!r} in {LABELS[app]}; `deskseek list --found` shows the {len(candidates)} there"
    where = ", ".join(str(p) for p in SOURCES[app].roots()) or "nowhere"
    return f"no model {text!r}: {LABELS[app]} has no models here (looked in {where})"


def short_name(found: Found) -> str:
    """A name to import it under when none is given: Ollama's own name, else the file's stem."""
    if found.app == "ollama":
        return found.name.partition(":")[2]
    file = found.path.name
    split = gguf_names.split_info(file)
    return split[0] if split else re.sub(r"\.gguf$", "", file, flags=re.IGNORECASE)


def blob_with_sha256(sha256: str, size: int) -> Path | None:
    """A file on this machine whose content has this sha256 and size, found by name alone (no hashing).

    For `pull`: a file the Hub lists with this LFS sha256 may already sit in the Hugging Face cache or
    llama.cpp's cache (blobs named by sha256, or an ETag that says it), in Ollama's blobs (`sha256-HEX`),
    or among deskseek's own verified files. Names can lie and disks rot: the caller must hash what it
    links in before trusting it.
    """
    sha256 = sha256.lower()
    if not _SHA256.fullmatch(sha256):
        return None
    for candidate in _with_sha256(sha256):
        try:
            info = os.stat(candidate)
        except OSError:
            continue
        if stat.S_ISREG(info.st_mode) and info.st_size == size:
            return Path(candidate)
    return None


def _with_sha256(sha256: str) -> Iterator[Path]:
    for item in store.installed():
        yield from (path for spec, path in zip(item.files, item.file_paths()) if spec.sha256 == sha256)
    apps = enabled_apps()
    for app in ("hf", "llamacpp"):
        if app in apps:
            for root in roots(app):
                yield from hf_cache.blob(root, sha256)
    if "llamacpp" in apps:
        for root in roots("llamacpp"):
            yield from (spot.files[0] for spot in llama_cpp_cache.scan(root) if spot.sha256 == sha256)
    if "ollama" in apps:
        for root in roots("ollama"):
            yield ollama.blob_path(root, sha256)
