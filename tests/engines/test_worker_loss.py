"""A worker killed mid-reply: the reply ends with one clear line, the chat goes on (llama.cpp itself would abort)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.conftest import REPO_ROOT
from tests.engines.test_local import starter_path  # noqa: F401  (session fixture)
from tests.fixtures.rpc_workers import start_workers


def test_a_worker_killed_mid_reply_ends_the_reply_and_the_chat_goes_on(starter_path, home, tmp_path):  # noqa: F811
    kept, victim = workers = start_workers(home, 2)
    try:
        env = {**os.environ, "DESKSEEK_HOME": str(home), "OMP_WAIT_POLICY": "PASSIVE"}
        done = subprocess.run(
            [sys.executable, "-m", "tests.fixtures.rpc_session", str(starter_path),
             f"{kept.endpoint},{victim.endpoint}", str(victim.process.pid), str(tmp_path / "h.sqlite3")],
            capture_output=True, text=True, env=env, cwd=REPO_ROOT, timeout=600)
    finally:
        for worker in workers:
            worker.stop()
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    assert result["pieces_before_end"] >= 5
    assert result["errors"] == [
        f"worker {victim.endpoint} went away mid-reply; the reply ends here. This model cannot go on: load a model "
        "again (it will not use that worker), or restart deskseek once the worker is back (the lost model's memory "
        "stays taken until then)"]
    assert result["done"] == ["error"]
    assert result["stored_state"] == "error"
    assert result["next_send"].startswith(f"worker {victim.endpoint} went away. This model cannot go on")
    assert result["close_s"] < 5
    assert result["after"].strip() != ""  # loaded again on the worker left and this machine, and it answers
    assert result["lost"] == [f"worker {victim.endpoint} went away"]
