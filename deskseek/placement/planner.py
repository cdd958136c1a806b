"""Where a model's weights should live on this machine: GPU memory, system RAM, or both.

The rule, in two sentences: put everything on the GPU if the weights, the KV cache and llama.cpp's compute
buffer fit in its memory. If not, keep the routed experts of a Mixture-of-Experts in system RAM for as
few layers as needed (the CPU reads only the few experts each token uses); for dense models, or when
even that does not fit, offload as many whole layers to the GPU as fit; refuse, with the figures, when
RAM and GPU memory together cannot hold it.

All figures come from the GGUF's tensor table (no weights read), so a plan costs milliseconds and can be
made for machines other than this one (`--gpu-mem`, `--ram`).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, replace

from deskseek.models.gguf import GgufInfo
from deskseek.placement import kv_cache
from deskseek.placement.hardware import Machine
from deskseek.placement.speed import Estimator

# llama.cpp's own (common/arg.cpp, --cpu-moe): fused gate_up experts and the `_chexps` form are routed experts too.
EXPERT_PATTERN = r"\.ffn_(up|down|gate|gate_up)_(ch|)exps"
_LAYER = re.compile(r"^blk\.(\d+)\.")
GPU_RESERVE = 512 * 1024 * 1024  # kept free on a detected GPU (driver, display, fragmentation); not on --gpu-mem


@dataclass
class ModelFacts:
    """The figures the planner needs, summed once from the tensor table."""

    architecture: str
    n_layer: int
    n_expert: int
    n_expert_used: int
    n_vocab: int
    n_embd: int
    total_bytes: int
    input_bytes: int  # token embeddings: llama.cpp keeps them in RAM whatever the plan
    output_bytes: int  # output head and final norm: on the GPU only when every layer is
    layer_bytes: list[int]  # all tensors of blk.N
    expert_bytes: list[int]  # the routed-expert tensors of blk.N (0 for dense layers)
    k_per_token: int  # values one token adds to the K cache, over all layers
    v_per_token: int  # and to the V cache
    cache_type_k: str = kv_cache.DEFAULT  # the cache's element types (-ctk/-ctv), which the KV figures count
    cache_type_v: str = kv_cache.DEFAULT
    trained_ctx: int = 0  # the context length the model was trained for (0: the GGUF does not say)

    @property
    def moe(self) -> bool:
        return self.n_expert > 0 and any(self.expert_bytes)

    @property
    def routed_expert_bytes(self) -> int:
        return sum(self.expert_bytes)

    @property
    def dense_bytes(self) -> int:
        return self.total_bytes - self.routed_expert_bytes

    @property
    def kv_bytes_per_token(self) -> float:
        return (self.k_per_token * kv_cache.bytes_per_element(self.cache_type_k)
                + self.v_per_token * kv_cache.bytes_per_element(self.cache_type_v))

    def kv_bytes(self, ctx: int) -> int:
        """The KV cache of `ctx` tokens in this model's cache types (f16 unless with_cache said otherwise)."""
        return int(self.kv_bytes_per_token * ctx)

    def with_cache(self, type_k: str, type_v: str) -> ModelFacts:
        """The same model with its KV cache in other element types: every plan made from it counts them."""
        return replace(self, cache_type_k=type_k, cache_type_v=type_v)

    def touched_per_token(self, layers: range) -> int:
        """Bytes a token reads in these layers: everything dense, and `used/count` of the routed experts."""
        share = self.n_expert_used / self.n_expert if self.n_expert else 1.0
        return sum(int(self.layer_bytes[i] - self.expert_bytes[i] + self.expert_bytes[i] * share) for i in layers)

    @classmethod
    def of(cls, info: GgufInfo) -> ModelFacts:
        arch = info.architecture or "unknown"
        n_layer = int(info.arch_value("block_count") or 0)
        layer_bytes, expert_bytes = [0] * n_layer, [0] * n_layer
        input_bytes = output_bytes = 0
        for tensor in info.tensors:
            match = _LAYER.match(tensor.name)
            if match and int(match.group(1)) < n_layer:
                index = int(match.group(1))
                layer_bytes[index] += tensor.nbytes
                if re.search(EXPERT_PATTERN, tensor.name):
                    expert_bytes[index] += tensor.nbytes
            elif tensor.name.startswith("token_embd"):
                input_bytes += tensor.nbytes
            else:
                output_bytes += tensor.nbytes  # output, output_norm, and anything outside the blocks
        heads = per_layer(info.arch_value("attention.head_count"), n_layer, 1)
        n_head = max(heads) if heads else 1
        n_embd = int(info.arch_value("embedding_length") or 0)
        kv_heads = per_layer(info.arch_value("attention.head_count_kv"), n_layer, 0) or heads
        if not any(kv_heads):
            kv_heads = heads
        key = int(info.arch_value("attention.key_length") or (n_embd // max(n_head, 1)))
        value = int(info.arch_value("attention.value_length") or key)
        tokens = info.metadata.get("tokenizer.ggml.tokens")
        n_vocab = int(info.arch_value("vocab_size") or (tokens if isinstance(tokens, int) else len(tokens or [])))
        return cls(
            architecture=arch,
            n_layer=n_layer,
            n_expert=int(info.arch_value("expert_count") or 0),
            n_expert_used=int(info.arch_value("expert_used_count") or 0),
            n_vocab=n_vocab,
            n_embd=n_embd,
            total_bytes=sum(t.nbytes for t in info.tensors),
            input_bytes=input_bytes,
            output_bytes=output_bytes,
            layer_bytes=layer_bytes,
            expert_bytes=expert_bytes,
            k_per_token=sum(kv_heads) * key,
            v_per_token=sum(kv_heads) * value,
            trained_ctx=trained if isinstance(trained := info.arch_value("context_length"), int) else 0,
        )


def per_layer(value, n_layer: int, default: int) -> list[int]:
    """A head count as one number for every layer, or one per layer (some models vary it; 0 = no attention)."""
    if isinstance(value, list):
        counts = [int(v) for v in value if isinstance(v, (int, float))][:n_layer]
        return counts + [counts[-1] if counts else default] * (n_layer - len(counts))
    if isinstance(value, (int, float)) and value > 0:
        return [int(value)] * n_layer
    return [default] * n_layer if default else []


@dataclass
class Plan:
    strategy: str  # "all-gpu" | "experts-cpu" | "experts-cpu+layers" | "layers" | "cpu" | "wont-fit"
    gpu_layers: int  # llama.cpp's n_gpu_layers: the last N blocks (N > n_layer: the output head too)
    cpu_tensor_patterns: list[str]
    gpu_bytes: int  # weights + KV + compute buffer on the GPU
    cpu_bytes: int  # weights (+ KV of CPU layers) in RAM
    kv_bytes: int
    compute_bytes: int
    est_decode_tok_s: float
    fits: bool
    reason: str
    gpu_weight_bytes: int = 0
    cpu_weight_bytes: int = 0
    notes: list[str] = field(default_factory=list)
    cpu_expert_blocks: list[int] = field(default_factory=list)  # blocks whose routed experts stay in RAM
    ctx: int = 0  # the context this plan was made for (launch.plan_for sets it, with why)
    ctx_reason: str = ""
    same_as_n_cpu_moe: int | None = None  # llama.cpp's --n-cpu-moe giving this same placement, if one does
    expected_tok_s: float = 0.0  # est_decode_tok_s at the share of bandwidth llama.cpp reaches (speed.py)

    def as_dict(self) -> dict:
        return asdict(self)

    def summary(self) -> str:
        """The plan in a few words, for a status bar or a log line."""
        if self.strategy == "experts-cpu":
            same = self.same_as_n_cpu_moe
            flag = f" (llama.cpp: --n-cpu-moe {same})" if same is not None else ""
            return f"GPU + experts of {self.cpu_expert_layers} layers in RAM{flag}"
        if self.strategy == "experts-cpu+layers":
            return f"{self.gpu_layers} layers on GPU, all experts in RAM"
        if self.strategy == "layers":
            return f"{self.gpu_layers} layers on GPU"
        if self.strategy == "manual":
            experts = f", experts of {self.cpu_expert_layers} layers in RAM" if self.cpu_expert_blocks else ""
            return f"manual: {self.gpu_layers} GPU layers{experts}"
        return {"all-gpu": "all on GPU", "cpu": "CPU", "wont-fit": "does not fit"}.get(self.strategy, self.strategy)

    @property
    def cpu_expert_layers(self) -> int:
        """How many blocks keep their routed experts in RAM (never negative: -1 once read "all of them")."""
        return len(self.cpu_expert_blocks)

def expert_patterns(layers: list[int], n_moe_layers: int) -> list[str]:
    """Regexes for the routed experts of these blocks, as llama.cpp's --n-cpu-moe writes them."""
    if len(layers) >= n_moe_layers:
        return [EXPERT_PATTERN]
    return [rf"^blk\.{index}{EXPERT_PATTERN}" for index in layers]


def moe_blocks(facts: ModelFacts) -> list[int]:
    return [i for i in range(facts.n_layer) if facts.expert_bytes[i]]


def as_n_cpu_moe(chosen: list[int], moe_layers: list[int]) -> int | None:
    """N such that llama.cpp's `--n-cpu-moe N` (the experts of blocks 0..N-1) moves exactly these blocks."""
    if not chosen:
        return None
    end = chosen[-1] + 1
    return end if chosen == [i for i in moe_layers if i < end] else None


def compute_buffer_bytes(facts: ModelFacts, n_ubatch: int = 512) -> int:
    """llama.cpp's GPU compute buffer: dominated by one batch of logits plus activations; a safe upper estimate."""
    return int(n_ubatch * 4 * (facts.n_vocab + 16 * max(facts.n_embd, 1)) + 64 * 1024 * 1024)


def plan(facts: ModelFacts, machine: Machine, *, ctx: int, explicit_gpu_budget: bool = False) -> Plan:
    chosen = _plan(facts, machine, ctx=ctx, explicit_gpu_budget=explicit_gpu_budget)
    if chosen.fits:
        chosen.expected_tok_s = Estimator(facts, machine, ctx).expected(chosen.cpu_expert_blocks, chosen.gpu_layers)
    if chosen.fits and (note := rpc_note(facts, machine)):
        chosen.notes.append(note)
    if machine.unified_memory and machine.gpus and chosen.strategy != "all-gpu" and not explicit_gpu_budget:
        note = metal_ceiling_note(facts, machine, facts.kv_bytes(ctx) + compute_buffer_bytes(facts))
        if note:
            chosen.notes.append(note)
    return chosen


def rpc_note(facts: ModelFacts, machine: Machine) -> str:
    """How other machines' devices (--rpc) take part, and what the speed estimate assumed about them."""
    workers = [gpu for gpu in machine.gpus if gpu.kind == "rpc"]
    if not workers:
        return ""
    from deskseek.placement.speed import network_seconds

    total = sum(gpu.free_bytes for gpu in machine.gpus) or 1
    shares = ", ".join(f"{gpu.name} {gpu.free_bytes / total:.0%}" for gpu in machine.gpus)
    link = workers[0].link_gbs * 8
    said = "set by --rpc-link" if machine.rpc_link_given else "assumed; --rpc-link GBIT sets it"
    rtt = max(gpu.rtt_s for gpu in workers) * 1000
    wire = sum(network_seconds(gpu, facts.n_embd) for gpu in workers) * 1000
    return (f"offloaded layers are shared by free memory: {shares}; the estimate counts the network: link "
            f"{link:g} Gbit/s ({said}), round trip {rtt:.2f} ms (measured), {wire:.2f} ms a token on the wire; "
            f"a worker's own memory bandwidth is not known here ({workers[0].bandwidth_gbs:g} GB/s assumed)")


def metal_ceiling_note(facts: ModelFacts, machine: Machine, overhead: int) -> str:
    """What to do when Metal's working-set ceiling, not the Mac's memory, keeps the model off the GPU.

    macOS lets the GPU keep about 65-75% of unified memory resident (recommendedMaxWorkingSetSize, which ggml
    reports as the Metal device's memory); past it llama.cpp fails mid-compute or swaps. The limit can be
    raised until the next reboot with `sysctl iogpu.wired_limit_mb`; we suggest it only where macOS keeps
    at least 4 GiB (and a tenth of the memory) for itself.
    """
    need = facts.total_bytes - facts.input_bytes + overhead + GPU_RESERVE
    ceiling = max((gpu.total_bytes for gpu in machine.gpus), default=0)
    total = machine.ram_total_bytes or machine.ram_bytes
    if need <= ceiling:
        return ""
    limit_mb = -(-need // (256 * 2**20)) * 256  # rounded up to 256 MiB
    said = f"Metal keeps at most {_gb(ceiling)} of this Mac's {_gb(total)} on the GPU; all on the GPU needs {_gb(need)}"
    if limit_mb * 2**20 > total - max(4 * 2**30, total // 10):
        return f"{said}, more than macOS can spare"
    return f"{said}: to allow it until the next reboot, run `sudo sysctl iogpu.wired_limit_mb={limit_mb}`"


def _plan(facts: ModelFacts, machine: Machine, *, ctx: int, explicit_gpu_budget: bool) -> Plan:
    kv = facts.kv_bytes(ctx)
    compute = compute_buffer_bytes(facts)
    weights = facts.total_bytes
    gpu_budget = machine.gpu_bytes if explicit_gpu_budget else max(machine.gpu_bytes - GPU_RESERVE, 0)
    ram = machine.ram_bytes

    def ram_left(gpu_used: int) -> int:
        """Unified memory (Apple Silicon) is one pool: what the GPU takes, the CPU side no longer has."""
        return ram - gpu_used if machine.unified_memory else ram

    capacity = ram if machine.unified_memory else gpu_budget + ram
    estimate = Estimator(facts, machine, ctx)

    if not machine.gpus or gpu_budget <= compute:
        fits = weights + kv + compute <= machine.ram_bytes
        return Plan(
            "cpu" if fits else "wont-fit", 0, [], 0, weights + kv + compute, kv, compute,
            estimate.rate([], 0) if fits else 0.0, fits,
            "no GPU: everything runs on the CPU from RAM" if fits else
            f"needs {_gb(weights + kv + compute)} of RAM, {_gb(machine.ram_bytes)} available",
            0, weights,
        )

    on_gpu_all = weights - facts.input_bytes
    if on_gpu_all + kv + compute <= gpu_budget and facts.input_bytes <= ram_left(on_gpu_all + kv + compute):
        return Plan("all-gpu", facts.n_layer + 1, [], on_gpu_all + kv + compute, facts.input_bytes, kv,
                            compute, estimate.rate([], facts.n_layer + 1), True,
                            "weights, KV cache and compute buffer fit in GPU memory", on_gpu_all, facts.input_bytes)

    if weights + kv > capacity:
        where = (f"unified memory holds {_gb(capacity)}" if machine.unified_memory else
                 f"GPU ({_gb(gpu_budget)}) and RAM ({_gb(ram)}) together hold {_gb(capacity)}")
        return Plan("wont-fit", 0, [], 0, 0, kv, compute, 0.0, False,
                    f"needs {_gb(weights + kv)} for weights and KV cache; {where}", 0, 0)

    if facts.moe:
        moe_layers = moe_blocks(facts)
        for count in range(1, len(moe_layers) + 1):
            chosen = moe_layers[:count]
            moved = sum(facts.expert_bytes[i] for i in chosen)
            gpu = on_gpu_all - moved + kv + compute
            if gpu <= gpu_budget and facts.input_bytes + moved <= ram_left(gpu):
                patterns = expert_patterns(chosen, len(moe_layers))
                return Plan(
                    "experts-cpu", facts.n_layer + 1, patterns, gpu, facts.input_bytes + moved, kv, compute,
                    estimate.rate(chosen, facts.n_layer + 1), True,
                    f"the routed experts of {count} of {len(moe_layers)} MoE layers stay in RAM; "
                    "everything else is on the GPU", on_gpu_all - moved, facts.input_bytes + moved,
                    cpu_expert_blocks=chosen, same_as_n_cpu_moe=as_n_cpu_moe(chosen, moe_layers),
                )

    return _layer_offload(facts, gpu_budget, ram_left, kv, compute, estimate)


def _layer_offload(facts, gpu_budget, ram_left, kv, compute, estimate) -> Plan:
    """The last N blocks on the GPU (llama.cpp's order); with all experts kept in RAM first for a MoE."""
    experts_out = facts.moe
    all_experts = [i for i in range(facts.n_layer) if facts.expert_bytes[i]] if experts_out else []
    per_layer = [facts.layer_bytes[i] - (facts.expert_bytes[i] if experts_out else 0) for i in range(facts.n_layer)]
    kv_per_layer = kv / max(facts.n_layer, 1)
    best = 0
    used = compute
    for count in range(1, facts.n_layer + 1):
        used += per_layer[facts.n_layer - count] + kv_per_layer
        if used > gpu_budget:
            break
        best = count
    gpu_weights = sum(per_layer[facts.n_layer - best:]) if best else 0
    gpu = gpu_weights + int(kv_per_layer * best) + compute
    cpu_weights = facts.total_bytes - gpu_weights
    cpu = cpu_weights + int(kv_per_layer * (facts.n_layer - best))
    fits = cpu <= ram_left(gpu)
    strategy = "experts-cpu+layers" if experts_out else "layers"
    patterns = [EXPERT_PATTERN] if experts_out else []
    reason = (f"{best} of {facts.n_layer} layers fit on the GPU"
              + (" with every routed expert in RAM" if experts_out else "") + "; the rest runs on the CPU")
    if not fits:
        strategy, reason = "wont-fit", f"needs {_gb(cpu)} of RAM beside the GPU's share, {_gb(ram_left(gpu))} left"
    return Plan(strategy, best, patterns, gpu, cpu, kv, compute,
                estimate.rate(all_experts, best) if fits else 0.0, fits, reason, gpu_weights, cpu_weights,
                cpu_expert_blocks=all_experts if fits else [],
                same_as_n_cpu_moe=as_n_cpu_moe(all_experts, all_experts) if fits else None)


def _gb(count: float) -> str:
    return f"{count / 1e9:.1f} GB"


def choose(facts: ModelFacts, machine: Machine, *, ctx: int, mode: str = "auto", cpu_moe: bool = False,
           n_cpu_moe: int | None = None, gpu_layers: int | None = None, explicit_gpu_budget: bool = False) -> Plan:
    """The plan a run uses: the planner's, or the user's own flags (which always win over it)."""
    automatic = plan(facts, machine, ctx=ctx, explicit_gpu_budget=explicit_gpu_budget)
    moe_layers = moe_blocks(facts)
    if cpu_moe or n_cpu_moe is not None:
        # llama.cpp's meaning: the experts of blocks 0..N-1, dense leading blocks counted (R1 has three).
        chosen = moe_layers if cpu_moe else [i for i in moe_layers if i < max(n_cpu_moe, 0)]
        patterns = expert_patterns(chosen, len(moe_layers)) if chosen else []
        layers = gpu_layers if gpu_layers is not None else -1
        flag = "--cpu-moe" if cpu_moe else f"--n-cpu-moe {n_cpu_moe}"
        manual = _manual(automatic, layers, patterns, f"{flag}: the routed experts of {len(chosen)} "
                         f"of {len(moe_layers)} MoE layers in RAM")
        manual.cpu_expert_blocks, manual.same_as_n_cpu_moe = chosen, as_n_cpu_moe(chosen, moe_layers)
        return manual
    if mode == "off" or gpu_layers is not None:
        layers = gpu_layers if gpu_layers is not None else -1
        manual = _manual(automatic, layers, [], f"planner off: n_gpu_layers {layers}, no tensor overrides")
        manual.cpu_expert_blocks, manual.same_as_n_cpu_moe = [], None
        return manual
    return automatic


def _manual(automatic: Plan, gpu_layers: int, patterns: list[str], reason: str) -> Plan:
    manual = Plan(**{**automatic.as_dict(), "strategy": "manual", "gpu_layers": gpu_layers,
                     "cpu_tensor_patterns": patterns, "reason": reason, "fits": True})
    manual.notes.append(f"the planner would choose: {automatic.summary()} ({automatic.reason})")
    return manual


def fit_from_size(size: int, machine: Machine) -> str:
    """Before a download, from the file size alone: "fits (GPU)", "fits (GPU+RAM)", "fits (RAM)", "tight", "won't fit".

    The weights plus ~10% for KV cache and buffers at the default context; "tight" within the last 10%.
    """
    need = size * 1.1
    gpu = max(machine.gpu_bytes - GPU_RESERVE, 0) if machine.gpus else 0
    capacity = machine.ram_bytes if machine.unified_memory or not gpu else gpu + machine.ram_bytes
    if gpu and need <= gpu:
        return "fits (GPU)"
    if need <= capacity * 0.9:
        return "fits (GPU+RAM)" if gpu and not machine.unified_memory else "fits (RAM)"
    return "tight" if need <= capacity else "won't fit"
