"""Thread count from the CPU topology: real sysfs-shaped trees, and this machine's own."""

from __future__ import annotations

from pathlib import Path

from deskseek.llama import cores


def topology(root: Path, siblings: dict[int, str]) -> Path:
    """A /sys/devices/system/cpu tree: cpuN/topology/core_cpus_list as Linux writes it."""
    for cpu, listed in siblings.items():
        folder = root / f"cpu{cpu}" / "topology"
        folder.mkdir(parents=True)
        (folder / "core_cpus_list").write_text(listed + "\n")
    return root


def test_smt_siblings_count_once(tmp_path):
    tree = topology(tmp_path, {0: "0,4", 1: "1,5", 2: "2,6", 3: "3,7", 4: "0,4", 5: "1,5", 6: "2,6", 7: "3,7"})
    assert cores.physical_cores(list(range(8)), tree) == 4


def test_a_vm_with_one_thread_per_core_uses_them_all(tmp_path):
    """The GPU machine's 16 vCPUs: halving them (the old guess) cost 30% of MoE decode speed."""
    tree = topology(tmp_path, {cpu: str(cpu) for cpu in range(16)})
    assert cores.physical_cores(list(range(16)), tree) == 16


def test_only_the_cpus_we_may_run_on_count(tmp_path):
    tree = topology(tmp_path, {0: "0-1", 1: "0-1", 2: "2-3", 3: "2-3", 4: "4-5", 5: "4-5"})
    assert cores.physical_cores([0, 1, 2], tree) == 2


def test_older_kernels_name_the_file_thread_siblings_list(tmp_path):
    for cpu, listed in {0: "0,2", 1: "1,3", 2: "0,2", 3: "1,3"}.items():
        folder = tmp_path / f"cpu{cpu}" / "topology"
        folder.mkdir(parents=True)
        (folder / "thread_siblings_list").write_text(listed)
    assert cores.physical_cores([0, 1, 2, 3], tmp_path) == 2


def test_unreadable_topology_is_unknown(tmp_path):
    assert cores.physical_cores([0, 1], tmp_path) is None


def test_this_machine():
    allowed = cores.allowed_cpus()
    assert 1 <= cores.default_threads() <= len(allowed)
    found = cores.physical_cores()
    if found is not None:
        assert cores.default_threads() == min(found, len(allowed))
