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
    from llmsize.cost import gpu_prices

    return gpu_prices((given or {}).items())


def job(j: S.Job, loaded: Any = None) -> Any:
    """The TrainJob or ServeJob that `--train`/`--serve` and their options make (llmsize.planner.jobs.make_job);
    serving weights default to the checkpoint's own format."""
    from llmsize.context import check_context, default_tokens, positions_what
    from llmsize.planner.jobs import make_job
    from llmsize.quant.native import choose_weights

    d = j.model_dump(exclude={"price", "allow_long_context"})
    train = d["mode"] == "train"
    # a field of the other mode that was sent is refused, not dropped (those with no default make_job refuses)
    other = sorted(j.model_fields_set & ({"new_tokens", "kv_cache_dtype"} if train else
                                         {"global_batch", "tokens", "precision", "grad_checkpointing"}))
    if other:
        raise LlmsizeError(f"{', '.join(other)} appl{'ies' if len(other) == 1 else 'y'} to "
                           + ("serving, not training" if train else "training (mode train), not serving"))
    seq_len, batch, new = d.pop("seq_len"), d.pop("batch"), d.pop("new_tokens")
    if seq_len is None:  # as the CLI: 4096 / 1024, fewer where the model's context is shorter
        usual, after = (4096, 0) if train else (1024, new - 1)
        seq_len = usual if loaded is None else default_tokens(loaded, usual, after)[0]
    if loaded is not None:
        check_context(loaded, seq_len if train else seq_len + new - 1, allow_long=j.allow_long_context,
                      what=positions_what(loaded.spec, "seq_len", seq_len, 0 if train else new, "new_tokens"),
                      flag="allow_long_context")
    d.update(seq=seq_len if train else 4096, prompt=1024 if train else seq_len, micro_batch=batch, concurrency=batch,
             output=new, kv_dtype=d.pop("kv_cache_dtype"), recompute=d.pop("grad_checkpointing"))
    if d["weights"] is None:
        d["weights"] = choose_weights(loaded, None).key if loaded is not None and d["mode"] != "train" else "bf16"
    elif d["mode"] == "train":
        raise LlmsizeError("weights applies to serving; training sets the weights' dtype with precision")
    return make_job(**d)


def layout(lay: S.LayoutBody, j: Any = None) -> Any:
    """The Layout that `--gpus --tp --pp --cp --ep --zero --fsdp --offload-*` make (llmsize.planner.jobs.make_layout);
    a training layout's fields sent with a serving job `j` are refused, as the CLI refuses those flags."""
    from llmsize.planner.jobs import ServeJob, make_layout

    if isinstance(j, ServeJob):
        other = sorted(lay.model_fields_set & {"cp", "zero", "fsdp", "offload_optimizer", "offload_params"})
        if other:
            raise LlmsizeError(f"layout.{', layout.'.join(other)} appl{'ies' if len(other) == 1 else 'y'} to a "
                               "training layout (mode train), not serving: a served model is laid out with tp, pp "
                               "and replicas (gpus)")
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
        return plan_report(m.spec, job(body.job, m), gpu_names=body.gpu, max_gpus=body.max_gpus,
                           prices=prices(body.job.price), top=body.top)

    return await cached("plan", body, run)


@router.post("/fit", summary="Inverse questions: fewest GPUs, largest batch, longest context (as `llmsize fit --json`)")
async def fit(body: S.FitBody) -> Response:
    from llmsize.planner.reports import fit_report

    find = None if body.find is None else tuple(body.find)

    def run() -> Any:
        from llmsize.context import trained_tokens

        m = resolve(body.model)
        j = job(body.job, m)
        return fit_report(m.spec, j, body.gpu, layout(body.layout, j), find=find,
                          prices=prices(body.job.price), trained=trained_tokens(m))

    return await cached("fit", body, run)


@router.post("/speed", summary="Roofline serving speed or training time (as `llmsize speed --json`)")
async def speed(body: S.SpeedBody) -> Response:
    from llmsize.planner.reports import speed_report

    if body.job.price:
        raise LlmsizeError("price applies to plan, fit and cost: speed gives no cost")

    def run() -> Any:
        m = resolve(body.model)
        j = job(body.job, m)
        return speed_report(m.spec, j, body.gpu, layout(body.layout, j))

    return await cached("speed", body, run)


@router.post("/cost", summary="Cost across GPU types and counts (as `llmsize cost --json`)")
async def cost(body: S.CostBody) -> Response:
    from llmsize.planner.reports import cost_report

    counts = (1, 8) if body.counts is None else tuple(body.counts)
    def run() -> Any:
        m = resolve(body.model)
        return cost_report(m.spec, job(body.job, m), body.gpu, counts, prices=prices(body.job.price))

    return await cached("cost", body, run)


@router.post("/export", summary="What an engine reads for a setup (as `llmsize export ENGINE MODEL`)")
async def export(body: S.ExportBody) -> Response:
    from llmsize.export.command import canonical_fields, run_export

    def run() -> dict[str, Any]:
        engine = "llamacpp" if body.engine == "llama.cpp" else body.engine
        opts = body.model_dump(exclude={"engine", "model_name", "layout", "gpu", "seq_len", "batch", "new_tokens",
                                        "grad_checkpointing", "allow_long_context"})
        # the canonical fields fill the training or serving option the engine plans with (as the CLI's)
        opts.update(canonical_fields(engine, body.seq_len, body.batch, gpu=body.gpu,
                                     kv_cache_dtype=body.kv_cache_dtype),
                    output=body.new_tokens, recompute=body.grad_checkpointing, allow_long=body.allow_long_context)
        given = {k: getattr(body.layout, k) for k in body.layout.model_fields_set if k != "gpus"}
        out = run_export(engine, body.model_name, gpu_name=body.gpu, gpus=body.layout.gpus, **given, **opts)
        return {"engine": body.engine, "text": out.text, "notes": list(out.notes), "layout": out.layout,
                "memory_per_gpu_bytes": out.memory_per_gpu}

    return await cached("export", body, run)
