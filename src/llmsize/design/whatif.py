"""Architecture what-ifs on one model: attention (MHA, GQA, MQA, MLA), vocabulary size, depth vs
width at equal parameters, and dense -> MoE at equal active parameters. Each variant is a real
ModelSpec; its numbers come from `metrics` like every other row.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

from llmsize.design.metrics import Metrics, Setting, kv_layers, metrics
from llmsize.design.shapes import Constraints, propose
from llmsize.errors import LlmsizeError
from llmsize.load import apply_knobs
from llmsize.params import count
from llmsize.spec import MoE, ModelSpec


@dataclass(frozen=True, slots=True, kw_only=True)
class Variant:
    label: str
    spec: ModelSpec
    metrics: Metrics
    base: bool = False

    def as_dict(self) -> dict[str, Any]:
        return dict(label=self.label, base=self.base, **self.metrics.as_dict())


@dataclass(frozen=True, slots=True, kw_only=True)
class WhatIf:
    kind: str
    model: str
    variants: tuple[Variant, ...]
    notes: tuple[str, ...]
    sources: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return dict(kind=self.kind, model=self.model, variants=[v.as_dict() for v in self.variants],
                    notes=list(self.notes), sources=list(self.sources))


def _variants(base: ModelSpec, specs: list[tuple[str, ModelSpec]], setting: Setting) -> tuple[Variant, ...]:
    out = [Variant(label="as is", spec=base, metrics=metrics(base, setting), base=True)]
    for label, s in specs:
        if replace(s, name=base.name, notes=base.notes) == base:
            continue  # the variant the model already is
        out.append(Variant(label=label, spec=s, metrics=metrics(s, setting)))
    return tuple(out)


# -- attention -------------------------------------------------------------------------------------
def attention_spec(spec: ModelSpec, kind: str) -> ModelSpec:
    """`spec` with its attention replaced: 'mha', 'mqa', 'gqa:G' (G KV heads) or 'mla'.

    MLA follows DeepSeek-V2's proportions: latent d_c = 4·d_h, decoupled RoPE d_h^R = d_h/2,
    value head d_h, no query compression (as DeepSeek-V2-Lite)."""
    a = spec.attention
    base = replace(a, q_lora_rank=None, kv_lora_rank=None, qk_rope_head_dim=0, v_head_dim=None) if a.mla else a
    d_h = a.v_dim if a.mla else a.head_dim
    if kind == "mha":
        new = replace(base, num_kv_heads=a.num_heads, head_dim=d_h)
    elif kind == "mqa":
        new = replace(base, num_kv_heads=1, head_dim=d_h)
    elif kind.startswith("gqa:"):
        try:
            g = int(kind[4:])
        except ValueError:
            raise LlmsizeError(f"attention: write gqa:G with G the number of KV heads, got {kind!r}") from None
        if g < 1 or a.num_heads % g:
            raise LlmsizeError(f"attention: {g} KV heads must divide the {a.num_heads} query heads")
        new = replace(base, num_kv_heads=g, head_dim=d_h)
    elif kind == "mla":
        if a.mla:
            return spec
        rope = d_h // 2
        new = replace(a, num_kv_heads=a.num_heads, head_dim=d_h + rope, kv_lora_rank=4 * d_h,
                      qk_rope_head_dim=rope, v_head_dim=d_h, q_lora_rank=None, fused_qkv=False)
    else:
        raise LlmsizeError(f"attention: unknown kind {kind!r} (mha, gqa:G, mqa or mla)")
    return spec.with_(attention=new, name=f"{spec.name} [{kind}]")


def attention(spec: ModelSpec, setting: Setting = Setting(), kinds: tuple[str, ...] | None = None) -> WhatIf:
    """MHA -> GQA -> MQA -> MLA on the same model: parameters and KV bytes per token move, the rest stays."""
    h = spec.attention.num_heads
    if kinds is None:
        groups = [g for g in (8, 4) if h % g == 0 and g < h]
        kinds = ("mha", *(f"gqa:{g}" for g in groups), "mqa", "mla")
    specs = [(k, attention_spec(spec, k)) for k in kinds]
    return WhatIf(kind="attention", model=spec.name, variants=_variants(spec, specs, setting),
                  notes=("GQA: uptrained GQA reaches quality close to MHA at a speed close to MQA (Ainslie et al. "
                         "2023); MLA caches one latent of d_c + d_h^R values per layer instead of 2·n_kv·d_h "
                         "(DeepSeek-V2, sec. 2.1); quality is the papers', not predicted here",
                         _layer_types_note(spec, setting)),
                  sources=("ainslie2023", "shazeer2019", "deepseek-v2"))


def _layer_types_note(spec: ModelSpec, setting: Setting) -> str:
    """Which layer types every variant's KV numbers assume (the variants keep the model's layer types)."""
    head = f"KV cache per token counts every layer of {spec.name} as its config gives them: {kv_layers(spec)}"
    w = spec.sliding_window if any(spec.layer_type(i) == "sliding" for i in range(spec.num_layers)) else None
    if w is None:
        return head + ("; the config sets no sliding window, so every layer keeps the whole context (a model "
                       "trained with a window its config does not carry holds less at long contexts than shown)")
    held = "all of it" if setting.context <= w else f"the last {w:,} tokens"
    return head + f"; at the {setting.context:,}-token context a sliding layer holds {held}"


# -- vocabulary ------------------------------------------------------------------------------------
def vocab(spec: ModelSpec, setting: Setting = Setting(), sizes: tuple[int, ...] = (32_000, 128_256, 262_144)) -> WhatIf:
    """The same model with other tokenizer sizes (each padded to a multiple of 128): embedding and
    head parameters and the head's FLOPs per token change."""
    specs = []
    for v in sizes:
        if v < 1:
            raise LlmsizeError(f"vocab: sizes must be positive, got {v}")
        padded = -(-v // 128) * 128
        specs.append((f"V={padded:,}", apply_knobs(spec, vocab=padded, name=f"{spec.name} [V={padded}]")))
    return WhatIf(kind="vocab", model=spec.name, variants=_variants(spec, specs, setting),
                  notes=("a larger vocabulary also shortens sequences (fewer tokens per text), which this "
                         "per-token view does not show",),
                  sources=("megatron-vocab",))


# -- depth vs width --------------------------------------------------------------------------------
def constraints_of(spec: ModelSpec) -> Constraints:
    """The design constraints that reproduce `spec`'s family practice (vocab, heads, FFN ratio)."""
    a, d = spec.attention, spec.hidden_size
    f = spec.mlp.intermediate_size
    gated = spec.mlp.kind == "gated"
    kind = "mha" if a.num_kv_heads == a.num_heads else "mqa" if a.num_kv_heads == 1 else "gqa"
    mult = f / (8 * d / 3) if gated else 1.0
    return Constraints(vocab=spec.vocab_size, attention=kind, kv_heads=a.num_kv_heads, head_dim=a.head_dim,
                       ffn_mult=min(max(mult, 0.25), 8.0), gated=gated, tied=spec.tie_word_embeddings,
                       context=spec.max_position_embeddings)


def shape(spec: ModelSpec, setting: Setting = Setting(), n: int = 5) -> WhatIf:
    """Same parameter count, other depth/width splits (through the shape designer)."""
    if spec.moe is not None or spec.attention.mla:
        raise LlmsizeError("depth vs width: only dense, non-MLA models are redesigned")
    target = count(spec).total
    cands = propose(target, constraints_of(spec), n=n)
    specs = [(f"d={c.spec.hidden_size}, L={c.spec.num_layers} (d/L {c.aspect:.0f})", c.spec) for c in cands]
    return WhatIf(kind="shape", model=spec.name, variants=_variants(spec, specs, setting),
                  notes=("Kaplan et al. 2020 (sec. 3.1) found loss depends only weakly on d/L over a wide range; "
                         "deeper models decode more slowly per parameter (more sequential layers)",),
                  sources=("kaplan2020-laws", "hf-configs"))


# -- dense -> MoE ----------------------------------------------------------------------------------
def moe_spec(spec: ModelSpec, experts: int, top_k: int, shared: int = 0) -> ModelSpec:
    """The dense model with each FFN replaced by `experts` experts of width f/(top_k + shared) so that
    top_k routed + `shared` shared experts are as wide as the dense FFN (equal active parameters)."""
    if spec.moe is not None:
        raise LlmsizeError("moe: the model is already a mixture of experts")
    if not 1 <= top_k <= experts:
        raise LlmsizeError(f"moe: top-k must be in 1..{experts}, got {top_k}")
    f = spec.mlp.intermediate_size
    width = f // (top_k + shared)
    if width < 1 or width * (top_k + shared) != f:
        raise LlmsizeError(f"moe: FFN width {f} does not split into {top_k + shared} equal experts")
    m = MoE(num_experts=experts, top_k=top_k, expert_intermediate_size=width, expert_kind=spec.mlp.kind,
            shared_intermediate_size=width * shared)
    label = f"{experts}x top-{top_k}" + (f" + {shared} shared" if shared else "")
    return spec.with_(moe=m, moe_layers=(True,) * spec.num_layers, name=f"{spec.name} [MoE {label}]")


def moe(spec: ModelSpec, setting: Setting = Setting(),
        configs: tuple[tuple[int, int, int], ...] = ((8, 2, 0), (64, 8, 0), (64, 6, 2))) -> WhatIf:
    """Dense -> MoE at equal active parameters: Mixtral-style (8 experts, top-2) and fine-grained
    (64 experts, top-8; DeepSeekMoE-style with shared experts)."""
    specs = []
    for e, k, s in configs:
        try:
            specs.append((f"MoE {e}x top-{k}" + (f" + {s} shared" if s else ""), moe_spec(spec, e, k, s)))
        except LlmsizeError:
            continue
    if not specs:
        raise LlmsizeError(f"moe: FFN width {spec.mlp.intermediate_size} splits evenly for none of the configurations")
    w = Variant(label="as is", spec=spec, metrics=metrics(spec, setting), base=True)
    rest = tuple(Variant(label=lbl, spec=s, metrics=metrics(s, setting)) for lbl, s in specs)
    total = [v.metrics.params / w.metrics.params for v in rest]
    return WhatIf(kind="moe", model=spec.name, variants=(w, *rest),
                  notes=(f"total parameters grow {min(total):.1f}-{max(total):.1f}x at equal active parameters: "
                         f"every expert must be resident to serve, while each token computes with the active ones",
                         "training FLOPs per token follow active parameters (perf counts active N)"),
                  sources=("jiang2024", "dai2024"))


def ratio(a: float | None, b: float | None) -> float | None:
    """b / a, or None where either is unknown or a is zero."""
    if a is None or b is None or a == 0 or (isinstance(a, float) and math.isnan(a)):
        return None
    return b / a
