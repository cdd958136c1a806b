"""The installed wheel must carry the registry: `pip install deskseek` without models.toml knows no models."""

from __future__ import annotations

import subprocess
import sys
import zipfile

from tests.conftest import REPO_ROOT


def test_wheel_carries_models_toml_and_the_console_script(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(REPO_ROOT)],
                   check=True, capture_output=True)
    [wheel] = tmp_path.glob("deskseek-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        assert archive.read("deskseek/models.toml") == (REPO_ROOT / "models.toml").read_bytes()
        entry_points = next(n for n in archive.namelist() if n.endswith("entry_points.txt"))
        assert "deskseek = deskseek.cli.main:main" in archive.read(entry_points).decode()
