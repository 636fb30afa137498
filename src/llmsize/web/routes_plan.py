"""/api/v1 planning endpoints: plan, fit, speed, cost, export, gpus. Each builds the job and layout
with the planner's make_job / make_layout, as `llmsize plan/fit/speed/cost/export` do from their
options, then calls the same report function, so the JSON is the CLI's `--json`."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query
from fastapi.responses import Response

from llmsize.errors import LlmsizeError
from llmsize.web import schemas as S
from llmsize.web.resolve import resolve
from llmsize.web.routes import Compact, cached

router = APIRouter(prefix="/api/v1")


def prices(given: dict[str, float] | None) -> dict[str, float]:
    """GPU=USD overrides, named as the catalog names them (as `--price`)."""
    from llmsize.catalog.hardware import parse_gpu
    from llmsize.cost import check_price

    return {parse_gpu(name).name: check_price(usd) for name, usd in (given or {}).items()}


def job(j: S.Job, loaded: Any = None) -> Any:
    """The TrainJob or ServeJob that `--train`/`--serve` and their options make (llmsize.planner.jobs.make_job);
    serving weights default to the checkpoint's own format."""
    from llmsize.planner.jobs import make_job
    from llmsize.quant.native import choose_weights

    d = j.model_dump(exclude={"price"})
    if d["weights"] is None:
        d["weights"] = choose_weights(loaded, None).key if loaded is not None and d["mode"] != "train" else "bf16"
    elif d["mode"] == "train":
        raise LlmsizeError("weights applies to serving; training sets the weights' dtype with precision")
    return make_job(**d)


def layout(lay: S.LayoutBody) -> Any:
    """The Layout that `--gpus --tp --pp --cp --ep --zero --fsdp --offload-*` make (llmsize.planner.jobs.make_layout)."""
    from llmsize.planner.jobs import make_layout

    return make_layout(**lay.model_dump())


@router.get("/gpus", summary="The GPU catalog with prices (as `llmsize gpus [SEARCH] --json`)")
async def gpus(q: str | None = Query(None, max_length=80)) -> Compact:
    from llmsize.planner import gpu_list

    return Compact(gpu_list(q))


@router.post("/plan", summary="Ranked feasible setups and why others were rejected (as `llmsize plan --json`)")
async def plan(body: S.PlanBody) -> Response:
    from llmsize.planner import plan_report

    def run() -> Any:
        m = resolve(body.model)
        return plan_report(m.spec, job(body.job, m), gpu_names=body.gpus, max_gpus=body.max_gpus,
                           prices=prices(body.job.price), top=body.top)

    return await cached("plan", body, run)


@router.post("/fit", summary="Inverse questions: fewest GPUs, largest batch, longest context (as `llmsize fit --json`)")
async def fit(body: S.FitBody) -> Response:
    from llmsize.planner.reports import FIND, fit_report

    find = FIND if body.find is None else tuple(body.find)
    def run() -> Any:
        m = resolve(body.model)
        return fit_report(m.spec, job(body.job, m), body.gpu, layout(body.layout), find=find,
                          prices=prices(body.job.price))

    return await cached("fit", body, run)


@router.post("/speed", summary="Roofline serving speed or training time (as `llmsize speed --json`)")
async def speed(body: S.SpeedBody) -> Response:
    from llmsize.planner.reports import speed_report

    def run() -> Any:
        m = resolve(body.model)
        return speed_report(m.spec, job(body.job, m), body.gpu, layout(body.layout))

    return await cached("speed", body, run)


@router.post("/cost", summary="Cost across GPU types and counts (as `llmsize cost --json`)")
async def cost(body: S.CostBody) -> Response:
    from llmsize.planner.reports import cost_report

    counts = (1, 8) if body.counts is None else tuple(body.counts)
    def run() -> Any:
        m = resolve(body.model)
        return cost_report(m.spec, job(body.job, m), body.gpus, counts, prices=prices(body.job.price))

    return await cached("cost", body, run)


@router.post("/export", summary="What an engine reads for a setup (as `llmsize export ENGINE MODEL`)")
async def export(body: S.ExportBody) -> Response:
    from llmsize.export.command import run_export

    def run() -> dict[str, Any]:
        opts = body.model_dump(exclude={"engine", "model_name", "layout", "gpu"})
        given = {k: getattr(body.layout, k) for k in body.layout.model_fields_set if k != "gpus"}
        out = run_export(body.engine, body.model_name, gpu_name=body.gpu, gpus=body.layout.gpus, **given, **opts)
        return {"engine": out.engine, "text": out.text, "notes": list(out.notes), "layout": out.layout,
                "memory_per_gpu_bytes": out.memory_per_gpu}

    return await cached("export", body, run)
