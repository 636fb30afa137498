"""Compression what-ifs: quantization, structured pruning, 2:4 sparsity and distillation, each as
numbers before and after (through `metrics`) plus the published quality cost where one exists.

Quality is never predicted for the user's model: `PUBLISHED` quotes what papers measured on theirs.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from llmsize.design.metrics import Metrics, Setting, metrics
from llmsize.errors import LlmsizeError
from llmsize.load import apply_knobs
from llmsize.spec import ModelSpec
from llmsize.tensors import Tensor, tensors


@dataclass(frozen=True, slots=True, kw_only=True)
class Published:
    """One measured quality cost from a paper or its official release."""

    kind: str  # "2:4", "prune", "distill"
    what: str
    metric: str
    before: float
    after: float
    tokens: str  # retraining / distillation tokens, as published
    source: str

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


PUBLISHED: tuple[Published, ...] = (
    # locuslab/wanda README, LLaMA-2 table: WikiText perplexity (lower is better), one-shot, no retraining
    *(Published(kind="2:4", what=f"Llama-2-{m} 2:4, {meth}", metric="WikiText ppl", before=b, after=a,
                tokens="none (one-shot, 128 calibration sequences)", source="sun2023")
      for m, meth, b, a in (("7B", "SparseGPT", 5.12, 10.17), ("7B", "Wanda", 5.12, 11.02),
                            ("13B", "SparseGPT", 4.57, 8.32), ("13B", "Wanda", 4.57, 8.27),
                            ("70B", "SparseGPT", 3.12, 5.40), ("70B", "Wanda", 3.12, 5.16))),
    # Sreenivas et al. 2024 (the Minitron approach), table 1: MMLU 5-shot (higher is better)
    Published(kind="prune", what="Llama-3.1-8B -> 4.5B, width pruning + distillation", metric="MMLU",
              before=65.3, after=60.5, tokens="94B", source="sreenivas2024"),
    Published(kind="prune", what="Llama-3.1-8B -> 4.5B, depth pruning (16 layers) + distillation", metric="MMLU",
              before=65.3, after=58.7, tokens="94B", source="sreenivas2024"),
    Published(kind="prune", what="Mistral-NeMo-12B -> 8B, width pruning + distillation", metric="MMLU",
              before=69.0, after=69.5, tokens="380B", source="sreenivas2024"),
    # Xia et al. 2023, Sheared-LLaMA model cards: average of their downstream suite
    Published(kind="prune", what="Llama-2-7B -> Sheared-LLaMA-2.7B (structured pruning + continued pre-training)",
              metric="downstream average", before=64.6, after=56.7, tokens="50B", source="xia2023"),
    Published(kind="prune", what="Llama-2-7B -> Sheared-LLaMA-1.3B", metric="downstream average", before=64.6,
              after=51.0, tokens="50B", source="xia2023"),
    Published(kind="distill", what="BERT-base -> DistilBERT (40% fewer parameters, 60% faster)",
              metric="share of GLUE score kept (%)", before=100.0, after=97.0, tokens="BERT's pre-training corpus",
              source="sanh2019"),
    Published(kind="distill", what="Llama-3.1-8B -> Llama-3.1-Minitron-4B-Width (logit distillation)",
              metric="MMLU", before=65.3, after=60.5, tokens="94B", source="sreenivas2024"),
)


def published(kind: str) -> tuple[Published, ...]:
    return tuple(p for p in PUBLISHED if p.kind == kind)


@dataclass(frozen=True, slots=True, kw_only=True)
class Change:
    """A compression what-if: the model before and after, and what papers measured."""

    kind: str
    description: str
    before: Metrics
    after: Metrics
    spec_after: ModelSpec
    quality: tuple[Published, ...]
    details: tuple[tuple[str, Any], ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return dict(kind=self.kind, description=self.description, before=self.before.as_dict(),
                    after=self.after.as_dict(), details=dict(self.details),
                    published_quality=[q.as_dict() for q in self.quality])


# -- quantization ----------------------------------------------------------------------------------
def quantize(spec: ModelSpec, fmt: str, setting: Setting = Setting()) -> Change:
    """The same model with its weights stored in `fmt` (bytes from the quantization module)."""
    from llmsize.quant.formats import get_format

    f = get_format(fmt)
    return Change(kind="quantize", description=f"weights stored as {f.key}", before=metrics(spec, setting),
                  after=metrics(spec, replace(setting, weight_format=f.key)), spec_after=spec, quality=(),
                  details=(("format", f.key),))


# -- structured pruning ----------------------------------------------------------------------------
def prune(spec: ModelSpec, *, drop_layers: int = 0, heads: int | None = None, kv_heads: int | None = None,
          ffn: int | None = None, hidden: int | None = None, setting: Setting = Setting()) -> Change:
    """Drop whole layers (depth), attention heads, FFN channels or hidden channels (width), as
    Minitron and Sheared-LLaMA do, and count the smaller model exactly."""
    a = spec.attention
    if drop_layers < 0 or drop_layers >= spec.num_layers:
        raise LlmsizeError(f"prune: can drop 0 to {spec.num_layers - 1} of {spec.num_layers} layers, not {drop_layers}")
    shrink = {"heads": (heads, a.num_heads), "kv_heads": (kv_heads, a.num_kv_heads),
              "ffn": (ffn, spec.moe.expert_intermediate_size if spec.moe else spec.mlp.intermediate_size),
              "hidden": (hidden, spec.hidden_size)}
    for k, (new, old) in shrink.items():
        if new is not None and not 0 < new <= old:
            raise LlmsizeError(f"prune: {k} can only shrink: {old} -> {new} is not a pruning")
    if a.mla and (heads or kv_heads):
        raise LlmsizeError("prune: head pruning of multi-head latent attention is not modelled")
    if not any((drop_layers, heads, kv_heads, ffn, hidden)):
        raise LlmsizeError("prune: say what to remove (--drop-layers, --heads, --kv-heads, --ffn or --hidden)")
    knobs: dict[str, Any] = {"layers": spec.num_layers - drop_layers if drop_layers else None, "ffn": ffn,
                             "hidden": hidden, "name": spec.name + " (pruned)"}
    if heads or kv_heads or hidden:
        knobs.update(heads=heads or a.num_heads, head_dim=a.head_dim)
        knobs["kv_heads"] = kv_heads or min(a.num_kv_heads, heads or a.num_heads)
    if spec.moe is not None and ffn is not None:
        knobs.pop("ffn")
        new = apply_knobs(spec, **knobs)
        new = new.with_(moe=replace(spec.moe, expert_intermediate_size=ffn))
    else:
        new = apply_knobs(spec, **knobs)
    parts = [f"{drop_layers} of {spec.num_layers} layers dropped" if drop_layers else "",
             f"heads {a.num_heads} -> {new.attention.num_heads}" if heads and heads != a.num_heads else "",
             f"KV heads {a.num_kv_heads} -> {new.attention.num_kv_heads}" if kv_heads else "",
             f"FFN {shrink['ffn'][1]} -> {ffn}" if ffn else "",
             f"hidden {spec.hidden_size} -> {hidden}" if hidden else ""]
    return Change(kind="prune", description=", ".join(p for p in parts if p), before=metrics(spec, setting),
                  after=metrics(new, setting), spec_after=new, quality=published("prune"),
                  details=(("kind", "depth" if drop_layers and not (heads or ffn or hidden) else "width"),))


# -- 2:4 semi-structured sparsity --------------------------------------------------------------------
_BITS = {"bf16": 16, "fp16": 16, "int8": 8, "fp8": 8}


def _prunable(t: Tensor) -> bool:
    # ASSUMES: as SparseGPT and Wanda, only the linear layers inside decoder blocks are made 2:4 sparse;
    # embeddings, head, norms and routers stay dense.
    return t.layer is not None and len(t.shape) >= 2 and (t.linear or t.experts > 1) and t.role != "ffn_gate_inp"


def sparse24_bytes(t: Tensor, dtype: str = "bf16") -> tuple[int, int]:
    """(value bytes, metadata bytes) of one tensor in NVIDIA's 2:4 compressed form: 2 of every 4
    values kept along the input dimension, plus a 2-bit position index per kept value.

    # B_values = n/2 · b/8,  B_meta = n/2 · 2/8   (n values of b bits; dense n·b/8)

    Source: mishra2021"""
    b = _BITS.get(dtype)
    if b is None:
        raise LlmsizeError(f"2:4 sparsity: values must be 16-bit (bf16/fp16) or 8-bit (int8/fp8), not {dtype!r}")
    if t.shape[-1] % 4:
        raise LlmsizeError(f"2:4 sparsity: {t.name} has {t.shape[-1]} input features, not a multiple of 4")
    kept = t.numel // 2
    return kept * b // 8, -(-kept * 2 // 8)


def sparse24_plan(spec: ModelSpec, dtype: str = "bf16") -> Any:
    """The dense weight plan of `spec` with every block linear stored 2:4 sparse (values + indices).

    Source: mishra2021"""
    from llmsize.quant.formats import weight_plan
    from llmsize.quant.weights import TensorQuant, WeightPlan

    if dtype not in _BITS:
        raise LlmsizeError(f"2:4 sparsity: values must be 16-bit or 8-bit, not {dtype!r}")
    base = weight_plan(spec, dtype if dtype in ("bf16", "fp16") else "bf16")
    by_name = {t.name: t for t in tensors(spec)}
    out = []
    for tq in base.tensors:
        t = by_name.get(tq.name)
        if t is None or t.buffer or not _prunable(t):
            out.append(tq)
            continue
        v, m = sparse24_bytes(t, dtype)
        out.append(TensorQuant(name=tq.name, role=tq.role, shape=tq.shape, params=tq.params, format=f"2:4-{dtype}",
                               bytes=v + m, parts=(("values", v), ("indices", m)), layer=tq.layer))
    return WeightPlan(model=spec.name, format=f"2:4-{dtype}", tensors=tuple(out), source="mishra2021")


def sparse24(spec: ModelSpec, setting: Setting = Setting()) -> Change:
    """Every linear weight in the decoder blocks made 2:4 sparse; the rest stays dense."""
    from llmsize.quant.planner import active_weight_bytes

    dtype = setting.dtype
    plan = sparse24_plan(spec, dtype)
    before = metrics(spec, setting)
    sparse = [t for t in plan.tensors if t.format.startswith("2:4")]
    values = sum(dict(t.parts)["values"] for t in sparse)
    meta = sum(dict(t.parts)["indices"] for t in sparse)
    n = sum(t.params for t in sparse)
    dense = n * _BITS[dtype] // 8
    note = (f"2:4 sparse weights: {plan.bytes:,} bytes ({values:,} values + {meta:,} index metadata) where dense "
            f"{dtype} stores {before.weight_bytes:,}; 2:4 math can run up to 2x on sparse tensor cores (not applied: "
            f"speeds use the dense peak)")
    after = metrics(spec.with_(name=spec.name + " (2:4)"), setting, weight_bytes_override=plan.bytes,
                    read_bytes_override=active_weight_bytes(spec, plan), notes=(note,))
    return Change(kind="2:4", description="2:4 semi-structured sparsity on all block linears",
                  before=before, after=after, spec_after=spec, quality=published("2:4"),
                  details=(("sparse_params", n), ("dense_bytes_replaced", dense), ("value_bytes", values),
                           ("metadata_bytes", meta), ("nonzero_params", n // 2)))


# -- distillation ----------------------------------------------------------------------------------
def distill(teacher: ModelSpec, student: ModelSpec, *, tokens: int, setting: Setting = Setting()) -> Change:
    """Train `student` on `tokens` tokens of the teacher's logits: the student's training compute
    plus one teacher forward pass per token (perf's FLOP counts, at perf's MFU).

    # C = D·C_train(student) + C_fwd(teacher, D tokens, s/2 context)

    Source: sreenivas2024"""
    from llmsize import perf

    if tokens < 1:
        raise LlmsizeError("distill: distillation tokens must be positive")
    before = metrics(teacher, setting)
    after = metrics(student, replace(setting, train_tokens=tokens))
    teacher_fwd = perf.forward_flops(teacher, tokens, setting.train_seq // 2)
    details: list[tuple[str, Any]] = [("tokens", tokens), ("teacher_forward_flops", teacher_fwd)]
    if after.train_flops is not None and after.gpu_hours is not None:
        # the teacher's forward runs at the same achieved rate as the student's training
        hours = after.gpu_hours * (1 + teacher_fwd / after.train_flops)
        details += [("total_flops", after.train_flops + teacher_fwd), ("gpu_hours", hours)]
        if after.train_cost_usd is not None:
            details.append(("cost_usd", after.train_cost_usd * hours / after.gpu_hours))
    return Change(kind="distill", description=f"{teacher.name} -> {student.name} on {tokens:,} tokens",
                  before=before, after=after, spec_after=student, quality=published("distill"),
                  details=tuple(details))
