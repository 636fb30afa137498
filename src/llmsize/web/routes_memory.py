"""/api/v1 memory endpoints: `llmsize infer --json` and `llmsize train --json`, and a sweep of the
peak over context lengths and batch sizes for the page's chart.

The workloads and the JSON come from `llmsize.memory.report`, the functions the CLI calls, so nothing
is re-derived here; a test compares it with the CLI field for field.
"""
from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter
from fastapi.responses import Response
from pydantic import Field

from llmsize.errors import LlmsizeError
from llmsize.web import schemas as S
from llmsize.web.resolve import resolve
from llmsize.web.routes import Compact, cached

router = APIRouter(prefix="/api/v1")
Dtype = Literal["bf16", "fp16", "fp32", "bfloat16", "float16", "float32"]
Attn = Literal["sdpa", "eager", "flash"]


class InferBody(S._Body):
    """`llmsize infer` options."""

    model: S.ModelRef
    batch: int = Field(1, ge=1, le=S.MAX_BATCH)
    context: int = Field(1024, ge=1, le=S.MAX_CONTEXT, description="Prompt tokens per sequence.")
    new_tokens: int | None = Field(None, ge=0, le=S.MAX_CONTEXT,
                                   description="Tokens generated per sequence (default, when absent: 256); "
                                               "not with forward.")
    forward: bool = Field(False, description="One forward pass with full logits, no KV cache.")
    dtype: Dtype | None = Field(None, description="Float weights dtype (the same as weights bf16/fp16/fp32).")
    weights: str | None = Field(None, min_length=1, max_length=40,
                                description="Weight format: bf16/fp16/fp32 or any format of /quant (fp8, mxfp4, "
                                            "gptq-int4-g128, Q4_K_M, ...); default, when absent: the checkpoint's "
                                            "own (quantization_config, else its dtype).")
    kv_dtype: Literal["bf16", "fp16", "fp32", "fp8", "int8"] | None = None
    attn: Attn = "sdpa"
    runtime: Literal["torch", "vllm", "llamacpp"] = "torch"
    gpu: str | None = Field(None, min_length=1, max_length=80)


class TrainBody(S._Body):
    """`llmsize train` options."""

    model: S.ModelRef
    batch: int = Field(1, ge=1, le=S.MAX_BATCH)
    seq_len: int = Field(1024, ge=1, le=S.MAX_CONTEXT)
    dtype: Dtype | None = None
    amp: Literal["bf16", "fp16"] | None = None
    optimizer: str = Field("adamw", min_length=1, max_length=40)
    grad_checkpointing: bool = False
    grad_accum: int = Field(1, ge=1, le=1 << 16)
    lora_r: int | None = Field(None, ge=1, le=1 << 16)
    lora_alpha: int | None = Field(None, ge=1, le=1 << 20)
    lora_targets: str | None = Field(None, min_length=1, max_length=400,
                                     description="With lora_r (default, when absent: q_proj,v_proj).")
    attn: Attn = "sdpa"
    gpu: str | None = Field(None, min_length=1, max_length=80)


Small = Annotated[int, Field(ge=1, le=S.MAX_CONTEXT)]


class InferSweep(InferBody):
    contexts: list[Small] = Field(min_length=1, max_length=16)
    batches: list[Annotated[int, Field(ge=1, le=S.MAX_BATCH)]] = Field(min_length=1, max_length=6)
    kv_cache: str | None = Field(None, min_length=1, max_length=40,
                                 description="quant's KV dtype (q8_0, ...) with weights (default bf16).")


class TrainSweep(TrainBody):
    contexts: list[Small] = Field(min_length=1, max_length=16)
    batches: list[Annotated[int, Field(ge=1, le=S.MAX_BATCH)]] = Field(min_length=1, max_length=6)


def _weights(b: InferBody, loaded: Any) -> Any:
    """The weight format of an /infer body: `weights`, else `dtype`, else the checkpoint's own."""
    from llmsize.quant.native import choose_weights

    if b.weights is not None and b.dtype is not None:
        raise LlmsizeError("give weights or dtype, not both (dtype is weights limited to bf16/fp16/fp32)")
    return choose_weights(loaded, b.weights if b.weights is not None else b.dtype)


def _infer_workload(b: InferBody, loaded: Any, seq: int | None = None, batch: int | None = None) -> Any:
    from llmsize.memory.report import infer_workload

    w = _weights(b, loaded)
    dtype = None if w.quantized else w.key
    return infer_workload(loaded.spec, batch=b.batch if batch is None else batch,
                          seq_len=b.context if seq is None else seq, new_tokens=b.new_tokens, forward=b.forward,
                          dtype=dtype, kv_dtype=b.kv_dtype, attn=b.attn, runtime=b.runtime)


def _train_workload(b: TrainBody, seq: int | None = None, batch: int | None = None) -> Any:
    from llmsize.memory.report import train_workload

    return train_workload(batch=b.batch if batch is None else batch, seq_len=b.seq_len if seq is None else seq,
                          dtype=b.dtype, amp=b.amp, optimizer=b.optimizer, grad_checkpointing=b.grad_checkpointing,
                          grad_accum=b.grad_accum, lora_r=b.lora_r, lora_alpha=b.lora_alpha,
                          lora_targets=b.lora_targets, attn=b.attn)


def memory_json(loaded: Any, wl: Any, gpu_name: str | None, runtime: str, weights: Any = None) -> dict[str, Any]:
    """What `llmsize infer/train --json` prints."""
    from llmsize.memory.report import memory_result, result_dict

    gguf = loaded.checkpoint.path if loaded.origin == "gguf" and loaded.checkpoint is not None else None
    return result_dict(loaded.spec, memory_result(loaded.spec, wl, gpu_name, runtime, weights,
                                                  gguf_path=gguf if runtime == "llamacpp" else None,
                                                  closed_forms=True))


@router.post("/infer", summary="Peak inference memory as terms; with a GPU, whether it fits (`llmsize infer --json`)")
async def infer(body: InferBody) -> Response:
    def run() -> dict[str, Any]:
        loaded = resolve(body.model)
        return memory_json(loaded, _infer_workload(body, loaded), body.gpu, body.runtime, _weights(body, loaded))

    return await cached("infer", body, run)


@router.post("/train", summary="Peak training-step memory as terms (`llmsize train --json`)")
async def train(body: TrainBody) -> Response:
    return await cached("train", body, lambda: memory_json(resolve(body.model), _train_workload(body), body.gpu, "torch"))


def _usable(gpu: str | None) -> int | None:
    from llmsize.catalog.hardware import parse_gpu

    return None if gpu is None else parse_gpu(gpu).usable


@router.post("/infer/sweep", summary="Peak inference memory for each context length x batch (the page's chart)")
async def infer_sweep(body: InferSweep) -> Response:
    from llmsize.memory import estimate

    def run() -> dict[str, Any]:
        loaded = resolve(body.model)
        spec = loaded.spec
        w = _weights(body, loaded)
        if not w.quantized and body.kv_cache is not None:
            raise LlmsizeError("kv_cache applies with weights (a quantized format); without them, give kv_dtype")
        if w.quantized:  # a quantized format: the quant planner's memory (exact weight bytes)
            from llmsize.quant.formats import weight_plan
            from llmsize.quant.memory_bridge import inference_bytes

            plan = weight_plan(spec, w.key)
            kv = "bf16" if body.kv_cache is None else body.kv_cache
            grid = [[inference_bytes(spec, plan, c, kv, b)[0] for c in body.contexts] for b in body.batches]
        else:
            grid = [[estimate(spec, _infer_workload(body, loaded, c, b)).peak_bytes for c in body.contexts]
                    for b in body.batches]
        return {"model": spec.name, "contexts": body.contexts, "batches": body.batches, "bytes": grid,
                "gpu_usable_bytes": _usable(body.gpu)}

    return await cached("infer-sweep", body, run)


@router.post("/train/sweep", summary="Peak training memory for each sequence length x micro-batch")
async def train_sweep(body: TrainSweep) -> Response:
    from llmsize.memory import estimate

    def run() -> dict[str, Any]:
        spec = resolve(body.model).spec
        grid = [[estimate(spec, _train_workload(body, c, b)).peak_bytes for c in body.contexts] for b in body.batches]
        return {"model": spec.name, "contexts": body.contexts, "batches": body.batches, "bytes": grid,
                "gpu_usable_bytes": _usable(body.gpu)}

    return await cached("train-sweep", body, run)


__all__ = ["Compact", "InferBody", "TrainBody", "memory_json", "router"]
