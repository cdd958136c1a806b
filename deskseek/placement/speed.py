"""Decode speed from memory traffic: the bytes each token reads on each device over that device's bandwidth.

Decoding one token reads every weight it uses once, so bandwidth bounds the rate. The bound is what plans
are compared by (deliberately simple, and optimistic in the same way for every plan, so they compare
fairly). What users see as "about N tok/s" is the expected rate: llama.cpp's decode reaches roughly two
thirds of the bound (its published Apple Silicon figures for a 7B Q4_0, tg128, llama.cpp discussion #4167:
M1 0.80x, M2 Pro 0.74x, M2 Max 0.58x, M2 Ultra 0.45x of the chip's bandwidth; NVIDIA's large cards are
similar), so REACHED scales the GPU's and unified memory's nominal figures. A plain CPU's figure
(hardware.DEFAULT_CPU_BANDWIDTH) is already what llama.cpp measures there, so it is taken as it is.
"""

from __future__ import annotations

from deskseek.placement.hardware import DEFAULT_CPU_BANDWIDTH, DEFAULT_GPU_BANDWIDTH, DEFAULT_LINK_GBIT

REACHED = 0.65  # the share of a GPU's (or Apple unified memory's) nominal bandwidth decoding reaches


class Estimator:
    def __init__(self, facts, machine, ctx: int):
        self.facts, self.machine = facts, machine
        self.kv_per_layer_avg = facts.kv_bytes(ctx // 2) / max(facts.n_layer, 1)

    def _reads(self, cpu_expert_layers: list[int], gpu_layers: int) -> tuple[float, float]:
        """(GPU bytes, CPU bytes) one token reads: every dense weight, `used/count` of the routed experts."""
        facts = self.facts
        share = facts.n_expert_used / facts.n_expert if facts.n_expert else 1.0
        first_gpu = max(facts.n_layer - gpu_layers, 0)
        gpu_read = cpu_read = 0.0
        for index in range(facts.n_layer):
            experts = facts.expert_bytes[index] * share
            rest = facts.layer_bytes[index] - facts.expert_bytes[index] + self.kv_per_layer_avg
            on_gpu = index >= first_gpu
            gpu_read += rest if on_gpu else 0
            cpu_read += 0 if on_gpu else rest
            if on_gpu and index not in cpu_expert_layers:
                gpu_read += experts
            else:
                cpu_read += experts
        if gpu_layers > facts.n_layer:
            gpu_read += facts.output_bytes
        else:
            cpu_read += facts.output_bytes
        return gpu_read, cpu_read

    def rate(self, cpu_expert_layers: list[int], gpu_layers: int) -> float:
        """The bound: tokens a second were every byte read at the device's full bandwidth."""
        return self._tok_s(*self._reads(cpu_expert_layers, gpu_layers), gpu_share=1.0, cpu_share=1.0)

    def expected(self, cpu_expert_layers: list[int], gpu_layers: int) -> float:
        """What llama.cpp typically reaches on this placement."""
        cpu_share = REACHED if self.machine.unified_memory else 1.0
        return self._tok_s(*self._reads(cpu_expert_layers, gpu_layers), gpu_share=REACHED, cpu_share=cpu_share)

    def _tok_s(self, gpu_read: float, cpu_read: float, *, gpu_share: float, cpu_share: float) -> float:
        # an unknown (0) bandwidth is taken as the default the name lookup falls back to, not as "no speed"
        cpu_bw = (self.machine.cpu_bandwidth_gbs or DEFAULT_CPU_BANDWIDTH) * 1e9 * cpu_share
        seconds = self._gpu_seconds(gpu_read, gpu_share) + cpu_read / cpu_bw
        return round(1.0 / seconds, 2) if seconds > 0 else 0.0

    def _gpu_seconds(self, read: float, share: float) -> float:
        """The offloaded bytes, split over the devices as llama.cpp splits layers (by free memory), each read at
        its own bandwidth; a worker's device also costs the network its token crosses (network_seconds)."""
        gpus = [gpu for gpu in self.machine.gpus if gpu.free_bytes > 0]
        if not gpus or read <= 0:
            return read / ((self.machine.gpu_bandwidth_gbs or DEFAULT_GPU_BANDWIDTH) * 1e9 * share) if read else 0.0
        total = sum(gpu.free_bytes for gpu in gpus)
        seconds = 0.0
        for gpu in gpus:
            seconds += read * gpu.free_bytes / total / ((gpu.bandwidth_gbs or DEFAULT_GPU_BANDWIDTH) * 1e9 * share)
            if gpu.kind == "rpc":
                seconds += network_seconds(gpu, self.facts.n_embd)
        return seconds


def network_seconds(device, n_embd: int) -> float:
    """What one decoded token costs on the wire to a worker's device: its activations there and back (f32, one row
    each way) over the link, and the round trips llama.cpp's RPC client waits for (two: the graph and the result)."""
    link = (device.link_gbs or DEFAULT_LINK_GBIT / 8) * 1e9
    return 2 * n_embd * 4 / link + 2 * device.rtt_s
