"""How many threads llama.cpp should compute with: one per physical core this process may run on.

Decode is memory-bound; two SMT siblings on one core fight over the same load ports and gain nothing, so
llama.cpp's own default is the physical core count. Halving `os.cpu_count()` guesses SMT where there may be
none: a 16-vCPU cloud VM that exposes one thread per core lost 30% of its MoE decode speed that way (GPU
session, benchmarks/RESULTS.md). So read the topology: Linux says which CPUs share a core in sysfs, macOS
how many performance cores there are. The CPUs this process is allowed on (taskset, cgroups' cpusets)
bound the count.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SYS_CPU = Path("/sys/devices/system/cpu")


def allowed_cpus() -> list[int]:
    try:
        return sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return list(range(os.cpu_count() or 1))


def physical_cores(cpus: list[int] | None = None, sys_cpu: Path = SYS_CPU) -> int | None:
    """Distinct cores among `cpus` (Linux: CPUs listed as one core's siblings count once); None if unknown."""
    cpus = allowed_cpus() if cpus is None else cpus
    if sys.platform == "darwin":
        return _macos_performance_cores()
    cores = set()
    for cpu in cpus:
        topology = sys_cpu / f"cpu{cpu}" / "topology"
        for name in ("core_cpus_list", "thread_siblings_list"):
            try:
                cores.add((topology / name).read_text().strip())
                break
            except OSError:
                continue
        else:
            return None
    return len(cores) or None


def _macos_performance_cores() -> int | None:
    """Apple Silicon: the performance cores (efficiency cores slow a parallel matmul down to their pace)."""
    for key in ("hw.perflevel0.physicalcpu", "hw.physicalcpu"):
        try:
            done = subprocess.run(["sysctl", "-n", key], capture_output=True, text=True, timeout=2)
            if done.returncode == 0 and done.stdout.strip().isdigit():
                return int(done.stdout.strip())
        except (OSError, subprocess.SubprocessError):
            continue
    return None


def default_threads() -> int:
    """Physical cores we may use; where the topology cannot be read, half the logical CPUs above four."""
    count = physical_cores()
    if count:
        return min(count, len(allowed_cpus()))
    logical = len(allowed_cpus())
    return logical if logical <= 4 else max(4, logical // 2)
