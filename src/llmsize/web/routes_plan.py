"""/api/v1 planning endpoints: plan, fit, speed, cost, export, gpus. Each builds the job and layout
exactly as `llmsize plan/fit/speed/cost/export` build them from their options, then calls the same
report function, so the JSON is the CLI's `--json`."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query
from fastapi.responses import Response

from llmsize.web import schemas as S
from llmsize.web.resolve import resolve
from llmsize.web.routes import Compact, cached

router = APIRouter(prefix="/api/v1")


def prices(given: dict[str, float] | None) -> dict[str, float]:
    """GPU=USD overrides, named as the catalog names them (as `--price`)."""
    from llmsize.catalog.hardware import parse_gpu
    from llmsize.cost import check_price

    return {parse_gpu(name).name: check_price(usd) for name, usd in (given or {}).items()}


def job(j: S.Job) -> Any:
    """The TrainJob or ServeJob that `--train`/`--serve` and their options make. Only an absent MFU takes
    the default; any given value (0, negative, NaN) goes to TrainJob, which refuses it as the CLI does."""
    from llmsize.catalog.hardware import parse_bytes
    from llmsize.perf import DEFAULT_MFU
    from llmsize.planner.jobs import DEFAULT_HOST_MEMORY, ServeJob, TrainJob

    if j.mode == "train":
        return TrainJob(seq_len=j.seq, micro_batch=j.micro_batch, global_batch=j.global_batch, tokens=j.tokens,
                        precision=j.precision, mfu=DEFAULT_MFU if j.mfu is None else j.mfu, recompute=j.recompute,
                        max_days=j.max_days,
                        host_memory=DEFAULT_HOST_MEMORY if j.host_memory is None else
                        parse_bytes(j.host_memory, "host_memory"),
                        nvme=None if j.nvme is None else parse_bytes(j.nvme, "nvme"))
    return ServeJob(prompt_len=j.prompt, output_len=j.output, concurrency=j.concurrency, weights=j.weights,
                    kv_dtype=j.kv_dtype, gpu_memory_utilization=j.gpu_memory_utilization,
                    min_tokens_per_s=j.target_tps)


def layout(lay: S.LayoutBody) -> Any:
    """The Layout that `--gpus --tp --pp --cp --ep --zero --fsdp --offload-*` make."""
    from llmsize.errors import LlmsizeError
    from llmsize.parallel import Layout

    tp, pp, cp = lay.tp, lay.pp, lay.cp
    n = tp * pp * cp if lay.gpus is None else lay.gpus
    if n % (tp * pp * cp):
        raise LlmsizeError(f"TP {tp} × PP {pp} × CP {cp} = {tp * pp * cp} does not divide {n} GPUs")
    oo, op = lay.offload_optimizer, lay.offload_params
    engine = "fsdp" if lay.fsdp else ("deepspeed" if lay.zero or oo != "none" or op != "none" else
                                      "megatron" if tp * pp > 1 and n > tp * pp else "ddp")
    z = {"full_shard": 3, "hybrid_shard": 3, "shard_grad_op": 2, "no_shard": 0}[lay.fsdp] if lay.fsdp else lay.zero
    return Layout(tp=tp, pp=pp, cp=cp, ep=lay.ep, dp=n // (tp * pp * cp), zero=z, engine=engine, fsdp=lay.fsdp,
                  offload_optimizer=oo, offload_params=op, sequence_parallel=engine == "megatron" and tp > 1)


@router.get("/gpus", summary="The GPU catalog with prices (as `llmsize gpus [SEARCH] --json`)")
async def gpus(q: str | None = Query(None, max_length=80)) -> Compact:
    from llmsize.planner import gpu_list

    return Compact(gpu_list(q))


@router.post("/plan", summary="Ranked feasible setups and why others were rejected (as `llmsize plan --json`)")
async def plan(body: S.PlanBody) -> Response:
    from llmsize.planner import plan_report

    return await cached("plan", body, lambda: plan_report(
        resolve(body.model).spec, job(body.job), gpu_names=body.gpus, max_gpus=body.max_gpus,
        prices=prices(body.job.price), top=body.top))


@router.post("/fit", summary="Inverse questions: fewest GPUs, largest batch, longest context (as `llmsize fit --json`)")
async def fit(body: S.FitBody) -> Response:
    from llmsize.planner.reports import FIND, fit_report

    find = FIND if body.find is None else tuple(body.find)
    return await cached("fit", body, lambda: fit_report(
        resolve(body.model).spec, job(body.job), body.gpu, layout(body.layout), find=find,
        prices=prices(body.job.price)))


@router.post("/speed", summary="Roofline serving speed or training time (as `llmsize speed --json`)")
async def speed(body: S.SpeedBody) -> Response:
    from llmsize.planner.reports import speed_report

    return await cached("speed", body, lambda: speed_report(resolve(body.model).spec, job(body.job), body.gpu,
                                                      layout(body.layout)))


@router.post("/cost", summary="Cost across GPU types and counts (as `llmsize cost --json`)")
async def cost(body: S.CostBody) -> Response:
    from llmsize.planner.reports import cost_report

    counts = (1, 8) if body.counts is None else tuple(body.counts)
    return await cached("cost", body, lambda: cost_report(resolve(body.model).spec, job(body.job), body.gpus, counts,
                                                    prices=prices(body.job.price)))


@router.post("/export", summary="What an engine reads for a setup (as `llmsize export ENGINE MODEL`)")
async def export(body: S.ExportBody) -> Response:
    from llmsize.export import Setup
    from llmsize.export import export as render

    def run() -> dict[str, Any]:
        lay = layout(body.layout)
        kv = body.kv_cache_dtype
        if kv is None:
            kv = "f16" if body.engine == "llamacpp" else "auto"
        split = tuple([1.0] * lay.gpus) if body.engine == "llamacpp" and lay.gpus > 1 else ()
        s = Setup(model=body.model_name, layout=lay, max_model_len=body.max_model_len,
                  gpu_memory_utilization=body.gpu_memory_utilization, kv_cache_dtype=kv,
                  quantization=body.quantization, max_num_seqs=body.max_num_seqs, micro_batch=body.micro_batch,
                  grad_accum=body.grad_accum, gpus_per_node=body.gpus_per_node, script=body.script,
                  tensor_split=split)
        return {"engine": body.engine, "text": render(body.engine, s)}

    return await cached("export", body, run)
