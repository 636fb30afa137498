"""/api/v1/ngl: llama.cpp partial offload (as `llmsize fit MODEL --gpu GPU --find ngl --weights FORMAT --json`)."""
from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from fastapi import APIRouter
from fastapi.responses import Response
from pydantic import Field

from llmsize.web import schemas as S
from llmsize.web.resolve import resolve
from llmsize.web.routes import cached

router = APIRouter(prefix="/api/v1")


class NglBody(S._Body):
    old_names: ClassVar[dict[str, str]] = {"context": "seq_len", "slots": "batch", "kv_type": "kv_cache_dtype"}
    model: S.ModelRef
    gpu: str = Field(min_length=1, max_length=80, examples=["RTX-4090"])
    weights: str = Field("Q4_K_M", min_length=1, max_length=20, description="llama.cpp preset: Q4_K_M, Q8_0, F16, ...")
    host: str = Field("DDR5-5600-2ch", min_length=1, max_length=80, description="Host memory (CPU catalog name).")
    seq_len: int = Field(4096, ge=1, le=S.MAX_CONTEXT, description="Tokens per slot (llama.cpp -c / -np).")
    batch: int = Field(1, ge=1, le=4096, description="Slots: requests served at once (llama.cpp -np).")
    kv_cache_dtype: Annotated[Literal["f32", "f16", "bf16", "q8_0", "q4_0", "q4_1", "iq4_nl", "q5_0", "q5_1"],
                              Field(description="llama.cpp -ctk/-ctv")] = "f16"
    allow_long_context: bool = Field(False, description="Size a context past the model's trained length.")


@router.post("/ngl", summary="llama.cpp layers on the GPU, the GPU/host split and speed (as `llmsize fit --find ngl`)")
async def ngl(body: NglBody) -> Response:
    from llmsize.engines.offload import ngl_report

    def run() -> dict:
        from llmsize.context import check_context

        loaded = resolve(body.model)
        check_context(loaded, body.seq_len, allow_long=body.allow_long_context, what=f"seq_len {body.seq_len:,}",
                      flag="allow_long_context")
        return ngl_report(loaded.spec, gguf_path=None, weights=body.weights, gpu_name=body.gpu, host_name=body.host,
                          context=body.seq_len, slots=body.batch, kv_type=body.kv_cache_dtype)

    return await cached("ngl", body, run)


@router.get("/hosts", summary="Host memory (CPU catalog) for llama.cpp partial offload: bandwidth, unified or not")
async def hosts() -> dict:
    from llmsize.engines.hosts import hosts as catalog

    return {"hosts": [{"name": x.name, "description": x.description, "memory_type": x.memory_type,
                       "bandwidth_bytes_per_s": x.bandwidth, "unified": x.unified, "source": x.source}
                      for x in catalog()]}
