"""What this machine offers a model: the backend, its devices, their free memory and bandwidth.

The device list comes from llama.cpp itself (ggml's backend registry), so it is exactly what the loader
will use: free VRAM per CUDA device, and on Apple Silicon the Metal device's recommended working set.
Bandwidth cannot be asked of the hardware portably; it is looked up by device name with a conservative
default, and is only used to *estimate* speed, never to decide what fits.
"""

from __future__ import annotations

import os
import platform
import re
from dataclasses import asdict, dataclass, field, replace

from deskseek.llama.devices import Device

GB = 1_000_000_000

# Memory bandwidth in GB/s, by a distinctive part of the device's name (first match wins).
_GPU_BANDWIDTH = [
    ("H200", 4800), ("H100", 3350), ("A100", 1935), ("L40", 864), ("A6000", 768), ("5090", 1792), ("4090", 1008),
    ("4080", 717), ("4070 Ti", 504), ("4070", 504), ("4060 Ti", 288), ("4060", 272), ("3090", 936), ("3080", 760),
    ("3070", 448), ("3060", 360), ("2080", 448), ("T4", 320),
]
_APPLE_BANDWIDTH = [
    ("M4 Max", 546), ("M4 Pro", 273), ("M4", 120), ("M3 Ultra", 819), ("M3 Max", 400), ("M3 Pro", 150), ("M3", 100),
    ("M2 Ultra", 800), ("M2 Max", 400), ("M2 Pro", 200), ("M2", 100), ("M1 Ultra", 800), ("M1 Max", 400),
    ("M1 Pro", 200), ("M1", 68),
]
DEFAULT_GPU_BANDWIDTH = 300.0
# A worker's device is known to llama.cpp only by its endpoint and memory: its own bandwidth is taken as a
# GPU's default, and the network to it as gigabit Ethernet unless --rpc-link says otherwise.
DEFAULT_LINK_GBIT = 1.0
DEFAULT_CPU_BANDWIDTH = 40.0  # dual-channel DDR4/DDR5 desktop, what llama.cpp's CPU decode actually sees


@dataclass
class Machine:
    backend: str  # "cuda" | "metal" | "vulkan" | "cpu" | ...
    gpus: list[Device] = field(default_factory=list)
    ram_bytes: int = 0  # RAM available for weights now
    ram_total_bytes: int = 0
    cpu_bandwidth_gbs: float = DEFAULT_CPU_BANDWIDTH
    unified_memory: bool = False  # Apple Silicon: GPU and CPU share one pool
    cpu_name: str = ""
    llama_cpp_features: str = ""
    cpu_features: list[str] = field(default_factory=list)  # as llama.cpp sees them: "AVX2", "AMX_INT8", ...
    amx: dict | None = None  # cpu.Verdict.as_dict(), where a face asked for the decision
    rpc_link_given: bool = False  # the workers' link bandwidth came from --rpc-link, not the default

    @property
    def gpu_bytes(self) -> int:
        return sum(gpu.free_bytes for gpu in self.gpus)

    @property
    def gpu_bandwidth_gbs(self) -> float:
        return min((gpu.bandwidth_gbs for gpu in self.gpus), default=0.0)

    def as_dict(self) -> dict:
        data = asdict(self)
        data["gpu_bytes"] = self.gpu_bytes
        return data


def _bandwidth(name: str, table, default: float) -> float:
    for needle, value in table:
        if needle.lower() in name.lower():
            return float(value)
    return default


def ram() -> tuple[int, int]:
    """(available, total) bytes of system RAM; available is what a new model could take now."""
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") if hasattr(os, "sysconf") else 0
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            info = dict(line.split(":", 1) for line in handle)
        return int(info["MemAvailable"].split()[0]) * 1024, total
    except (OSError, KeyError, ValueError):
        return int(total * 0.75), total  # macOS and others: no cheap exact figure; assume a quarter in use


def detect(link_gbit: float = DEFAULT_LINK_GBIT) -> Machine:
    """Ask llama.cpp which devices it will use (workers added with --rpc among them), and the OS how much RAM is free."""
    from deskseek.llama import cpu, devices, rpc

    available, total = ram()
    name = cpu.cpu_name()
    apple = platform.system() == "Darwin" and platform.machine() == "arm64"
    machine = Machine(
        backend="cpu", ram_bytes=available, ram_total_bytes=total, cpu_name=name, unified_memory=apple,
        cpu_bandwidth_gbs=_bandwidth(name, _APPLE_BANDWIDTH, DEFAULT_CPU_BANDWIDTH) if apple else DEFAULT_CPU_BANDWIDTH,
        llama_cpp_features=devices.system_info(), cpu_features=cpu.features(),
    )
    for device in devices.devices():
        endpoint = rpc.endpoint_of(device.name)
        if endpoint is not None:
            greeting = rpc.greeting(endpoint)
            machine.gpus.append(replace(device, name=f"{device.name}@{endpoint}", description=f"worker {endpoint}",
                                        kind="rpc", bandwidth_gbs=DEFAULT_GPU_BANDWIDTH, link_gbs=link_gbit / 8,
                                        rtt_s=greeting.rtt_s if greeting else 0.0))
            continue
        if device.kind not in ("gpu", "igpu"):
            continue
        table = _APPLE_BANDWIDTH if apple else _GPU_BANDWIDTH
        bandwidth = _bandwidth(device.description or device.name, table,
                               machine.cpu_bandwidth_gbs if apple else DEFAULT_GPU_BANDWIDTH)
        machine.gpus.append(replace(device, bandwidth_gbs=bandwidth))
    local = [gpu for gpu in machine.gpus if gpu.kind != "rpc"]
    if local:
        machine.backend = re.sub(r"\d+$", "", local[0].name).lower() or "gpu"
    if len(local) < len(machine.gpus):
        machine.backend = f"{machine.backend}+rpc"
    return machine


def assumed(gpu_bytes: int | None = None, ram_bytes: int | None = None, base: Machine | None = None,
            link_gbit: float = DEFAULT_LINK_GBIT) -> Machine:
    """A machine for planning: this one, with the user's --gpu-mem / --ram taken as the budgets themselves."""
    machine = base or detect(link_gbit)
    if gpu_bytes is not None:
        local = [gpu for gpu in machine.gpus if gpu.kind != "rpc"]
        name = local[0].name if local else "GPU"
        bandwidth = min((gpu.bandwidth_gbs for gpu in local), default=0.0) or DEFAULT_GPU_BANDWIDTH
        workers = [gpu for gpu in machine.gpus if gpu.kind == "rpc"]  # --gpu-mem is this machine's GPU only
        machine.gpus = [Device(name, f"{name} (budget set by --gpu-mem)", "gpu", gpu_bytes, gpu_bytes, bandwidth),
                        *workers]
        if machine.backend == "cpu":
            machine.backend = "assumed-gpu"
    if ram_bytes is not None:
        machine.ram_bytes = ram_bytes
    return machine
