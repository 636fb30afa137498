"""Per-GPU memory under parallelism: data (with ZeRO-1/2/3 or FSDP), tensor, pipeline, expert and
context parallelism, and CPU/NVMe offload.

The memory model (`llmsize.memory`) gives whole-model bytes by category on one device for one
micro-batch. This module only *places* those bytes: it never re-derives them. Each category is
scaled by the fraction of parameters (or layers, or KV heads) one GPU holds under a `Layout`, so a
planner can score thousands of layouts from one breakdown. The fractions come from the exact
tensor list (`llmsize.tensors`), so a TP shard, a pipeline stage or an expert slice holds exactly
the parameters it holds in Megatron-LM / vLLM.

Symbols: Ψ parameters, N_d data-parallel shard group, t TP size, p PP size, e EP size,
c context-parallel size, m micro-batches per step, L layers.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal

from llmsize.bounds import MAX_GPUS, check_all
from llmsize.errors import LlmsizeError, check_positive_ints
from llmsize.parallel_states import (DS_PREFETCH_BUCKET, DS_REDUCE_BUCKET, OffloadTraffic,  # noqa: F401
                                     deepspeed_buffers, model_states, offload_traffic, offloaded_states)
from llmsize.params import Term
from llmsize.spec import ModelSpec
from llmsize.tensors import Tensor, tensors

Engine = Literal["ddp", "deepspeed", "fsdp", "megatron"]
Offload = Literal["none", "cpu", "nvme"]
FSDP_STRATEGIES = ("full_shard", "shard_grad_op", "hybrid_shard", "no_shard")
GPUS_PER_NODE = 8  # hybrid_shard's default shard group is the data-parallel ranks of one such node
ENGINES = ("ddp", "deepspeed", "fsdp", "megatron")


@dataclass(frozen=True, slots=True, kw_only=True)
class Layout:
    """How a job is spread over GPUs. gpus = dp · tp · pp · cp; EP is carved out of dp · cp.

    `zero` is the sharding stage of the data-parallel states: DeepSpeed ZeRO-1/2/3; for FSDP,
    full_shard = 3, shard_grad_op = 2, no_shard = 0 (hybrid_shard = 3 inside `shard_group` GPUs);
    for Megatron, 1 = distributed optimizer."""

    tp: int = 1
    pp: int = 1
    dp: int = 1
    cp: int = 1
    ep: int = 1
    zero: int = 0
    engine: Engine = "ddp"
    fsdp: str | None = None  # FSDP sharding strategy (engine == "fsdp")
    shard_group: int | None = None  # hybrid_shard: GPUs per shard group (default: the DP ranks of one node)
    reshard_after_forward: bool | None = None  # FSDP: None = the strategy's (shard_grad_op: False)
    sequence_parallel: bool = False  # Megatron SP: norm/dropout activations split over TP
    offload_optimizer: Offload = "none"
    offload_params: Offload = "none"
    offload_kv: bool = False
    micro_batch: int = 1
    grad_accum: int = 1  # micro-batches per step per pipeline (m)
    virtual_stages: int = 1  # model chunks per pipeline GPU (v > 1: Megatron's interleaved 1F1B)
    zero_bubble: bool = False  # ZB-V zero-bubble pipeline schedule (Qi et al. 2024): 1F1B's memory, no bubble

    def __post_init__(self) -> None:
        check_positive_ints({n: getattr(self, n) for n in ("tp", "pp", "dp", "cp", "ep", "micro_batch", "grad_accum",
                                                           "virtual_stages")},
                            "layout")
        check_all("layout", {**{n: (getattr(self, n), "gpus") for n in ("tp", "pp", "dp", "cp", "ep")},
                             "micro_batch": (self.micro_batch, "batch"), "grad_accum": (self.grad_accum, "batch")})
        if self.tp * self.pp * self.dp * self.cp > MAX_GPUS:
            raise LlmsizeError(f"layout: TP x PP x DP x CP = {self.tp * self.pp * self.dp * self.cp:,} GPUs is over "
                               f"{MAX_GPUS:,} (llmsize's gpus bound, far above any real cluster)")
        if self.engine not in ENGINES:
            raise LlmsizeError(f"layout: engine must be one of {', '.join(ENGINES)}, got {self.engine!r}")
        if self.zero not in (0, 1, 2, 3):
            raise LlmsizeError(f"layout: ZeRO stage must be 0, 1, 2 or 3, got {self.zero!r}")
        if self.fsdp is not None:
            if self.fsdp not in FSDP_STRATEGIES:
                raise LlmsizeError(f"layout: FSDP strategy must be one of {', '.join(FSDP_STRATEGIES)}, "
                                   f"got {self.fsdp!r}")
            if self.engine != "fsdp":
                raise LlmsizeError("layout: an FSDP strategy needs engine 'fsdp'")
            want = {"full_shard": 3, "hybrid_shard": 3, "shard_grad_op": 2, "no_shard": 0}[self.fsdp]
            if self.zero != want:
                raise LlmsizeError(f"layout: FSDP {self.fsdp} shards like ZeRO-{want}, not ZeRO-{self.zero}")
        if self.engine == "megatron" and self.zero > 1:
            raise LlmsizeError("layout: Megatron's distributed optimizer shards optimizer states only (zero 0 or 1)")
        if self.engine == "ddp" and self.zero:
            raise LlmsizeError("layout: plain DDP does not shard states; use engine deepspeed, fsdp or megatron")
        for n in ("offload_optimizer", "offload_params"):
            if getattr(self, n) not in ("none", "cpu", "nvme"):
                raise LlmsizeError(f"layout: {n} must be none, cpu or nvme, got {getattr(self, n)!r}")
        if self.offload_optimizer != "none" and self.zero < 1 and self.engine != "fsdp":
            raise LlmsizeError("layout: optimizer offload needs ZeRO-1 or higher (DeepSpeed ZeRO-Offload)")
        if self.offload_params != "none" and self.zero != 3:
            raise LlmsizeError("layout: parameter offload needs ZeRO-3 / FSDP full_shard")
        if self.reshard_after_forward is not None:
            if self.engine != "fsdp":
                raise LlmsizeError("layout: reshard after forward applies to FSDP (--fsdp)")
            if self.fsdp == "shard_grad_op" and self.reshard_after_forward:
                raise LlmsizeError("layout: shard_grad_op keeps parameters unsharded after forward; "
                                   "use full_shard to reshard them")
        if self.shard_group is not None and (self.fsdp != "hybrid_shard" or self.dp % self.shard_group):
            raise LlmsizeError("layout: shard_group applies to FSDP hybrid_shard and must divide dp")
        if (self.dp * self.cp) % self.ep:
            raise LlmsizeError(f"layout: EP ({self.ep}) must divide DP × CP ({self.dp * self.cp}): the experts split "
                               "over data-parallel ranks; give more GPUs or a smaller EP")

    @property
    def gpus(self) -> int:
        return self.dp * self.tp * self.pp * self.cp

    @property
    def shard(self) -> int:
        """N_d: GPUs one data-parallel state is sharded over."""
        if self.zero == 0:
            return 1
        if self.fsdp != "hybrid_shard":
            return self.dp
        if self.shard_group:
            return self.shard_group
        # FSDP's hybrid_shard shards inside a node: the data-parallel ranks of one node, TP and CP ranks
        # (innermost in the device mesh) sharing it with them
        # ASSUMES: nodes of GPUS_PER_NODE GPUs, as the planner lays them out
        return math.gcd(self.dp, max(1, GPUS_PER_NODE // (self.tp * self.cp)))

    def label(self) -> str:
        parts = [f"{k.upper()}{v}" for k, v in (("tp", self.tp), ("pp", self.pp), ("dp", self.dp),
                                                ("cp", self.cp), ("ep", self.ep)) if v > 1 or k == "dp"]
        if self.virtual_stages > 1:
            parts.append(f"interleaved×{self.virtual_stages}")
        if self.zero_bubble:
            parts.append("zero-bubble")
        if self.engine == "fsdp":
            parts.append(f"FSDP-{self.fsdp}" + (f"({self.shard})" if self.fsdp == "hybrid_shard" else ""))
        elif self.engine == "megatron" and self.zero:
            parts.append("dist-opt")
        elif self.zero:
            parts.append(f"ZeRO-{self.zero}")
        if self.offload_optimizer != "none":
            parts.append(f"opt->{self.offload_optimizer}")
        if self.offload_params != "none":
            parts.append(f"params->{self.offload_params}")
        if self.offload_kv:
            parts.append("kv->cpu")
        return " ".join(parts)


def spoken_label(label: str, replicas: int | None = None) -> str:
    """A layout label as people say it: 'TP2 ×4 replicas' where a 'DP1' would hide the replicas (every
    printed layout, tables and export notes alike, goes through this)."""
    parts = [p for p in label.split() if p != "DP1"] or ["1 GPU"]
    if replicas and replicas > 1:
        parts.append(f"×{replicas:,} replicas")
    return " ".join(parts)


def layout_problems(spec: ModelSpec, layout: Layout, *, gpus: int | None = None,
                    seq_len: int | None = None) -> list[str]:
    """Why `layout` cannot run `spec` (empty when it can): divisibility of heads, FFN, vocab,
    layers, experts and sequence by the parallel sizes, and the GPU count.

    Source: shoeybi2019"""
    out: list[str] = []
    a, t = spec.attention, layout.tp
    if gpus is not None and layout.gpus != gpus:
        out.append(f"layout uses DP {layout.dp} × TP {t} × PP {layout.pp} × CP {layout.cp} = {layout.gpus} "
                   f"GPUs, not {gpus}")
    if a.num_heads % t:
        out.append(f"attention heads ({a.num_heads}) not divisible by TP {t}")
    if not a.mla and a.num_kv_heads % t and t % a.num_kv_heads:
        out.append(f"KV heads ({a.num_kv_heads}) and TP {t}: neither divides the other")
    ffns = {spec.mlp.intermediate_size} if spec.num_moe_layers < spec.num_layers else set()
    if spec.moe is not None and layout.ep == 1:
        ffns.add(spec.moe.expert_intermediate_size)
    for f in sorted(ffns):
        if f % t:
            out.append(f"FFN width ({f}) not divisible by TP {t}")
    if layout.pp > spec.num_layers:
        out.append(f"PP {layout.pp} exceeds the {spec.num_layers} layers")
    if layout.zero_bubble and (layout.pp == 1 or layout.virtual_stages > 1):
        out.append("zero-bubble schedule: needs PP > 1 and no interleaving (ZB-V places its own two chunks)")
    if layout.virtual_stages > 1 and (layout.pp == 1 or spec.num_layers % (layout.pp * layout.virtual_stages)):
        out.append(f"interleaved schedule: layers ({spec.num_layers}) must divide into PP {layout.pp} × "
                   f"{layout.virtual_stages} virtual stages (and PP > 1)")
    if layout.ep > 1:
        if spec.moe is None:
            out.append(f"EP {layout.ep} needs a mixture-of-experts model")
        elif spec.moe.num_experts % layout.ep:
            out.append(f"experts ({spec.moe.num_experts}) not divisible by EP {layout.ep}")
    if seq_len is not None and layout.cp > 1 and seq_len % (2 * layout.cp):
        out.append(f"sequence ({seq_len}) not divisible by 2 × CP {layout.cp} (load-balanced ring attention)")
    return out


def check_layout(spec: ModelSpec, layout: Layout, *, gpus: int | None = None, seq_len: int | None = None) -> None:
    """Raise LlmsizeError with every reason `layout` cannot run `spec`."""
    problems = layout_problems(spec, layout, gpus=gpus, seq_len=seq_len)
    if problems:
        raise LlmsizeError(f"layout {layout.label()} rejected for {spec.name}: " + "; ".join(problems))


# -- exact parameter placement --------------------------------------------------------------------
def _tp_split(t: Tensor) -> bool:
    """2-D weights (linears, embeddings, expert stacks) split over TP; 1-D norms/biases replicate."""
    return len(t.shape) >= 2


def shard_numels(t: Tensor, tp: int) -> list[int]:
    """Elements of `t` on each of `tp` ranks: a TP-split tensor is cut along its first (output /
    vocab) dimension, remainder to the first ranks; a replicated one is whole on every rank.

    n_r = ⌈n_0 / t⌉ or ⌊n_0 / t⌋ rows (Σ_r n_r = n_0) × the other dimensions

    Source: shoeybi2019"""
    if not _tp_split(t) or tp == 1:
        return [t.numel] * tp
    rows_dim = 1 if t.experts > 1 else 0
    rows, rest = t.shape[rows_dim], t.numel // t.shape[rows_dim]
    return [(rows // tp + (1 if r < rows % tp else 0)) * rest for r in range(tp)]


def stage_layers(num_layers: int, pp: int) -> list[range]:
    """Decoder layers of each pipeline stage: as even as possible, the extra ones on the first stages.

    Source: narayanan2021"""
    base, extra = divmod(num_layers, pp)
    out, start = [], 0
    for s in range(pp):
        n = base + (1 if s < extra else 0)
        out.append(range(start, start + n))
        start += n
    return out


@dataclass(frozen=True, slots=True, kw_only=True)
class Placement:
    """Parameters one GPU of each pipeline stage holds (TP rank 0, the most loaded), and the largest
    unit ZeRO-3/FSDP gathers at once."""

    total: int
    per_stage: tuple[int, ...]
    experts_per_stage: tuple[int, ...]  # of per_stage, routed-expert parameters split over EP (0 at EP 1)
    layers: tuple[int, ...]  # decoder layers per stage
    largest_unit: int  # params of the largest layer / embedding on one GPU
    kv_fraction: float  # share of one layer's KV heads on one GPU


def kv_fraction(spec: ModelSpec, tp: int) -> float:
    """The share of one layer's KV cache each of `tp` tensor-parallel GPUs holds: its KV heads, at least
    one (a head is replicated where TP outnumbers them); the whole latent under multi-head latent
    attention, which every rank keeps.

    f = ⌈n_kv/t⌉/n_kv  (MLA: 1)

    Source: narayanan2021"""
    a = spec.attention
    return 1.0 if a.mla else math.ceil(a.num_kv_heads / tp) / a.num_kv_heads


@lru_cache(maxsize=4096)
def placement(spec: ModelSpec, tp: int = 1, pp: int = 1, ep: int = 1) -> Placement:
    """Exact parameters on the most loaded GPU of each stage. Embedding on the first stage, final norm
    and head on the last (a tied head is a second copy of the embedding there, as in Megatron-LM);
    expert stacks split over EP (and over TP only when EP is 1).

    P_stage = Σ_{tensors on stage} n_tensor / (t for 2-D, e for experts)

    Source: narayanan2021"""
    stages = stage_layers(spec.num_layers, pp)
    stage_of = {i: s for s, r in enumerate(stages) for i in r}
    per, per_e = [0] * pp, [0] * pp
    layer_params: dict[int | str, int] = {}
    for t in tensors(spec):
        if t.buffer:
            continue
        if t.experts > 1 and ep > 1:
            n = t.numel // t.experts * math.ceil(t.experts / ep)
            per_e[stage_of[t.layer]] += n
        else:
            n = shard_numels(t, tp)[0]
        if t.layer is not None:
            s = stage_of[t.layer]
            layer_params[t.layer] = layer_params.get(t.layer, 0) + n
        elif t.role in ("output", "output.bias", "output_norm", "output_norm.bias", "proj_out"):
            s = pp - 1
            layer_params["head"] = layer_params.get("head", 0) + n
        else:
            s = 0
            layer_params["embed"] = layer_params.get("embed", 0) + n
        per[s] += n
    if spec.tie_word_embeddings and pp > 1:
        emb = next(t for t in tensors(spec) if t.role == "token_embd")
        per[-1] += shard_numels(emb, tp)[0]
    kv_frac = kv_fraction(spec, tp)
    total = sum(t.numel for t in tensors(spec) if not t.buffer)
    return Placement(total=total, per_stage=tuple(per), experts_per_stage=tuple(per_e), layers=tuple(len(r) for r in stages),
                     largest_unit=max(layer_params.values()), kv_fraction=kv_frac)


# -- bytes per GPU ---------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True, kw_only=True)
class Breakdown:
    """Whole-model bytes by category on one device for one micro-batch, as the memory model gives
    them (`breakdown_from_estimate`). `activations` are those kept for backward (or the forward
    working set for inference); `transient` is the peak working memory on top."""

    weights: int
    gradients: int = 0
    optimizer: int = 0
    master_weights: int = 0
    activations: int = 0
    transient: int = 0
    kv_cache: int = 0
    device: int = 0  # per GPU, not scaled (CUDA context, allocator reserve, NCCL buffers)
    weight_bytes_per_param: float = 2.0
    grad_bytes_per_param: float = 0.0
    source: str = "memory.estimate"

    def __post_init__(self) -> None:
        for n in ("weights", "gradients", "optimizer", "master_weights", "activations", "transient",
                  "kv_cache", "device"):
            v = getattr(self, n)
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise LlmsizeError(f"breakdown: {n} must be a non-negative int of bytes, got {v!r}")


@dataclass(frozen=True, slots=True, kw_only=True)
class GpuMemory:
    """Bytes on the most loaded GPU (`stage`), its named terms, each stage's total, the bytes it keeps
    in host (CPU) memory and on NVMe, and what offload moves over its host link."""

    layout: Layout
    peak_bytes: int
    stage: int
    terms: tuple[Term, ...]
    per_stage: tuple[int, ...]
    host_bytes: int = 0  # in host (CPU) memory, per GPU
    nvme_bytes: int = 0  # on NVMe, per GPU
    traffic: OffloadTraffic | None = None  # None: nothing offloaded
    notes: tuple[str, ...] = field(default=())
    phase: str = ""  # replayed route: the phase of the peak ("" when placed by fractions)
    where: str = ""  # replayed route: the moment of the peak
    rank: int = 0  # replayed route: the rank of the shard group holding the peak

    def by_category(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for t in self.terms:
            out[t.name] = out.get(t.name, 0) + t.value
        return out


def in_flight_chunks(p: int, s: int, m: int, v: int = 1) -> int:
    """Model chunks (of L_s/v layers) whose activations pipeline stage s holds at once: 1F1B keeps
    min(p − s, m) micro-batches; Megatron's interleaved schedule warms up (p − s − 1)·2 + (v − 1)·p
    chunks, so stage 0 holds p·v + p − 1 chunks, a factor 1 + (p − 1)/(p·v) over 1F1B.

    n_s = min(p − s, m) (v = 1);  n_s = min((p − s − 1)·2 + (v − 1)·p + 1, m·v) (v > 1)

    Source: korthikanti2022"""
    if p == 1:
        return v
    if v == 1:
        return min(p - s, m)
    return min((p - s - 1) * 2 + (v - 1) * p + 1, m * v)


def per_gpu(spec: ModelSpec, b: Breakdown, layout: Layout) -> GpuMemory:
    """Bytes on each GPU: model states scaled by the parameters it holds and sharded over N_d,
    activations by its layers × in-flight micro-batches, KV by its layers and KV heads.

    M_s = states(P_s) + A/L · L_s · min(p − s, m) · f_tp / c + T/(t·c) + KV · L_s/L · ⌈n_kv/t⌉/n_kv + device
    f_tp = 1/t with sequence parallelism, else (10 + 24/t)/34 (Korthikanti et al. 2022, Table 2)

    Source: korthikanti2022"""
    P = placement(spec, layout.tp, layout.pp, layout.ep)
    L, t, c, p = spec.num_layers, layout.tp, layout.cp, layout.pp
    f_tp = 1 / t if layout.sequence_parallel or t == 1 else (10 + 24 / t) / 34
    stage_totals, stage_terms, hosts, nvmes = [], [], [], []
    for s in range(p):
        terms, host, nvme = offloaded_states(b, layout, params_on_gpu=P.per_stage[s], total_params=P.total,
                                             largest_unit=P.largest_unit, expert_params=P.experts_per_stage[s])
        v = layout.virtual_stages
        chunks = in_flight_chunks(p, s, layout.grad_accum, v)
        in_flight = chunks if v == 1 else f"{chunks} chunks of L_s/{v}"
        act = round(b.activations / L * P.layers[s] * chunks / v * f_tp / c)
        terms.append(("activations", act, f"A/L·L_s·min(p−s, m)·f_tp/c (L_s={P.layers[s]}, in flight "
                      f"{in_flight})", "korthikanti2022"))
        terms.append(("transient", b.transient // (t * c), "T/(t·c)", "korthikanti2022"))
        terms.extend(deepspeed_buffers(b, layout))
        kv = round(b.kv_cache * P.layers[s] / L * P.kv_fraction)
        if layout.offload_kv:
            host, kv = host + kv, 0
        terms.append(("kv_cache", kv, "KV·L_s/L·⌈n_kv/t⌉/n_kv", "kwon2023"))
        terms.append(("device", b.device, "per-GPU runtime overhead", "vllm-memory"))
        stage_totals.append(sum(v for _, v, _, _ in terms))
        stage_terms.append(terms)
        hosts.append(host)
        nvmes.append(nvme)
    worst = max(range(p), key=lambda i: stage_totals[i])
    return GpuMemory(layout=layout, peak_bytes=stage_totals[worst], stage=worst,
                     terms=tuple(Term(name=n, value=v, formula=f, source=src)
                                 for n, v, f, src in stage_terms[worst] if v),
                     per_stage=tuple(stage_totals), host_bytes=max(hosts), nvme_bytes=max(nvmes),
                     traffic=offload_traffic(b, layout, params_on_gpu=max(P.per_stage), total_params=P.total))
