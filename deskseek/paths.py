"""Every place deskseek reads or writes, derived from one root.

One root (``DESKSEEK_HOME``, else the platform's user data dir) keeps the whole footprint in a single
folder the user can find, back up or delete, and lets every test isolate itself with one variable.
Nothing here creates directories at import time: a read-only command must not write.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP = "deskseek"


def home() -> Path:
    override = os.environ.get("DESKSEEK_HOME")
    if override:
        return Path(override).expanduser().resolve()
    return Path(platformdirs.user_data_dir(APP, appauthor=False))


def models_dir() -> Path:
    """Verified, complete models only: each in its own folder with a manifest written last."""
    return home() / "models"


def partial_dir() -> Path:
    """Downloads in progress. Never loadable: nothing here is ever handed to llama.cpp."""
    return home() / "partial"


def history_db() -> Path:
    return home() / "history.sqlite3"


def user_registry() -> Path:
    """The user's own models.toml, merged over the packaged one."""
    return home() / "models.toml"


def logs_dir() -> Path:
    return home() / "logs"


def log_file() -> Path:
    return logs_dir() / "deskseek.log"


def ensure(path: Path) -> Path:
    """Create a directory (and parents) on first write; private to the user, as it holds their chats.

    The root is made first and on its own: mkdir gives `mode` to the last folder only, and a root made as
    a parent of logs/ would be left readable by everyone.
    """
    root = home()
    if not root.is_dir():
        root.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def all_paths() -> dict[str, Path]:
    return {
        "home": home(),
        "models": models_dir(),
        "partial": partial_dir(),
        "history": history_db(),
        "registry": user_registry(),
        "logs": logs_dir(),
    }
