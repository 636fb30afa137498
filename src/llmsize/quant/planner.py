"""The quantization planner: for each weight format, exact weight bytes, inference memory at a
context, whether it fits a GPU, the largest context that fits, decode speed from memory bandwidth,
and the published quality cost; sorted so the best format that fits comes first."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from llmsize.errors import LlmsizeError
from llmsize.quant.formats import Format, get_format, list_formats, weight_plan
from llmsize.quant.kv import kv_cache_bytes, kv_dtype
from llmsize.params import count
from llmsize.quant.quality import Floor, Quality, body_bits, quality, quality_floor
from llmsize.quant.weights import WeightPlan
from llmsize.spec import ModelSpec

# (spec, plan, context, kv dtype, batch) -> (total bytes, KV bytes in it, bytes beyond weights and KV or None,
# notes)
MemoryFn = Callable[[ModelSpec, WeightPlan, int, str, int], tuple[int, int, int | None, tuple[str, ...]]]


@dataclass(frozen=True, slots=True, kw_only=True)
class PlanRow:
    format: str
    label: str
    weight_bytes: int
    bits_per_weight: float
    kv_bytes: int  # KV cache bytes inside total_bytes
    other_bytes: int | None  # activations and working set (from llmsize.memory), if known
    total_bytes: int
    fits: bool | None
    max_context: int | None
    bytes_per_token: int
    decode_tokens_per_s: float | None
    quality: Quality | None
    body_bits: float = 0.0  # bits per weight of the decoder layers' matrices (quality.body_bits)
    below_floor: bool = False  # body_bits under the model's quality floor
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.weight_bytes <= 0 or self.total_bytes < self.weight_bytes or self.kv_bytes < 0:
            raise LlmsizeError(f"{self.format}: inconsistent row (weights {self.weight_bytes}, total "
                               f"{self.total_bytes}, KV {self.kv_bytes})")

    def as_dict(self) -> dict[str, Any]:
        return dict(format=self.format, label=self.label, weight_bytes=self.weight_bytes,
                    bits_per_weight=round(self.bits_per_weight, 4), kv_bytes=self.kv_bytes,
                    other_bytes=self.other_bytes, total_bytes=self.total_bytes, fits=self.fits,
                    max_context=self.max_context, bytes_per_token=self.bytes_per_token,
                    decode_tokens_per_s=None if self.decode_tokens_per_s is None else round(self.decode_tokens_per_s, 2),
                    quality=None if self.quality is None else dict(metric=self.quality.metric, value=self.quality.value,
                                                                    reference=self.quality.reference,
                                                                    source=self.quality.source),
                    body_bits_per_weight=round(self.body_bits, 4), below_floor=self.below_floor,
                    notes=list(self.notes))


@dataclass(frozen=True, slots=True, kw_only=True)
class QuantReport:
    model: str
    context: int
    kv_dtype: str
    batch: int
    gpu: str | None
    gpu_bytes: int | None
    bandwidth: float | None
    rows: tuple[PlanRow, ...]
    floor: Floor | None = None
    skipped: tuple[tuple[str, str], ...] = ()  # (format, why) for formats that do not apply
    notes: tuple[str, ...] = ()

    @property
    def best(self) -> PlanRow | None:
        """The highest-fidelity (largest) format that fits at or above the quality floor; None without a
        GPU or if none does."""
        return next((r for r in self.rows if r.fits and not r.below_floor), None)

    @property
    def best_below_floor(self) -> PlanRow | None:
        """Where nothing at the floor fits: the highest-fidelity format that fits below it (with a warning)."""
        return None if self.best else next((r for r in self.rows if r.fits), None)

    def as_dict(self) -> dict[str, Any]:
        b, low = self.best, self.best_below_floor
        return dict(model=self.model, context=self.context, kv_dtype=self.kv_dtype, batch=self.batch, gpu=self.gpu,
                    gpu_bytes=self.gpu_bytes, bandwidth_bytes_per_s=self.bandwidth, best=b.format if b else None,
                    best_below_floor=low.format if low else None,
                    floor=None if self.floor is None else self.floor.as_dict(),
                    rows=[r.as_dict() for r in self.rows], skipped=[dict(format=f, why=w) for f, w in self.skipped],
                    notes=list(self.notes))


def active_weight_bytes(spec: ModelSpec, plan: WeightPlan) -> int:
    """Weight bytes read to decode one token: every tensor once, except routed experts (top-k of E)
    and the embedding table (one row; all of it when it is also the tied output head).

    bytes/token = Σ_dense bytes + Σ_experts bytes · k/E + [token_embd bytes / V unless tied]

    Source: kaplan2020"""
    total = 0
    for t in plan.tensors:
        if t.role.split(".")[0].endswith("_exps") and spec.moe is not None:
            total += t.bytes * spec.moe.top_k // spec.moe.num_experts
        elif t.role == "token_embd" and not spec.tie_word_embeddings:
            total += -(-t.bytes // spec.vocab_size)
        else:
            total += t.bytes
    return total


def weights_and_kv(spec: ModelSpec, plan: WeightPlan, context: int, kv: str, batch: int
                   ) -> tuple[int, int, int | None, tuple[str, ...]]:
    """Weights + KV cache only: the floor of any runtime's memory (no activations, no workspace)."""
    kvb = kv_cache_bytes(spec, context, kv, batch=batch)
    return plan.bytes + kvb, kvb, None, ("total = weights + KV cache only (no activations or workspace)",)


def default_memory() -> MemoryFn:
    """llmsize.memory's inference estimate, fed our exact weight bytes; weights + KV if it is absent."""
    try:
        from llmsize.quant import memory_bridge
    except ImportError:
        return weights_and_kv
    return memory_bridge.inference_bytes


def _max_context(total: Callable[[int], int], limit: int, usable: int) -> int | None:
    """The largest context in [1, limit] whose total fits (total grows with context)."""
    if total(1) > usable:
        return None
    if total(limit) <= usable:
        return limit
    lo, hi = 1, limit  # total(lo) fits, total(hi) does not
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if total(mid) <= usable else (lo, mid)
    return lo


def plan_quant(spec: ModelSpec, *, gpu: Any = None, context: int | None = None, kv: str = "bf16",
               formats: Sequence[str | Format] | None = None, batch: int = 1,
               memory: MemoryFn | None = None) -> QuantReport:
    """One row per format (default: llmsize.quant.formats.LISTED), sorted: formats that fit the GPU
    first, largest (highest fidelity) first; then those that do not fit, smallest first.

    decode tokens/s ≤ bandwidth · batch / (active weight bytes + KV bytes)

    Source: llama-quant"""
    if gpu is not None and isinstance(gpu, str):
        from llmsize.catalog.hardware import parse_gpu

        gpu = parse_gpu(gpu)
    ctx = spec.max_position_embeddings if context is None else context
    if ctx <= 0 or batch <= 0:
        raise LlmsizeError(f"context and batch must be positive, got {ctx} and {batch}")
    kvd = kv_dtype(kv)
    mem = memory or default_memory()
    explicit = formats is not None
    if formats is not None:  # each format once (Q4_0 and q4_0 are one), in the order first given
        once: dict[str, Format] = {}
        for f in formats:
            g = get_format(f)
            once.setdefault(g.key, g)
        fmts = list(once.values())
    else:
        fmts = list(list_formats())
    rows: list[PlanRow] = []
    skipped: list[tuple[str, str]] = []
    usable = gpu.usable if gpu is not None else None
    bw = gpu.bandwidth if gpu is not None else None
    notes: set[str] = set()
    floor = quality_floor(count(spec).total)
    for f in fmts:
        if not explicit and f.family == "mxfp4" and spec.moe is None:
            skipped.append((f.key, "MXFP4 (gpt-oss) quantizes only routed experts; this model has none"))
            continue
        try:
            plan = weight_plan(spec, f)
        except LlmsizeError as e:
            if explicit:
                raise
            skipped.append((f.key, str(e)))
            continue
        total, kvb, other, mnotes = mem(spec, plan, ctx, kvd, batch)
        notes.update(mnotes)
        per_token = active_weight_bytes(spec, plan) + kv_cache_bytes(spec, ctx, kvd, batch=batch)
        fits = None if usable is None else total <= usable
        maxc = None
        if usable is not None:
            maxc = _max_context(lambda c: mem(spec, plan, c, kvd, batch)[0], spec.max_position_embeddings, usable)
        rows.append(PlanRow(format=f.key, label=f.label, weight_bytes=plan.bytes,
                            bits_per_weight=float(plan.bits_per_weight), kv_bytes=kvb, other_bytes=other,
                            total_bytes=total, fits=fits, max_context=maxc, bytes_per_token=per_token,
                            decode_tokens_per_s=None if not bw else bw * batch / per_token,
                            quality=quality(f.key), notes=plan.notes,
                            body_bits=body_bits(plan), below_floor=body_bits(plan) < floor.min_bits_per_weight))
    if gpu is None:
        rows.sort(key=lambda r: -r.weight_bytes)
    else:
        rows.sort(key=lambda r: (not r.fits, -r.weight_bytes if r.fits else r.weight_bytes))
    if bw:
        notes.add("decode tokens/s is the memory-bandwidth bound: bandwidth x batch / bytes read per step "
                  "(active weights + KV cache); real kernels reach a fraction of it")
    return QuantReport(model=spec.name, context=ctx, kv_dtype=kvd, batch=batch,
                       gpu=None if gpu is None else gpu.name, gpu_bytes=usable, bandwidth=bw, rows=tuple(rows),
                       floor=floor,
                       skipped=tuple(skipped), notes=tuple(sorted(notes)))
