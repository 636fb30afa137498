"""Closed forms of the memory terms: the replay run once more on symbols (llmsize.memory.symbolic), so
each term's bytes come out as a polynomial in the model's and workload's dimensions, e.g. saved
activations = b·s·(96·d + 36·f + 4·n_h·d_h) + ..., with the numbers substituted beside it. The
polynomial is what the replay computed, term by term, so it evaluates to the term's bytes exactly.

Symbols: b batch, s sequence (prompt), n new tokens, d hidden, f FFN width, V vocabulary, n_h / n_kv
query / key-value heads, d_h head size, E experts, k experts per token, f_e expert width, r_q / r_kv /
d_rope MLA ranks. Layer counts, dtype sizes and anything else appear as numbers.

Source: korthikanti2022
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from llmsize.memory.symbolic import polynomial, render, sym
from llmsize.memory.terms import MemoryEstimate
from llmsize.memory.workload import Workload
from llmsize.spec import ModelSpec


@dataclass(frozen=True, slots=True)
class ClosedForm:
    """One term's closed form: symbols, the same with numbers substituted, and the symbols' values."""

    symbolic: str
    numbers: str
    values: tuple[tuple[str, int], ...]
    per_layer: tuple[tuple[str, str, str, int], ...] = ()  # saved activations: (layer kind, symbols, numbers, bytes)


def _symbolic(spec: ModelSpec, wl: Workload) -> tuple[ModelSpec, Workload, dict[str, int]]:
    vals: dict[str, int] = {}

    def s(v: Any, name: str) -> Any:
        out = sym(v, name)
        if out is not v:
            vals[name] = int(v)
        return out

    a = spec.attention
    att = replace(a, num_heads=s(a.num_heads, "n_h"), num_kv_heads=s(a.num_kv_heads, "n_kv"),
                  head_dim=s(a.head_dim, "d_h"), q_lora_rank=s(a.q_lora_rank, "r_q"),
                  kv_lora_rank=s(a.kv_lora_rank, "r_kv"), qk_rope_head_dim=s(a.qk_rope_head_dim, "d_rope"))
    mlp = replace(spec.mlp, intermediate_size=s(spec.mlp.intermediate_size, "f"))
    moe = spec.moe
    if moe is not None:
        moe = replace(moe, num_experts=s(moe.num_experts, "E"), top_k=s(moe.top_k, "k"),
                      expert_intermediate_size=s(moe.expert_intermediate_size, "f_e"))
    ssm = spec.ssm
    if ssm is not None and ssm.kind == "gated_delta":  # H value heads of P, G key heads of N (d_in = H·P)
        H, P = s(ssm.num_heads, "H"), s(ssm.inner // ssm.num_heads, "P")
        ssm = replace(ssm, inner=H * P, num_heads=H, n_groups=s(ssm.n_groups, "G"), state_size=s(ssm.state_size, "N"))
        vals["s_p"] = -(-wl.seq_len // 64) * 64
    elif ssm is not None and ssm.kind != "shortconv":  # a Mamba mixer's widths; s_p: the scan's padded length
        ssm = replace(ssm, inner=s(ssm.inner, "d_in"), state_size=s(ssm.state_size, "N"))
        if ssm.kind == "mamba2":
            vals["s_p"] = -(-wl.seq_len // ssm.chunk_size) * ssm.chunk_size
    sp = replace(spec, hidden_size=s(spec.hidden_size, "d"), vocab_size=s(spec.vocab_size, "V"), attention=att,
                 mlp=mlp, moe=moe, ssm=ssm)
    w = replace(wl, batch=s(wl.batch, "b"), seq_len=s(wl.seq_len, "s"), new_tokens=s(wl.new_tokens, "n"))
    return sp, w, vals


def closed_forms(spec: ModelSpec, wl: Workload, est: MemoryEstimate, **estimate_kw: Any) -> list[ClosedForm | None]:
    """The closed form of each of `est`'s terms (None where the symbolic replay does not reproduce the
    term exactly, which the tests rule out for the calibrated families).

    Source: korthikanti2022"""
    from llmsize.memory.estimate import estimate

    try:
        sp, w, vals = _symbolic(spec, wl)  # hashed apart from `spec`: the replay's caches keep both (Sym.__hash__)
        sest = estimate(sp, w, **estimate_kw)
        layers = _per_layer(sp, w, vals)
    except Exception:  # noqa: BLE001  a closed form is an addition: a replay it cannot follow keeps the numbers
        return [None] * len(est.terms)
    if [t.name for t in sest.terms] != [t.name for t in est.terms]:
        return [None] * len(est.terms)
    out: list[ClosedForm | None] = []
    for t, st in zip(est.terms, sest.terms):
        p = polynomial(st.bytes)
        if int(st.bytes) != t.bytes or not p:
            out.append(None)
            continue
        used = sorted({x for m in p for x in m})
        out.append(ClosedForm(symbolic=render(p), numbers=render(p, vals), values=tuple((x, vals[x]) for x in used),
                              per_layer=layers if t.name == "saved activations" else ()))
    return out


def _per_layer(spec: ModelSpec, wl: Workload, vals: dict[str, int]) -> tuple[tuple[str, str, str, int], ...]:
    """Saved activations of one layer of each kind (training without checkpointing), as Korthikanti et al.
    write them per layer."""
    from llmsize.memory.estimate import context
    from llmsize.memory.regions import kinds, layer_regions

    if wl.mode != "train" or wl.grad_checkpointing:
        return ()
    cx = context(spec, wl)
    regs = layer_regions(cx, wl.lora is None, True)
    seen: dict[str, tuple[str, str, str, int]] = {}
    for i, (lcx, moe) in enumerate(kinds(spec, cx)):
        key = ("MoE " if moe else "") + ("sliding " if lcx.sliding else "") + "layer"
        p = polynomial(regs[i].saved)
        if key not in seen and p:
            seen[key] = (key, render(p), render(p, vals), int(regs[i].saved))
    return tuple(seen.values())


def with_closed_forms(spec: ModelSpec, wl: Workload, est: MemoryEstimate, **estimate_kw: Any) -> MemoryEstimate:
    """`est` with each term's `closed_form` filled in."""
    forms = closed_forms(spec, wl, est, **estimate_kw)
    terms = tuple(t if f is None else replace(t, closed_form=f) for t, f in zip(est.terms, forms))
    return replace(est, terms=terms)


__all__ = ["ClosedForm", "closed_forms", "with_closed_forms"]
