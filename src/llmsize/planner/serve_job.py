"""A serving job: what `--serve` and its options (one vocabulary, docs/vocabulary.md) ask the planner to
run, validated when made. `planner.jobs` re-exports it beside the training job and the memory bridge."""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

from llmsize.bounds import check_all
from llmsize.engines.llamacpp import _KV_TYPES as _LLAMACPP_CACHE_TYPES
from llmsize.errors import LlmsizeError, did_you_mean

SERVE_WEIGHTS = ("bf16", "fp16", "fp8", "int8", "nf4", "gptq-int4", "awq-int4")
KV_DTYPES = ("auto", "fp8", "fp8_e4m3", "fp8_e5m2")  # vLLM --kv-cache-dtype (SGLang, TensorRT-LLM alike)
# llama.cpp's cache types (-ctk/-ctv, as its device model knows them; f16 is its default, "auto" the same)
LLAMACPP_KV = ("auto", *_LLAMACPP_CACHE_TYPES)
DEFAULT_UTILIZATION = 0.9  # vLLM's --gpu-memory-utilization default
# engines whose serving memory is their own allocator's, not vLLM's (planner.serve_memory.engine_breakdown)
OWN_MEMORY_ENGINES = ("llama.cpp", "transformers")
MAX = "max"  # a serving batch of every request queued at once (an offline max-throughput run)


def positive(owner: str, **vals: Any) -> None:
    """Refuse any of `vals` that is given and not a positive finite number, naming it and `owner`."""
    for k, v in vals.items():
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v)
                              or v <= 0):
            raise LlmsizeError(f"{owner}: {k} must be a positive finite number, got {v!r}")


@dataclass(frozen=True, slots=True, kw_only=True)
class ServeJob:
    """Serving: `concurrency` requests at once, each `prompt_len` in and `output_len` out, with `engine`'s
    memory: vLLM-style paged KV capped at `gpu_memory_utilization` of each GPU (0.9 when None), or what
    llama.cpp or transformers allocate themselves (`planner.serve_memory`). `concurrency` "max" is an
    offline max-throughput run (`vllm bench throughput`): every request queued at once, the batch as large
    as the KV cache and the engine's max sequences allow; with a `request_rate`, the engine's own cap."""

    prompt_len: int = 1024
    output_len: int = 256
    concurrency: int | str = 1
    weights: str = "bf16"
    kv_dtype: str = "auto"
    gpu_memory_utilization: float | None = None  # None: vLLM's 0.9 (llama.cpp: --fit's margin; transformers: all)
    min_tokens_per_s: float | None = None  # output tokens/s the whole deployment must reach
    max_model_len: int | None = None
    prefill_mfu: float | None = None  # None: the engine's fitted serving efficiency (speedmodel)
    mbu: float | None = None
    engine: str = "vllm"
    request_rate: float | None = None  # requests/s arriving at one replica (None: `concurrency` at once)
    max_ttft_s: float | None = None  # slower setups are rejected (--ttft)
    max_tpot_s: float | None = None  # slower setups are rejected (--tpot)

    def __post_init__(self) -> None:
        if self.concurrency != MAX:
            positive("serve job", concurrency=self.concurrency)
        positive("serve job", prompt_len=self.prompt_len, output_len=self.output_len,
             min_tokens_per_s=self.min_tokens_per_s, max_model_len=self.max_model_len, prefill_mfu=self.prefill_mfu,
             mbu=self.mbu, max_ttft_s=self.max_ttft_s, max_tpot_s=self.max_tpot_s, request_rate=self.request_rate)
        check_all("serve job", {"prompt_len": (self.prompt_len, "context"), "output_len": (self.output_len, "context"),
                                "concurrency": (self.sequences, "batch"), "max_model_len": (self.max_model_len, "context")})
        if (self.prefill_mfu or 0) > 1 or (self.mbu or 0) > 1:
            raise LlmsizeError(f"serve job: prefill MFU and MBU must be at most 1, got {self.prefill_mfu}, {self.mbu}")
        if self.gpu_memory_utilization is not None and not 0 < self.gpu_memory_utilization <= 1:
            raise LlmsizeError(f"gpu_memory_utilization must be in (0, 1], got {self.gpu_memory_utilization}")
        if self.weights not in SERVE_WEIGHTS:
            from llmsize.quant.formats import get_format

            try:  # every weight format of `llmsize quant` (GGUF types included) has exact bytes
                get_format(str(self.weights))
            except LlmsizeError:
                raise did_you_mean(str(self.weights), SERVE_WEIGHTS, what="serving weight format (--weights; "
                                   "or any format `llmsize quant` lists)") from None
        from llmsize.speedmodel.efficiency import engine_name

        object.__setattr__(self, "engine", engine_name(self.engine))
        kinds = LLAMACPP_KV if self.engine == "llama.cpp" else KV_DTYPES
        if self.kv_dtype not in kinds:
            other = KV_DTYPES if self.engine == "llama.cpp" else LLAMACPP_KV
            if self.kv_dtype in other:
                what = "not a llama.cpp cache type" if other is KV_DTYPES else \
                    "a llama.cpp cache type (--engine llama.cpp)"
                raise LlmsizeError(f"KV cache dtype {self.kv_dtype} is {what}; {self.engine} takes "
                                   f"{', '.join(kinds)} (--kv-cache-dtype)")
            raise did_you_mean(str(self.kv_dtype), kinds, what=f"{self.engine} KV cache dtype (--kv-cache-dtype)")
        from llmsize.speedmodel.scheduling import static_batch

        if static_batch(self.engine) and self.request_rate is not None and self.concurrency != 1:
            raise LlmsizeError(f"transformers' generate() runs a fixed batch, so requests arriving over time are "
                               f"served one at a time: a request rate takes batch 1, not {self.concurrency}")
        if self.concurrency == MAX:
            if self.engine in OWN_MEMORY_ENGINES:
                raise LlmsizeError(f"batch max (every request queued, as many in flight as the KV cache holds) is "
                                   f"a paged-KV engine's run (vllm, sglang, trt-llm); {self.engine} serves a fixed "
                                   "number of sequences: give it a batch of 1 or more")
            if self.request_rate is None and self.max_ttft_s is not None:
                raise LlmsizeError("a TTFT limit needs requests that arrive over time: in a batch max run every "
                                   "request is queued at once, so its wait grows through the run; give a request "
                                   "rate or a batch of 1 or more")

    @property
    def offline(self) -> bool:
        """Every request queued at once (batch max, no request rate): a max-throughput run."""
        return self.concurrency == MAX and self.request_rate is None

    @property
    def sequences(self) -> int:
        """The sequences whose memory must fit: the concurrency, or for batch max one request at its full
        length (the engine fills what is left with KV cache and batches as many as it holds)."""
        return 1 if self.concurrency == MAX else int(self.concurrency)

    @property
    def context(self) -> int:
        return self.max_model_len or self.prompt_len + self.output_len

    @property
    def utilization(self) -> float:
        """The share of each GPU a vLLM-style engine takes: the one given, else vLLM's default 0.9."""
        return DEFAULT_UTILIZATION if self.gpu_memory_utilization is None else self.gpu_memory_utilization

    def with_(self, **kw: Any) -> ServeJob:
        return replace(self, **kw)
