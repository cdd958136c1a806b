"""The CPU as llama.cpp sees it, and one decision: may llama.cpp use its AMX kernels on this machine?

llama.cpp repacks quantized weights into an "AMX" buffer on Intel CPUs with AMX (Sapphire Rapids and
later). On some of those machines its AMX matmul crashes (SIGSEGV or SIGILL on the first multi-token
batch, llama.cpp#20824, ollama#17205) or, for DeepSeek's MLA graph, aborts in the scheduler. Whether it
does depends on the machine (hypervisor, kernel, microcode), so it is checked on the machine: once, by
`amx_probe` in a child process, and the verdict is kept in `machine.json` under the data root, keyed
by CPU model, microcode, kernel, llama.cpp build and probe version. Where AMX is unsafe, or the probe
cannot run, AMX is taken out of the CPU device's list of extra buffer types before any model loads; the other extra type
(CPU_REPACK, the AVX2/AVX-512 repacking) stays. `DESKSEEK_CPU_AMX=on|off|auto` overrides the probe.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import json
import logging
import math
import os
import platform
import re
import signal
import subprocess
import sys
import tempfile
import threading
from dataclasses import asdict, dataclass

from deskseek import paths
from deskseek.errors import DeskseekError
from deskseek.llama import binding

log = logging.getLogger("deskseek.llama")

ENV = "DESKSEEK_CPU_AMX"
PROBE_TIMEOUT_S = 60  # the check takes 1-2 s; a kernel still busy after 60 s is hung
TOLERANCE = 0.05  # relative L2 error of the logits; broken kernels give 0.5 and more, rounding 1e-3
_P = ctypes.c_void_p


@dataclass(frozen=True)
class Verdict:
    present: bool  # this CPU and this llama.cpp build offer the AMX buffer type
    used: bool  # models load with it
    reason: str  # one line, for `deskseek info` and the log
    plain_buffers: bool = False  # AMX could not be removed in place: loads must turn extra buffers off

    def as_dict(self) -> dict:
        return asdict(self)


def cpu_name() -> str:
    if platform.system() == "Darwin":
        try:
            return subprocess.run(["sysctl", "-n", "machdep.cpu.brand_string"], capture_output=True, text=True,
                                  timeout=5).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return platform.processor()
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def features() -> list[str]:
    """The CPU features llama.cpp reports as compiled in and present ("AVX2", "AMX_INT8", ...)."""
    import llama_cpp

    text = llama_cpp.llama_print_system_info().decode(errors="replace")
    return re.findall(r"(\w+) = 1\b", text)


def _extra_bufts() -> tuple:
    """The CPU device's NULL-terminated array of extra buffer types, as llama.cpp's loader reads it, and its
    entries as (pointer, name) pairs; (None, []) where this build has no such list."""
    import llama_cpp

    llama_cpp.llama_backend_init()
    by_type = binding.function("ggml_backend_dev_by_type", "ggml", [ctypes.c_int], _P)
    dev_reg = binding.function("ggml_backend_dev_backend_reg", "ggml-base", [_P], _P)
    proc = binding.function("ggml_backend_reg_get_proc_address", "ggml-base", [_P, ctypes.c_char_p], _P)
    name = binding.function("ggml_backend_buft_name", "ggml-base", [_P], ctypes.c_char_p)
    cpu = by_type(0)  # GGML_BACKEND_DEVICE_TYPE_CPU
    getter = proc(dev_reg(cpu), b"ggml_backend_dev_get_extra_bufts") if cpu else None
    if not getter:
        return None, []
    array = ctypes.CFUNCTYPE(ctypes.POINTER(_P), _P)(getter)(cpu)
    entries, index = [], 0
    while array and array[index]:
        entries.append((array[index], name(array[index]).decode(errors="replace")))
        index += 1
    return array, entries


def extra_buffer_types() -> list[str]:
    """Names of the CPU's extra buffer types llama.cpp will place weights in, in its order of preference."""
    return [name for _, name in _extra_bufts()[1]]


def exclude_amx() -> bool:
    """Take AMX out of the CPU's extra buffer types for the rest of this process; True when verified gone.

    ggml hands out a pointer to its own (static, never re-read) array, and the loader walks it on every
    model load: rewriting it in place is the one way to drop AMX alone and keep CPU_REPACK.
    """
    array, entries = _extra_bufts()
    keep = [pointer for pointer, name in entries if name != "AMX"]
    for slot in range(len(entries)):
        array[slot] = keep[slot] if slot < len(keep) else None
    return "AMX" not in extra_buffer_types()


PROBE_VERSION = 2  # bump when the probe learns to catch more: every cached verdict is then asked again
WORK_DIR_ENV = "DESKSEEK_AMX_PROBE_DIR"  # where the probe child writes its models (made and removed by probe())
CRASHES = {"SIGILL", "SIGSEGV", "SIGBUS", "SIGABRT", "SIGFPE"}  # what a broken kernel dies of; not SIGKILL (OOM)


def _microcode() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as handle:
            return next((line.split(":", 1)[1].strip() for line in handle if line.startswith("microcode")), "")
    except OSError:
        return ""


def _cache_key() -> str:
    """What the verdict depends on: the CPU, its microcode and kernel, llama.cpp's build, and the probe itself."""
    build = hashlib.sha256(" ".join(features()).encode()).hexdigest()[:12]
    return (f"{cpu_name()} | microcode {_microcode() or '?'} | {platform.system()} {platform.release()} | "
            f"llama-cpp-python {binding.version()} {build} | probe {PROBE_VERSION}")


def _cache_file():
    return paths.home() / "machine.json"


def _load_json() -> dict:
    try:
        data = json.loads(_cache_file().read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return {}
    return data if isinstance(data, dict) else {}


def _read_cache(data: dict | None = None) -> dict:
    """The verdicts kept so far, {key: {"used": bool, "reason": str}}; whatever else is in the file is ignored."""
    verdicts = (_load_json() if data is None else data).get("amx")
    if not isinstance(verdicts, dict):
        return {}
    return {key: entry for key, entry in verdicts.items()
            if isinstance(entry, dict) and isinstance(entry.get("used"), bool) and isinstance(entry.get("reason"), str)}


def _write_cache(key: str, verdict: Verdict) -> None:
    """Atomically and 0600, under a lock: two deskseeks (two llama.cpp builds) may each add their own key."""
    from filelock import FileLock, Timeout

    target = _cache_file()
    tmp = target.with_name(f".machine.json.{os.getpid()}")
    try:
        paths.ensure(target.parent)
        with FileLock(str(target) + ".lock", timeout=10):
            data = _load_json()
            data["amx"] = {**_read_cache(data), key: {"used": verdict.used, "reason": verdict.reason}}
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(data, handle, indent=1)
            os.replace(tmp, target)
    except (OSError, Timeout) as err:  # read-only or full: the verdict stands for this process, asked again next time
        log.warning("could not keep the AMX verdict: %s", err)
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)


def _records(stdout: str) -> list[dict]:
    records = []
    for line in stdout.splitlines():
        with contextlib.suppress(ValueError):
            record = json.loads(line)
            if isinstance(record, dict):
                records.append(record)
    return records


def probe(argv: list[str] | None = None) -> Verdict:
    """Run the probe in a child process and judge it; a crash there is a verdict, not a crash here.

    Only a verdict about AMX is cached (`Verdict.reason` then does not say "left off"): a crash of the kind
    broken kernels cause during an AMX pass, numbers that disagree, a hang, or a pass. A check that could
    not run, or died of something else (the OOM killer's SIGKILL), leaves AMX off and is asked again.
    """
    command = argv or [sys.executable, "-m", "deskseek.llama.amx_probe"]
    # The child writes its test models here, and this process removes them: a child that crashes, which is
    # what the probe is for, cleans up nothing (25 MB left in the temp folder on every crash before).
    with tempfile.TemporaryDirectory(prefix="deskseek-amx-probe-") as work:
        env = {**os.environ, ENV: "on", WORK_DIR_ENV: work}
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=PROBE_TIMEOUT_S, env=env,
                                  stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            return Verdict(True, False, f"llama.cpp's AMX check hung for {PROBE_TIMEOUT_S} s on this CPU")
        except OSError as err:
            return Verdict(True, False, f"the AMX check could not start ({err.strerror}); AMX left off")
    records = _records(done.stdout)
    step = next((r for r in reversed(records) if "model" in r), {})
    if done.returncode < 0:
        try:
            name = signal.Signals(-done.returncode).name
        except ValueError:
            name = f"signal {-done.returncode}"
        log.warning("AMX probe killed by %s at %s; stderr tail:\n%s", name, step, done.stderr[-2000:])
        if name in CRASHES and step.get("phase") == "amx":
            return Verdict(True, False, f"llama.cpp's AMX kernels crash on this CPU ({name} on a {step['model']} model)")
        return Verdict(True, False, f"the AMX check died of {name}; AMX left off")
    result = records[-1] if records and "errors" in records[-1] else {}
    errors, used = result.get("errors"), result.get("amx")
    if done.returncode != 0 or not isinstance(errors, dict) or not errors or not isinstance(used, dict):
        tail = (done.stderr.strip().splitlines() or ["no result"])[-1]
        log.warning("AMX probe failed (exit %s): %s", done.returncode, done.stderr[-2000:])
        return Verdict(True, False, f"the AMX check failed ({tail[:160]}); AMX left off")
    expected_first = not result.get("control")  # a control run keeps AMX out of both passes
    if not any(isinstance(u, list) and u[:1] == [expected_first] for u in used.values()) or any(
            not isinstance(u, list) or u[1:2] != [False] for u in used.values()):
        return Verdict(True, False, "the AMX check could not compare AMX with the plain path; AMX left off")
    bad = {name: e for name, e in errors.items() if not (isinstance(e, (int, float)) and math.isfinite(e)
                                                           and e <= TOLERANCE)}
    if bad:
        name, error = next(iter(bad.items()))
        return Verdict(True, False, f"llama.cpp's AMX kernels give wrong results on this CPU ({name}: "
                                    f"{error:.2f} relative error)" if isinstance(error, (int, float)) else
                                    f"llama.cpp's AMX kernels give wrong results on this CPU ({name})")
    return Verdict(True, True, f"checked on this CPU: {len(errors)} models agree with the plain path")


def decide() -> Verdict:
    """The verdict for this machine: the variable, else the cached probe, else a probe now."""
    mode = os.environ.get(ENV, "auto").strip().lower() or "auto"
    if mode not in ("on", "off", "auto"):
        raise DeskseekError(f"{ENV} must be on, off or auto, not {mode!r}")
    if "AMX" not in extra_buffer_types():
        return Verdict(False, False, "this CPU or this llama.cpp build has no AMX")
    key = _cache_key()
    cached = _read_cache().get(key)
    if mode != "auto":
        found = f" (the check found: {cached['reason']})" if cached and cached["used"] != (mode == "on") else ""
        if found:
            log.warning("AMX %s by %s=%s although%s", "forced on" if mode == "on" else "forced off", ENV, mode, found)
        return Verdict(True, mode == "on", f"set by {ENV}={mode}{found}")
    if cached is not None:
        return Verdict(True, cached["used"], cached["reason"])
    log.info("checking llama.cpp's AMX kernels on %s (once per machine)", key)
    verdict = probe()
    if "left off" not in verdict.reason:
        _write_cache(key, verdict)
    return verdict


_lock = threading.Lock()
_applied: Verdict | None = None


def prepare() -> Verdict:
    """Decide once per process and act on it; call before llama.cpp loads any model."""
    global _applied
    with _lock:
        if _applied is None:
            verdict = decide()
            if verdict.present and not verdict.used and not exclude_amx():
                log.warning("could not take AMX out of llama.cpp's buffer types; loading without extra buffers")
                verdict = Verdict(True, False, verdict.reason, plain_buffers=True)
            log.info("AMX: %s (%s)", "used" if verdict.used else "not used", verdict.reason)
            _applied = verdict
        return _applied


def needs_probe() -> bool:
    """True when prepare() would run the probe now (a face may say why the first load takes longer)."""
    if _applied is not None or os.environ.get(ENV, "auto").strip().lower() not in ("", "auto"):
        return False
    return "AMX" in extra_buffer_types() and _cache_key() not in _read_cache()
