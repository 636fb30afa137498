"""Well-formed decoder shapes for a parameter budget, following published practice.

Rules (each from a model family that used it):
* head size 64 below width 2048, 128 from there (GPT-2/3, Llama, Qwen, Mistral);
* query heads = d / d_h; KV heads divide them (GQA with 8 groups by default, as Llama 3; MHA or MQA
  on request); when they do not divide the head count, the largest power of two that divides it and
  is not above the KV heads asked;
* gated FFN width f = ⌈(8/3)·m·d / 256⌉·256 (Shazeer 2020's 2/3 of 4d for SwiGLU; Llama rounds to a
  multiple of 256, Llama 3 also multiplies by 1.3);
* vocabulary padded up to a multiple of 128 (Megatron-LM's make-vocab-size-divisible-by);
* depth L chosen so the exact count meets the budget, keeping d/L near that of successful models
  of similar size (`REFERENCE_SHAPES`).
Every candidate is a real ModelSpec counted by `llmsize.params.count`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Literal

from llmsize.errors import LlmsizeError, check_positive_ints
from llmsize.load import from_knobs
from llmsize.params import count
from llmsize.spec import ModelSpec

AttentionKind = Literal["gqa", "mha", "mqa"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Reference:
    name: str
    hidden: int
    layers: int
    params: int  # nominal (published) size, for matching by size only

    @property
    def aspect(self) -> float:
        return self.hidden / self.layers


# hidden_size and num_hidden_layers from each model's config.json on Hugging Face (GPT-3: Brown et al.
# 2020, Table 2.1); sizes as published. Source: hf-configs
REFERENCE_SHAPES: tuple[Reference, ...] = tuple(Reference(name=n, hidden=d, layers=L, params=p) for n, d, L, p in (
    ("SmolLM2-135M", 576, 30, 135_000_000), ("SmolLM2-360M", 960, 32, 362_000_000),
    ("Qwen2.5-0.5B", 896, 24, 494_000_000), ("Llama-3.2-1B", 2048, 16, 1_236_000_000),
    ("Qwen2.5-1.5B", 1536, 28, 1_544_000_000), ("gpt2-xl", 1600, 48, 1_558_000_000),
    ("SmolLM2-1.7B", 2048, 24, 1_711_000_000), ("gemma-2-2b", 2304, 26, 2_614_000_000),
    ("Llama-3.2-3B", 3072, 28, 3_213_000_000), ("Llama-2-7b", 4096, 32, 6_738_000_000),
    ("Mistral-7B-v0.1", 4096, 32, 7_242_000_000), ("Qwen2.5-7B", 3584, 28, 7_616_000_000),
    ("Llama-3.1-8B", 4096, 32, 8_030_000_000), ("gemma-2-9b", 3584, 42, 9_242_000_000),
    ("Llama-2-13b", 5120, 40, 13_016_000_000), ("Qwen2.5-14B", 5120, 48, 14_770_000_000),
    ("gemma-2-27b", 4608, 46, 27_227_000_000), ("Qwen2.5-32B", 5120, 64, 32_764_000_000),
    ("Llama-2-70b", 8192, 80, 68_977_000_000), ("Llama-3.1-70B", 8192, 80, 70_554_000_000),
    ("Qwen2.5-72B", 8192, 80, 72_706_000_000), ("GPT-3 175B", 12288, 96, 175_000_000_000),
    ("Llama-3.1-405B", 16384, 126, 405_853_000_000),
))


def reference_aspect(params: int) -> tuple[float, tuple[str, ...]]:
    """d/L typical of successful models of about this size: the geometric mean of the references
    within a factor 3 in parameters (else the nearest one), and their names.

    # r(N) = (Π_{N/3 ≤ N_i ≤ 3N} d_i/L_i)^(1/k)

    Source: hf-configs"""
    near = [r for r in REFERENCE_SHAPES if params / 3 <= r.params <= params * 3]
    if not near:
        near = [min(REFERENCE_SHAPES, key=lambda r: abs(math.log(r.params / params)))]
    return math.exp(sum(math.log(r.aspect) for r in near) / len(near)), tuple(r.name for r in near)


@dataclass(frozen=True, slots=True, kw_only=True)
class Constraints:
    """What the user fixed; everything else follows the rules in the module docstring."""

    vocab: int = 128_256  # Llama 3's tokenizer (already a multiple of 128)
    vocab_multiple: int = 128
    attention: AttentionKind = "gqa"
    # for gqa: exactly these KV heads (only widths whose head count they divide are searched); None: 8 where
    # the head count allows, else the largest power of two that divides it and is below 8
    kv_heads: int | None = None
    head_dim: int | None = None  # None: 64 below d = 2048, else 128
    ffn_mult: float = 1.0  # Llama 3: 1.3
    ffn_multiple: int = 256
    gated: bool = True
    tied: bool = False
    hidden: int | None = None
    layers: int | None = None
    min_aspect: float = 16.0
    max_aspect: float = 256.0
    context: int = 8192
    notes: tuple[str, ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:
        check_positive_ints({k: getattr(self, k) for k in ("vocab", "vocab_multiple", "ffn_multiple", "context")},
                            "design")
        check_positive_ints({k: getattr(self, k) for k in ("kv_heads", "head_dim", "hidden", "layers")}, "design",
                            optional=True)
        if self.attention not in ("gqa", "mha", "mqa"):
            raise LlmsizeError(f"design: attention must be gqa, mha or mqa, got {self.attention!r}")
        if not 0.25 <= self.ffn_mult <= 8:
            raise LlmsizeError(f"design: FFN multiplier must be in [0.25, 8], got {self.ffn_mult}")
        if not 0 < self.min_aspect < self.max_aspect:
            raise LlmsizeError(f"design: aspect range [{self.min_aspect}, {self.max_aspect}] is empty")
        if self.hidden is not None and self.head_dim is not None and self.hidden % self.head_dim:
            raise LlmsizeError(f"design: inconsistent constraints: hidden {self.hidden} is not a multiple of "
                               f"head_dim {self.head_dim}")
        if self.hidden is not None and self.head_dim is not None and self.attention == "gqa" \
                and self.kv_heads is not None and (self.hidden // self.head_dim) % self.kv_heads:
            raise LlmsizeError(f"design: inconsistent constraints: {self.kv_heads} KV heads do not divide the "
                               f"{self.hidden // self.head_dim} query heads of hidden {self.hidden} / head_dim "
                               f"{self.head_dim}")

    @property
    def padded_vocab(self) -> int:
        """# V' = ⌈V / m⌉·m  (Source: megatron-vocab)"""
        return -(-self.vocab // self.vocab_multiple) * self.vocab_multiple


@dataclass(frozen=True, slots=True, kw_only=True)
class Candidate:
    """One proposed shape, its exact parameter count and how it was chosen."""

    spec: ModelSpec
    params: int
    target: int
    aspect: float
    reference_aspect: float
    score: float
    recommended: bool = False

    @property
    def error(self) -> float:
        return (self.params - self.target) / self.target


DEFAULT_KV_HEADS = 8  # GQA's KV heads when none are asked for (Llama 3, Mistral 7B)


def head_dim_for(hidden: int, c: Constraints) -> int:
    # ASSUMES: d_h = 64 below d = 2048, 128 from there (GPT-2/Llama-3.2-1B vs Llama/Mistral/Qwen 7B+).
    return c.head_dim or (64 if hidden < 2048 else 128)


def ffn_for(hidden: int, c: Constraints) -> int:
    """Gated: f = ⌈(8/3)·m·d / k⌉·k; plain: f = 4d.  (Source: shazeer2020)"""
    if not c.gated:
        return 4 * hidden
    k = c.ffn_multiple
    # at least one multiple: a tiny width times a small multiplier must not round to an empty FFN
    return max(k, -(-math.floor(8 * hidden / 3 * c.ffn_mult + 1e-9) // k) * k)


def kv_heads_for(heads: int, c: Constraints) -> int:
    if c.attention == "mha":
        return heads
    if c.attention == "mqa":
        return 1
    if c.kv_heads is None:  # the default: 8, else the largest power of two dividing the head count below 8
        g = heads & -heads
        while g > DEFAULT_KV_HEADS:
            g //= 2
        return g
    if heads % c.kv_heads:  # _widths keeps only widths whose head count the KV heads asked for divide
        raise LlmsizeError(f"design: {c.kv_heads} KV heads do not divide the {heads} query heads")
    return c.kv_heads


def build(hidden: int, layers: int, c: Constraints, *, name: str | None = None) -> ModelSpec:
    """The Llama-style spec of this width and depth under the constraints."""
    hd = head_dim_for(hidden, c)
    if hidden % hd:
        raise LlmsizeError(f"design: hidden {hidden} is not a multiple of head_dim {hd}")
    heads = hidden // hd
    kv = kv_heads_for(heads, c)
    try:
        return from_knobs(hidden=hidden, layers=layers, heads=heads, kv_heads=kv, head_dim=hd,
                          ffn=ffn_for(hidden, c), vocab=c.padded_vocab, gated=c.gated, tied=c.tied,
                          max_positions=c.context, name=name or f"d{hidden}-L{layers}")
    except LlmsizeError as e:  # a shape past llmsize's bounds (llmsize.bounds): say which, as design's error
        raise LlmsizeError(f"design: the d{hidden}-L{layers} shape is out of range: {e}") from None


@lru_cache(maxsize=4096)
def _per_layer(hidden: int, c: Constraints) -> tuple[int, int]:
    """(parameters outside the stack, parameters per layer), exact, from 1- and 2-layer specs."""
    one, two = count(build(hidden, 1, c)).total, count(build(hidden, 2, c)).total
    return one - (two - one), two - one


def _widths(c: Constraints) -> list[int]:
    """Widths searched: 256 to 65,536 in steps of 64 (to 1,024), 128 (to 2,048), 256 (to 4,096), then
    512, keeping those the head size divides and (GQA) whose head count the KV heads asked for divide.
    Raises when none is left."""
    if c.hidden is not None:
        return _with_kv_heads([c.hidden], c)
    out, d = [], 256
    while d <= 65_536:
        hd = head_dim_for(d, c)
        if d % hd == 0:
            out.append(d)
        d += 64 if d < 1024 else 128 if d < 2048 else 256 if d < 4096 else 512
    if not out:
        raise LlmsizeError(f"design: head_dim {c.head_dim} divides none of the widths searched (256 to 65,536 in "
                           f"steps of 64, 128, 256, then 512); the head dim must divide such a width (e.g. 64, 80, "
                           f"96, 128, 256), or give --hidden as a multiple of {c.head_dim}")
    return _with_kv_heads(out, c)


def _with_kv_heads(widths: list[int], c: Constraints) -> list[int]:
    """The widths whose query-head count the KV heads asked for divide (GQA), so every candidate has
    exactly those KV heads; a one-line error when there is none."""
    if c.attention != "gqa" or c.kv_heads is None:
        return widths
    out = [d for d in widths if (d // head_dim_for(d, c)) % c.kv_heads == 0]
    if not out:
        where = (f"hidden {c.hidden} has {c.hidden // head_dim_for(c.hidden, c)} query heads" if c.hidden is not None
                 else "no width searched (256 to 65,536) has a query-head count they divide")
        raise LlmsizeError(f"design: {c.kv_heads} KV heads must divide the query heads (width / head_dim), but "
                           f"{where}; ask for KV heads that divide it (e.g. 1, 2, 4 or 8)")
    return out


def smallest_model(c: Constraints) -> int:
    """The parameters of the smallest well-formed model under `c` (one layer, narrowest width)."""
    d = _widths(c)[0]
    outer, per = _per_layer(d, c)
    return outer + per * (c.layers or 1)


def propose(target: int, c: Constraints = Constraints(), *, n: int = 5) -> tuple[Candidate, ...]:
    """Up to `n` candidates meeting `target` parameters, spread over depth-vs-width around the
    reference aspect ratio; the one nearest the reference is marked recommended.

    # L = round((P − P_outer) / P_layer);  score = |ln((d/L) / r(P))| + 4·|P_exact/P − 1| [+ 0.15 fewer KV]

    Source: hf-configs"""
    check_positive_ints({"the parameter budget": target}, "design")
    if n < 1:
        raise LlmsizeError("design: ask for at least one candidate")
    low = smallest_model(c)
    if target < low:
        raise LlmsizeError(
            f"design: impossible budget: {target:,} parameters is below the smallest well-formed model under "
            f"these constraints ({low:,}: one layer of width {c.hidden or _widths(c)[0]} with a "
            f"{c.padded_vocab:,}-token vocabulary{' untied' if not c.tied else ''}); raise the budget or lower "
            f"--vocab / use --tied")
    ref, _ = reference_aspect(target)
    pool: list[Candidate] = []
    for d in _widths(c):
        outer, per = _per_layer(d, c)
        if c.layers is not None:
            layers = c.layers
        else:
            layers = max(1, round((target - outer) / per))
        if outer + per > target * 1.5 and c.hidden is None:
            break  # wider models only get bigger
        p = outer + per * layers
        aspect = d / layers
        if not (c.hidden and c.layers) and not c.min_aspect <= aspect <= c.max_aspect:
            continue
        spec = build(d, layers, c)
        # ASSUMES: without KV heads asked for, a width whose head count forces fewer than 8 is a worse fit (+0.15).
        fewer_kv = c.attention == "gqa" and c.kv_heads is None and spec.attention.num_kv_heads != DEFAULT_KV_HEADS
        score = abs(math.log(aspect / ref)) + 4 * abs(p / target - 1) + (0.15 if fewer_kv else 0.0)
        pool.append(Candidate(spec=spec, params=p, target=target, aspect=aspect,
                              reference_aspect=ref, score=score))
    if c.hidden is not None and c.layers is not None:
        got = pool[0]  # both fixed: exactly one shape
        if abs(got.error) > 0.10:
            raise LlmsizeError(f"design: inconsistent constraints: hidden {c.hidden} and layers {c.layers} fix the "
                               f"size at {got.params:,} parameters, {100 * got.error:+.1f}% off the budget "
                               f"{target:,}; drop one of --hidden/--layers or the budget")
    pool = [p for p in pool if abs(p.error) <= 0.10]
    if not pool:
        fixed = ", ".join(f"{k} {v}" for k, v in (("hidden", c.hidden), ("layers", c.layers)) if v is not None)
        why = (f"{fixed} cannot reach {target:,} parameters within 10% with d/L in "
               f"[{c.min_aspect:g}, {c.max_aspect:g}]" if fixed else
               f"no width gives a depth with d/L in [{c.min_aspect:g}, {c.max_aspect:g}] within 10% of "
               f"{target:,} parameters")
        if c.attention == "gqa" and c.kv_heads is not None and c.kv_heads > 1 and c.hidden is None:
            why += (f" (only widths whose query heads {c.kv_heads} KV heads divide are searched: "
                    f"{', '.join(map(str, _widths(c)[:4]))}, ...)")
        raise LlmsizeError(f"design: no candidate: {why}")
    chosen = _spread(pool, ref, n)
    best = min(chosen, key=lambda x: x.score)
    out = [replace(x, recommended=x is best) for x in chosen]
    return tuple(sorted(out, key=lambda x: x.spec.hidden_size))


def recommended_design(budget: str | int, what: str = "design") -> tuple[str, ModelSpec]:
    """A design:<budget> reference (compare, whatif --student): its label and the recommended shape for
    that many parameters."""
    from llmsize.design.units import parse_quantity, short

    n = parse_quantity(budget, what=what)
    best = next(c for c in propose(n) if c.recommended)
    return f"design {short(n)} ({best.spec.name})", best.spec


def _spread(pool: list[Candidate], ref: float, n: int) -> list[Candidate]:
    """The best candidate, then the best near each target aspect ref·2^(±k/2), so the list shows
    the depth-vs-width choice rather than near-copies."""
    chosen = [min(pool, key=lambda x: x.score)]
    k = 1
    while len(chosen) < n and k <= 8:
        for sign in (-1, 1):
            if len(chosen) >= n:
                break
            goal = ref * 2 ** (sign * k / 2)
            rest = [x for x in pool if all(x.spec.hidden_size != y.spec.hidden_size for y in chosen)]
            if not rest:
                return chosen
            pick = min(rest, key=lambda x: abs(math.log(x.aspect / goal)) + x.score - abs(math.log(x.aspect / ref)))
            if abs(math.log(pick.aspect / goal)) < 0.35:
                chosen.append(pick)
        k += 1
    return chosen
