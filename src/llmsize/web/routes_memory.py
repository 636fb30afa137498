"""/api/v1 memory endpoints: `llmsize infer --json` and `llmsize train --json`, and a sweep of the
peak over context lengths and batch sizes for the page's chart.

The workloads and the JSON come from `llmsize.memory.report`, the functions the CLI calls, so nothing
is re-derived here; a test compares it with the CLI field for field.
"""
from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from fastapi import APIRouter
from fastapi.responses import Response
from pydantic import Field, model_validator

from llmsize.web import schemas as S
from llmsize.web.resolve import resolve
from llmsize.web.routes import Compact, cached

router = APIRouter(prefix="/api/v1")
Attn = Literal["sdpa", "eager", "flash"]


class InferBody(S._Body):
    """`llmsize infer` options."""

    old_names: ClassVar[dict[str, str]] = {"context": "seq_len", "dtype": "weights", "kv_dtype": "kv_cache_dtype",
                                           "runtime": "engine"}
    old_values: ClassVar[dict[str, dict[str, str]]] = {"engine": {"torch": "transformers", "llamacpp": "llama.cpp"}}
    model: S.ModelRef
    batch: int = Field(1, ge=1, le=S.MAX_BATCH)
    seq_len: int | None = Field(None, ge=1, le=S.MAX_CONTEXT, description="Prompt tokens per sequence (default, when "
                                "absent: 1024, fewer where the model's context is shorter).")
    new_tokens: int | None = Field(None, ge=0, le=S.MAX_CONTEXT,
                                   description="Tokens generated per sequence (default, when absent: 256); "
                                               "not with forward.")
    forward: bool = Field(False, description="One forward pass with full logits, no KV cache.")
    weights: str | None = Field(None, min_length=1, max_length=40,
                                description="Weight format: bf16/fp16/fp32 or any format of /quant (fp8, mxfp4, "
                                            "gptq-int4-g128, Q4_K_M, ...); default, when absent: the checkpoint's "
                                            "own (quantization_config, else its dtype).")
    kv_cache_dtype: Literal["auto", "bf16", "fp16", "fp32", "fp8", "int8"] = "auto"
    attn: Attn = "sdpa"
    engine: Literal["transformers", "vllm", "llama.cpp"] = "transformers"
    gpu: str | None = Field(None, min_length=1, max_length=80)
    allow_long_context: bool = Field(False, description="Size a context past the model's trained length.")

    @property
    def runtime(self) -> str:
        """The memory model's name of the engine."""
        return {"transformers": "torch", "llama.cpp": "llamacpp"}.get(self.engine, self.engine)


class TrainBody(S._Body):
    """`llmsize train` options."""

    model: S.ModelRef
    batch: int = Field(1, ge=1, le=S.MAX_BATCH)
    seq_len: int = Field(1024, ge=1, le=S.MAX_CONTEXT)
    precision: Literal["bf16-mixed", "fp16-mixed", "bf16", "fp16", "fp32"] | None = Field(
        None, description="bf16-mixed (default, when absent and no old dtype/amp): bf16 compute with fp32 master "
                          "weights, what training runs use; bf16/fp16/fp32: every tensor in that dtype.")
    optimizer: str = Field("adamw", min_length=1, max_length=40)
    grad_checkpointing: bool = False
    grad_accum: int = Field(1, ge=1, le=1 << 16)
    lora_r: int | None = Field(None, ge=1, le=1 << 16)
    lora_alpha: int | None = Field(None, ge=1, le=1 << 20)
    lora_targets: str | None = Field(None, min_length=1, max_length=400,
                                     description="With lora_r (default, when absent: q_proj,v_proj).")
    attn: Attn = "sdpa"
    gpu: str | None = Field(None, min_length=1, max_length=80)
    allow_long_context: bool = Field(False, description="Size a context past the model's trained length.")

    @model_validator(mode="before")
    @classmethod
    def _old_precision(cls, data: Any) -> Any:
        """dtype/amp (old names) as the precision they give."""
        if isinstance(data, dict) and ("dtype" in data or "amp" in data):
            from llmsize.cli.vocab import precision_of

            data = dict(data)
            p = precision_of(data.pop("dtype", None), data.pop("amp", None))
            if data.get("precision", p) != p:
                raise ValueError("dtype/amp are the old names of precision: give precision only")
            data["precision"] = p
        return data


Small = Annotated[int, Field(ge=1, le=S.MAX_CONTEXT)]


class InferSweep(InferBody):
    old_names: ClassVar[dict[str, str]] = {**InferBody.old_names, "kv_cache": "kv_cache_dtype"}
    contexts: list[Small] = Field(min_length=1, max_length=16)
    batches: list[Annotated[int, Field(ge=1, le=S.MAX_BATCH)]] = Field(min_length=1, max_length=6)
    kv_cache_dtype: str = Field("auto", min_length=1, max_length=40,  # type: ignore[assignment]
                                description="KV-cache dtype; with a quantized weights format also llama.cpp's "
                                            "(q8_0, ...).")


class TrainSweep(TrainBody):
    contexts: list[Small] = Field(min_length=1, max_length=16)
    batches: list[Annotated[int, Field(ge=1, le=S.MAX_BATCH)]] = Field(min_length=1, max_length=6)


def _weights(b: InferBody, loaded: Any) -> Any:
    """The weight format of an /infer body: `weights` (old name dtype), else the checkpoint's own."""
    from llmsize.quant.native import choose_weights

    return choose_weights(loaded, b.weights)


def _infer_workload(b: InferBody, loaded: Any, seq: int | None = None, batch: int | None = None) -> Any:
    from llmsize.memory.report import infer_workload

    from llmsize.context import check_context, default_tokens, positions, positions_what

    w = _weights(b, loaded)
    dtype = None if w.quantized else w.key
    if seq is None:
        new = 0 if b.forward else 256 if b.new_tokens is None else b.new_tokens
        seq = b.seq_len if b.seq_len is not None else default_tokens(loaded, 1024, max(new - 1, 0))[0]
        check_context(loaded, positions(loaded.spec, seq, new), allow_long=b.allow_long_context,
                      flag="allow_long_context",
                      what=positions_what(loaded.spec, "seq_len", seq, new, "new_tokens"))
    return infer_workload(loaded.spec, batch=b.batch if batch is None else batch,
                          seq_len=seq, new_tokens=b.new_tokens, forward=b.forward, dtype=dtype,
                          kv_dtype=None if b.kv_cache_dtype == "auto" else b.kv_cache_dtype, attn=b.attn,
                          runtime=b.runtime)


def _train_workload(b: TrainBody, seq: int | None = None, batch: int | None = None, loaded: Any = None) -> Any:
    from llmsize.cli.vocab import precision_dtypes
    from llmsize.memory.report import train_workload

    if loaded is not None:
        from llmsize.context import check_context

        check_context(loaded, b.seq_len, allow_long=b.allow_long_context, flag="allow_long_context",
                      what=f"seq_len {b.seq_len:,}")
    dtype, amp = precision_dtypes(b.precision, None, None, lora=b.lora_r is not None)
    return train_workload(batch=b.batch if batch is None else batch, seq_len=b.seq_len if seq is None else seq,
                          dtype=dtype, amp=amp, optimizer=b.optimizer, grad_checkpointing=b.grad_checkpointing,
                          grad_accum=b.grad_accum, lora_r=b.lora_r, lora_alpha=b.lora_alpha,
                          lora_targets=b.lora_targets, attn=b.attn, spec=loaded.spec if loaded is not None else None)


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
    def run() -> dict[str, Any]:
        loaded = resolve(body.model)
        return memory_json(loaded, _train_workload(body, loaded=loaded), body.gpu, "torch")

    return await cached("train", body, run)


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
        if w.quantized:  # a quantized format: the quant planner's memory (exact weight bytes)
            from llmsize.quant.formats import weight_plan
            from llmsize.quant.memory_bridge import inference_bytes

            plan = weight_plan(spec, w.key)
            kv = body.kv_cache_dtype
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
