"""Which model a `run` or `chat` uses, and what it should be run with.

Users name models loosely (an alias, an installed name, a path to a .gguf, another app's model such as
`ollama:deepseek-r1:7b`) or not at all; this module turns that into one file on disk plus the registry's
advice for it (reasoning or not, sampling, whether a system prompt is allowed), without touching the
network.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from deskseek import paths
from deskseek.errors import NotFound
from deskseek.models import found, registry, store


@dataclass(frozen=True)
class Chosen:
    name: str
    path: Path
    reasoning: bool | None  # None: unknown, let the chat template decide
    sampling: registry.Sampling
    installed: store.Installed | None = None


def _state_file() -> Path:
    return paths.home() / "state.json"


def last_used() -> str | None:
    try:
        return json.loads(_state_file().read_text(encoding="utf-8")).get("last_model")
    except (OSError, ValueError, AttributeError):
        return None


def remember(name: str) -> None:
    """Record the last model used, so a bare `deskseek run` picks it again. Best effort."""
    try:
        paths.ensure(paths.home())
        tmp = _state_file().with_suffix(".tmp")
        tmp.write_text(json.dumps({"last_model": name}), encoding="utf-8")
        os.replace(tmp, _state_file())
    except OSError:
        pass


def choose(text: str | None) -> Chosen:
    if text and (text.lower().endswith(".gguf") and Path(text).expanduser().exists()):
        path = Path(text).expanduser().resolve()
        return Chosen(name=path.name, path=path, reasoning=None, sampling=registry.Sampling())
    if text and found.app_of(text):
        return in_place(found.get(text))
    remembered = last_used()
    if not text and remembered and found.app_of(remembered):  # the last model run was another app's
        try:
            return in_place(found.get(remembered))
        except NotFound:
            pass  # gone since: fall back to what is installed
    item = store.find(text) if text else _default()
    problems = item.problems()
    if problems:
        again = "import it again" if item.source == "import" else f"`deskseek pull {item.name}` again"
        raise NotFound(f"{item.name} is damaged ({problems[0]}); `deskseek rm {item.name}`, then {again}")
    spec = _spec_for(item)
    return Chosen(
        name=item.name,
        path=item.path,
        reasoning=spec.reasoning if spec else (item.reasoning or None),
        sampling=spec.sampling if spec else registry.Sampling(),
        installed=item,
    )


def has_default() -> bool:
    """Whether `run`/`chat` without --model know which model to use (else: several installed, none used last)."""
    try:
        choose(None)
    except NotFound:
        return False
    return True


def in_place(model: found.Found) -> Chosen:
    """Another app's model, run from where that app keeps it: not a byte copied."""
    if not model.ok:
        raise NotFound(f"{model.name} cannot be run: {model.problem}")
    return Chosen(name=model.name, path=model.path, reasoning=model.reasoning, sampling=registry.Sampling())


def _spec_for(item: store.Installed) -> registry.ModelSpec | None:
    if not item.alias:
        return None
    try:
        return registry.load().get(item.alias)
    except registry.RegistryError:
        return None  # a broken user registry must not stop an installed model from running


def _default() -> store.Installed:
    """The last used model, else the only one installed, else the starter."""
    models = store.installed()
    by_name = {m.name: m for m in models}
    remembered = last_used()
    if remembered in by_name:
        return by_name[remembered]
    if len(models) == 1:
        return models[0]
    starters = [m for m in models if m.alias == "starter"]
    if starters:
        return starters[0]
    if not models:
        raise NotFound("no model installed; `deskseek pull` fetches the one recommended for this machine, "
                       "`deskseek pull starter` a tiny one")
    names = ", ".join(m.name for m in models)
    raise NotFound(f"several models are installed ({names}); choose one with --model")
