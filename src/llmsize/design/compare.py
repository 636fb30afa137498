"""Side-by-side rows and the differences worth a look, for `compare` and `whatif`."""
from __future__ import annotations

from dataclasses import replace
from typing import Any

from llmsize.design.metrics import Metrics, Setting, metrics
from llmsize.design.scaling import CHINCHILLA_TOKENS_PER_PARAM
from llmsize.errors import LlmsizeError
from llmsize.params import count
from llmsize.sources import SOURCES
from llmsize.spec import ModelSpec

# (field, label, higher_is_better); compared between rows
FIELDS: tuple[tuple[str, str, bool | None], ...] = (
    ("params", "parameters", None), ("active_params", "active parameters", None),
    ("weight_bytes", "weight bytes", False), ("kv_bytes_per_token", "KV cache per token", False),
    ("serve_peak_bytes", "serving memory", False),
    ("train_peak_bytes", "training peak memory, 1 device", False),
    ("flops_per_token", "forward FLOPs per token", False), ("decode_tokens_per_s", "decode tokens/s", True),
    ("train_flops_per_token", "training FLOPs per token", False), ("gpu_hours", "training GPU-hours", False),
    ("train_cost_usd", "training cost", False), ("plan_gpus", "fewest GPUs to train (planner)", False),
)


def differences(rows: list[Metrics], threshold: float = 0.05, labels: list[str] | None = None) -> list[dict[str, Any]]:
    """Fields whose values differ by more than `threshold` across rows, largest spread first,
    each with every row's ratio to the first row and the best row where lower/higher is better."""
    names = labels or [r.name for r in rows]
    out = []
    for f, label, better in FIELDS:
        vals = [getattr(r, f) for r in rows]
        if any(v is None for v in vals) or not vals[0]:
            continue
        if f == "active_params" and all(r.active_params == r.params for r in rows):
            continue  # dense models: the same as parameters
        lo, hi = min(vals), max(vals)
        if lo <= 0 or hi / lo - 1 <= threshold:
            continue
        best = None if better is None else (vals.index(max(vals)) if better else vals.index(min(vals)))
        out.append(dict(field=f, label=label, values=vals, ratio_to_first=[v / vals[0] for v in vals],
                        spread=hi / lo, best=None if best is None else names[best]))
    return sorted(out, key=lambda d: -d["spread"])


def compare_report(models: list[tuple[str, ModelSpec]], setting: Setting = Setting(),
                   tokens: int | None = None) -> dict[str, Any]:
    """Everything `llmsize compare --json` prints: one row per model and the differences."""
    if len(models) < 2:
        raise LlmsizeError("compare needs at least two models")
    if len({lbl for lbl, _ in models}) != len(models):
        raise LlmsizeError("compare: the same model is named twice")
    # every row trains on the same tokens: given, else 20 per parameter of the first model
    d = tokens or setting.train_tokens or CHINCHILLA_TOKENS_PER_PARAM * count(models[0][1]).total
    s = replace(setting, train_tokens=d)
    rows = [replace(metrics(spec, s, plan=True), name=lbl) for lbl, spec in models]
    return {"setting": s.as_dict(), "rows": [r.as_dict() for r in rows], "differences": differences(rows),
            "citations": {k: SOURCES[k] for k in ("narayanan2021", "pope2022", "kwon2023") if k in SOURCES}}


_METHOD_SOURCES = {"quant": ("gptq", "llama-quantize-help"), "prune": ("muralidharan2024", "sreenivas2024", "xia2023"),
                   "sparse24": ("mishra2021", "sun2023", "frantar2023"), "distill": ("sanh2019", "sreenivas2024")}
WHATIFS = ("attention", "vocab", "shape", "moe", "quant", "prune", "sparse24", "distill")


def _moe_configs(text: str) -> tuple[tuple[int, int, int], ...]:
    out = []
    for part in text.split(","):
        p = part.strip().lower()
        try:
            e, rest = p.split("x", 1)
            k, _, s = rest.partition("+")
            out.append((int(e), int(k), int(s or 0)))
        except ValueError:
            raise LlmsizeError(f"--moe: write EXPERTSxTOPK[+SHARED], e.g. 8x2 or 64x6+2; got {part!r}") from None
    return tuple(out)


def whatif_report(spec: ModelSpec, what: str, setting: Setting = Setting(), *, kinds: str | None = None,
                  sizes: str | None = None, moe: str | None = None, fmt: str = "Q4_K_M", drop_layers: int = 0,
                  heads: int | None = None, kv_heads: int | None = None, ffn: int | None = None,
                  hidden: int | None = None, student: ModelSpec | None = None,
                  distill_tokens: int = 94 * 10**9) -> dict[str, Any]:
    """Everything `llmsize whatif WHAT MODEL --json` prints: the variants (or before/after), their
    differences, and published quality where a paper measured one."""
    from llmsize.design import compress, whatif
    from llmsize.design.units import parse_quantity

    # what-ifs change the model, not the data: every variant trains on the base model's tokens
    setting = replace(setting, train_tokens=setting.train_tokens or CHINCHILLA_TOKENS_PER_PARAM * count(spec).total)

    if what == "attention":
        w = whatif.attention(spec, setting, tuple(k.strip().lower() for k in kinds.split(",")) if kinds else None)
    elif what == "vocab":
        w = whatif.vocab(spec, setting, tuple(parse_quantity(v, what="--sizes") for v in sizes.split(","))
                         if sizes else (32_000, 128_256, 262_144))
    elif what == "shape":
        w = whatif.shape(spec, setting)
    elif what == "moe":
        w = whatif.moe(spec, setting, _moe_configs(moe)) if moe else whatif.moe(spec, setting)
    else:
        if what == "quant":
            ch = compress.quantize(spec, fmt, setting)
            from llmsize.quant.quality import quality

            q = quality(ch.details[0][1])
            extra = {"quality": None if q is None else dict(metric=q.metric, value=q.value, reference=q.reference,
                                                            source=q.source)}
        elif what == "prune":
            ch = compress.prune(spec, drop_layers=drop_layers, heads=heads, kv_heads=kv_heads, ffn=ffn,
                                hidden=hidden, setting=setting)
            extra = {}
        elif what == "sparse24":
            ch = compress.sparse24(spec, setting)
            extra = {}
        elif what == "distill":
            if student is None:
                raise LlmsizeError("whatif distill needs --student (a model or design:<params>)")
            ch = compress.distill(spec, student, tokens=distill_tokens, setting=setting)
            extra = {}
        else:
            raise LlmsizeError(f"unknown what-if {what!r} (known: {', '.join(WHATIFS)})")
        rep = ch.as_dict() | extra
        rep["differences"] = differences([ch.before, ch.after], labels=["before", "after"])
        keys = {q.source for q in ch.quality} | set(_METHOD_SOURCES.get(what, ()))
        rep["citations"] = {k: SOURCES[k] for k in sorted(keys) if k in SOURCES}
        return rep
    rep = w.as_dict()
    rep["differences"] = differences([v.metrics for v in w.variants], labels=[v.label for v in w.variants])
    rep["citations"] = {k: SOURCES[k] for k in w.sources if k in SOURCES}
    return rep
