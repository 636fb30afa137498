"""Exact parameter counts, as named terms with formulas and sources.

Every count is a sum over `tensors.tensors(spec)`, so it equals PyTorch's `sum(p.numel())` (tied
weights once) by construction; the formula strings say the same thing in the papers' symbols:
d hidden, L layers, V vocab, n_h / n_kv heads, d_h head size, f FFN width, E experts, k top-k.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from functools import cache

from llmsize.sources import SOURCES
from llmsize.spec import ModelSpec
from llmsize.tensors import Tensor, tensors


@dataclass(frozen=True, slots=True, kw_only=True)
class Term:
    """One named part of a total: a count (params or bytes), its formula and its source key."""

    name: str
    value: int
    formula: str
    source: str

    def __post_init__(self) -> None:
        assert self.source in SOURCES, self.source


@dataclass(frozen=True, slots=True, kw_only=True)
class LayerKind:
    """Layers that share one shape: their indices and the parameters of one of them."""

    kind: str
    layers: tuple[int, ...]
    params: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ParamCount:
    model: str
    total: int  # parameters, as torch counts them
    active: int  # parameters used per token (MoE: top-k and shared experts only)
    buffers: int  # persistent non-parameter weights (DeepSeek-V3 router bias)
    terms: tuple[Term, ...]
    layer_kinds: tuple[LayerKind, ...]
    vision: int = 0

    @property
    def total_with_buffers(self) -> int:
        return self.total + self.buffers


def _group(t: Tensor) -> str:
    r = t.role.split(".")[0]
    if r == "token_embd":
        return "embeddings"
    if r == "pos_embd":
        return "positional"
    if r == "token_types":
        return "token types"
    if r == "token_embd_norm":
        return "embedding norm"
    if r.startswith("head_transform"):
        return "head"
    if r in ("proj_in", "proj_out"):
        return "embedding projections"
    if r == "output_norm":
        return "final norm"
    if r == "output":
        return "head"
    if r == "norm":
        return "layer norms"
    if r.startswith("attn"):
        return "attention"
    if r.startswith("ssm"):
        return "state-space mixer"
    if r in ("ffn_gate_inp", "ffn_exp_probs_b"):
        return "router"
    if r.endswith("_exps"):
        return "experts"
    if r.endswith("shexp"):
        return "shared experts"
    return "mlp"


_ORDER = ("embeddings", "positional", "token types", "embedding norm", "embedding projections", "attention",
          "state-space mixer", "mlp", "router", "experts",
          "shared experts", "layer norms", "final norm", "head")


def _formula(spec: ModelSpec, group: str) -> str:
    a, m, e = spec.attention, spec.mlp, spec.moe
    norm = "2d" if spec.norms.kind == "layernorm" and spec.norms.bias else "d"
    f = {
        "embeddings": "V·d" + ("_e (narrow word embeddings)" if spec.embed_dim else ""),
        "positional": f"(P + {spec.position_offset})·d" if spec.position_offset else "P·d",
        "embedding projections": "2·d·d_e",
        "final norm": norm,
        "head": "+".join((["d·d + d + " + norm + " (MLM transform)"] if spec.traits.mlm_head else []) +
                         ([] if spec.tie_word_embeddings else ["V·d (untied)"]) +
                         (["V (bias)"] if spec.lm_head_bias else [])),
        "token types": "T_types·d",
        "embedding norm": norm,
        "layer norms": f"L·{spec.norms.per_layer}·{norm}",
        "router": "L_moe·E·d" + (" + L_moe·E (router bias)" if e and (e.router_bias or e.router_correction_bias)
                                 else ""),
        "experts": "L_moe·E·{}·d·f_e".format(3 if e and e.expert_kind == "gated" else 2),
        "shared experts": "L_moe·3·d·f_s" + (" + L_moe·d (shared gate)" if e and e.shared_expert_gate else ""),
        "mlp": "L_dense·{}·d·f".format(m.matrices) + (" + biases" if m.bias else ""),
        "state-space mixer": _ssm_formula(spec),
    }
    if group == "attention":
        if a.mla:
            q = "d·r_q + r_q·n_h·d_h + r_q" if a.q_lora_rank else "d·n_h·d_h"  # low-rank q (+ its norm) or q_proj
            return f"L·[{q} + d·(r_kv + d_rope) + r_kv·n_h·(d_nope + d_v) + n_h·d_v·d + r_kv]"
        s = "L·[d·({}n_h + 2·n_kv)·d_h + n_h·d_h·d".format("2·" if a.output_gate else "")
        if a.qkv_bias:
            s += " + (n_h + 2·n_kv)·d_h"
        if a.o_bias:
            s += " + d"
        if a.qk_norm != "none":
            s += " + q/k norms"
        if a.sinks:
            s += " + n_h sinks"
        return s + "]"
    return f[group]


def _ssm_formula(spec: ModelSpec) -> str:
    m = spec.ssm
    if m is None:
        return ""
    if m.kind == "mamba2":
        return ("L_ssm·[d·(2·d_in + 2·G·N + H) + (d_in + 2·G·N)·K + 3·H" + (" + d_in" if m.gated_norm else "")
                + " + d_in·d + biases]")
    if m.kind == "gated_delta":
        return "L_ssm·[d·(2·G·N + 2·d_in) + d·2H + (2·G·N + d_in)·K + 2·H + d_in/H + d_in·d]"
    if m.kind == "mamba":
        return "L_ssm·[d·2·d_in + d_in·K + d_in·(R + 2N) + R·d_in + d_in + d_in·N + d_in + d_in·d + norms + biases]"
    return "L_conv·[d·3d + d·K + d·d + biases]"


@cache
def count(spec: ModelSpec) -> ParamCount:
    """Exact parameter count of `spec`, total and active, as named terms.

    P = V·d [+ P·d] + Σ_layers (attention + MLP or MoE + norms) + final norm [+ V·d untied head]

    Source: hf-llama"""
    by_group: dict[str, int] = defaultdict(int)
    per_layer: dict[int, int] = defaultdict(int)
    buffers = inactive = 0
    e = spec.moe
    for t in tensors(spec):
        if t.buffer:
            buffers += t.numel
            continue
        by_group[_group(t)] += t.numel
        if t.layer is not None:
            per_layer[t.layer] += t.numel
        if t.experts > 1 and e is not None:
            inactive += t.numel // t.experts * (t.experts - e.top_k)
    src = spec.traits.source
    terms = [Term(name=g, value=by_group[g], formula=_formula(spec, g), source=src) for g in _ORDER if g in by_group]
    vis = vision_params(spec)
    if vis:
        terms.append(Term(name="vision tower + projector", value=vis,
                          formula="patch conv + positions + L_v·(4·d_v² + 2·d_v·f_v + biases + 2 norms) + projector",
                          source="hf-siglip"))
    kinds: dict[tuple[str, int], list[int]] = defaultdict(list)
    for i in range(spec.num_layers + spec.decoder_layers):
        if i >= spec.num_layers:  # encoder-decoder: the decoder stack (self + cross attention)
            kinds[("decoder", per_layer[i])].append(i)
            continue
        kind = ("moe" if spec.is_moe_layer(i) else "dense") + ("/sliding" if spec.layer_type(i) == "sliding" else "")
        if spec.mixers:
            kind = f"{spec.mixers[i]}/{kind}"
        kinds[(kind, per_layer[i])].append(i)
    layer_kinds = tuple(LayerKind(kind=k, layers=tuple(ix), params=p) for (k, p), ix in kinds.items())
    total = sum(by_group.values()) + vis
    return ParamCount(model=spec.name, total=total, active=total - inactive - vis, buffers=buffers,
                      terms=tuple(terms), layer_kinds=layer_kinds, vision=vis)


def vision_params(spec: ModelSpec) -> int:
    """SigLIP-style vision tower plus projector.

    P_v = (3·p²·d_v + d_v) + (S/p)²·d_v + L_v·(4·(d_v² + d_v) + 2·(d_v·f_v) + f_v + d_v + 4·d_v) + 2·d_v + P_proj

    Source: hf-siglip"""
    v = spec.vision
    if v is None:
        return 0
    d, f = v.hidden_size, v.intermediate_size
    patch = v.num_channels * v.patch_size ** 2 * d + d
    pos = (v.image_size // v.patch_size) ** 2 * d
    layer = 4 * (d * d + d) + (d * f + f) + (f * d + d) + 4 * d
    # pooling head: probe d + MultiheadAttention (3d² + 3d + d² + d) + LayerNorm 2d + MLP (2·d·f + f + d)
    head = d + 4 * d * d + 4 * d + 2 * d + 2 * d * f + f + d if v.pooling_head else 0
    return patch + pos + v.num_layers * layer + 2 * d + head + v.projector_params


@dataclass(frozen=True, slots=True, kw_only=True)
class Approximation:
    name: str
    value: int
    formula: str
    source: str
    error: float  # (approx - exact) / exact


def approximations(spec: ModelSpec, exact: int | None = None) -> tuple[Approximation, ...]:
    """The rules of thumb users meet elsewhere, beside the exact count, with their relative error.

    P ≈ 12·L·d² + V·d   (Kaplan et al. 2020, Table 1, plus embeddings)
    P ≈ V·d + L·(4d² + 2·d·4d + d + 4d + 2·2d)   (the textbook per-component sum)

    Source: kaplan2020"""
    d, L, V = spec.hidden_size, spec.num_layers, spec.vocab_size
    exact = count(spec).total if exact is None else exact
    rules = (
        ("12·L·d² + V·d", 12 * L * d * d + V * d, "kaplan2020"),
        ("textbook sum", textbook_params(d=d, layers=L, vocab=V), "textbook"),
    )
    return tuple(Approximation(name=n, value=v, formula=n if n != "textbook sum" else
                               "V·d + L·(4d² + 2·d·4d + d + 4d + 4d)", source=s,
                               error=(v - exact) / exact) for n, v, s in rules)


def textbook_params(*, d: int, layers: int, vocab: int) -> int:
    """The original calculator's per-component sum (GPT-2-like, FFN 4d, no positions, no final norm).

    P = V·d + L·(4d² + [2·d·4d + d + 4d] + 2·2d)

    Source: textbook"""
    attention = 4 * d * d
    ffn = 2 * d * 4 * d + d + 4 * d
    norms = 2 * (2 * d)
    return vocab * d + layers * (attention + ffn + norms)
