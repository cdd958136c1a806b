"""Download throughput: `deskseek pull` from a Hub-protocol server on 127.0.0.1 beside raw copies, one run.

    .venv/bin/python benchmarks/pull_speed.py [--size-mb 1024]

Loopback removes the network, so what is left is deskseek's own cost: HTTP through huggingface_hub's
client, hashing every byte, writing it. The references are the same file copied with shutil (the disk's
ceiling) and copied while hashing (the least a verified download has to do).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def timed(action) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def copy_and_hash(source: Path, target: Path) -> None:
    digest = hashlib.sha256()
    with open(source, "rb") as reader, open(target, "wb") as writer:
        while block := reader.read(1 << 20):
            digest.update(block)
            writer.write(block)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mb", type=int, default=1024)
    args = parser.parse_args()
    size = args.size_mb << 20

    from tests.fixtures.hub_server import HubServer

    with tempfile.TemporaryDirectory() as work_dir, HubServer() as hub:
        work = Path(work_dir)
        source = work / "model-Q4_K_M.gguf"
        with open(source, "wb") as handle:
            for _ in range(args.size_mb):
                handle.write(os.urandom(1 << 20))
        hub.add_file_from_path("bench/Model-GGUF", source.name, source)
        os.environ.update({"HF_ENDPOINT": hub.url, "DESKSEEK_HOME": str(work / "home"),
                           "HF_HUB_DISABLE_TELEMETRY": "1", "HF_HOME": str(work / "hf")})
        from deskseek.models import pull

        rows = [
            ("shutil.copyfile", timed(lambda: shutil.copyfile(source, work / "copy.bin"))),
            ("copy + sha256", timed(lambda: copy_and_hash(source, work / "copy2.bin"))),
            ("deskseek pull", timed(lambda: pull.pull("hf.co/bench/Model-GGUF"))),
        ]
    reference = rows[0][1]
    print(f"\n{args.size_mb} MiB over 127.0.0.1, {os.cpu_count()} cores")
    print(f"{'path':<18}{'seconds':>9}{'MB/s':>9}{'vs copy':>9}")
    for name, seconds in rows:
        print(f"{name:<18}{seconds:>9.2f}{size / seconds / 1e6:>9.0f}{reference / seconds:>8.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
