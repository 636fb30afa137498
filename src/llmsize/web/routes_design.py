"""/api/v1 design endpoints: design, scaling, compare, whatif — the JSON of `llmsize design/scaling/
compare/whatif --json`, built from the same options with the same library functions."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from llmsize.web import schemas_design as D
from llmsize.web.resolve import resolve
from llmsize.web.routes import cached

router = APIRouter(prefix="/api/v1")


def _q(v: str | int | None, what: str) -> int | None:
    from llmsize.design.units import parse_quantity

    return None if v is None else parse_quantity(v, what=what)


def _setting(s: D.Setting) -> Any:
    from llmsize.design.metrics import Setting

    return Setting(gpu=s.gpu, dtype=s.weights, context=s.seq_len, batch=s.batch, train_gpus=s.train_gpus, mfu=s.mfu,
                   price=s.price)


def _item(it: D.CompareItem) -> tuple[str, Any]:
    """(label, spec) as the CLI's `_spec_of`: a model by its name, or design:<budget>'s recommended shape."""
    if it.design is not None:
        from llmsize.design.shapes import recommended_design

        return recommended_design(it.design, what=f"compare 'design:{it.design}'")
    assert it.model is not None
    loaded = resolve(it.model)
    return (it.model.preset or loaded.spec.name), loaded.spec


@router.post("/design", summary="Shapes for a budget with exact parameters, memory, speed, cost (`llmsize design`)")
async def design(body: D.DesignBody) -> Response:
    from llmsize.design.report import design_report
    from llmsize.design.shapes import Constraints

    def run() -> dict[str, Any]:
        b = body
        cons = Constraints(vocab=b.vocab, attention=b.attention, kv_heads=b.kv_heads, head_dim=b.head_dim,
                           ffn_mult=b.ffn_mult, ffn_multiple=b.ffn_multiple, gated=not b.plain, tied=b.tied,
                           hidden=b.hidden, layers=b.layers, min_aspect=b.min_aspect, max_aspect=b.max_aspect,
                           context=b.setting.seq_len)
        return design_report(constraints=cons, setting=_setting(b.setting), n=b.candidates,
                             params=_q(b.params, "--params"), compute=_q(b.compute, "--compute"),
                             gpu_hours=_q(b.gpu_hours, "--gpu-hours"), tokens=_q(b.tokens, "--tokens"), law=b.law)

    return await cached("design", body, run)


@router.post("/scaling", summary="Scaling laws: compute-optimal size, loss, over-training (`llmsize scaling`)")
async def scaling(body: D.ScalingBody) -> Response:
    from llmsize.design.report import scaling_report

    return await cached("scaling", body, lambda: scaling_report(
        compute=_q(body.compute, "--compute"), params=_q(body.params, "--params"), tokens=_q(body.tokens, "--tokens"),
        inference_tokens=_q(body.inference_tokens, "--inference-tokens"), fit=body.fit))


@router.post("/compare", summary="Models side by side and what differs (`llmsize compare`)")
async def compare(body: D.CompareBody) -> Response:
    from llmsize.design.compare import compare_report

    return await cached("compare", body, lambda: compare_report([_item(m) for m in body.models], _setting(body.setting),
                                                          tokens=_q(body.tokens, "--tokens")))


@router.post("/whatif", summary="What if the model changed: attention, vocab, shape, MoE, quant, prune... (`llmsize whatif`)")
async def whatif(body: D.WhatIfBody) -> Response:
    from llmsize.design.compare import whatif_report

    def run() -> dict[str, Any]:
        b = body
        student = _item(b.student)[1] if b.student is not None else None
        return whatif_report(resolve(b.model).spec, b.what, _setting(b.setting), kinds=b.kinds, sizes=b.sizes,
                             moe=b.moe, fmt=b.format, drop_layers=b.drop_layers, heads=b.prune_heads,
                             kv_heads=b.prune_kv_heads, ffn=b.prune_ffn, hidden=b.prune_hidden, student=student,
                             distill_tokens=_q(b.distill_tokens, "--distill-tokens"))

    return await cached("whatif", body, run)
