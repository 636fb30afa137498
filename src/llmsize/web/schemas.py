"""Request bodies of the JSON API, with explicit bounds on every number.

Bounds are wide enough for every published model (and 10x beyond) and tight enough that no request
can make the server loop for long or build huge tuples; a value outside them is a 422 that names the
field and the accepted range.
"""
from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from llmsize.bounds import (MAX_BATCH, MAX_CONTEXT, MAX_EXPERTS, MAX_GPUS, MAX_HEADS, MAX_LAYERS,  # noqa: F401
                            MAX_VOCAB, MAX_WIDTH, check_json)

MAX_CONFIG_CHARS = 512 * 1024


# a size: '2TiB', '2TB', '512 GiB' (llmsize.catalog.hardware.parse_bytes) or whole bytes
Size = Annotated[str, Field(min_length=1, max_length=40)] | Annotated[int, Field(ge=1, le=1 << 70)]


class _Body(BaseModel):
    # no NaN or infinity in any number: JSON has neither, and a NaN passes no bound with a clear message
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _json_bounds(cls, data: Any) -> Any:
        """Anywhere in the body (free-form configs included): no NaN/Infinity, no unpaired surrogate
        ("\\ud800", which no UTF-8 text holds), nesting at most 64 deep (llmsize.bounds)."""
        check_json(data, "request")  # a JsonValueError (a ValueError) carries the path; the 422 names it
        return data

    # old field name -> canonical one (docs/vocabulary.md); an old name is accepted, never listed in the schema
    old_names: ClassVar[dict[str, str]] = {}
    old_values: ClassVar[dict[str, dict[str, str]]] = {}  # field -> old value -> canonical value

    @model_validator(mode="before")
    @classmethod
    def _canonical_names(cls, data: Any) -> Any:
        """Rename old field names (context, kv_dtype, runtime, ...) to the canonical ones; both given with
        different values is a 422 naming them."""
        if not isinstance(data, dict) or not (cls.old_names or cls.old_values):
            return data
        data = dict(data)
        for old, new in cls.old_names.items():
            if old in data:
                v = data.pop(old)
                if new in data and data[new] != v:
                    raise ValueError(f"{old} is the old name of {new}: give {new} only")
                data[new] = v
        for field, values in cls.old_values.items():
            if isinstance(data.get(field), str) and data[field] in values:
                data[field] = values[data[field]]
        return data


def _dim(hi: int, **kw: Any) -> Any:
    return Field(ge=1, le=hi, **kw)


def _opt(hi: int, **kw: Any) -> Any:
    return Field(None, ge=1, le=hi, **kw)


class Knobs(_Body):
    """Architecture knobs, as `llmsize params --hidden ... --layers ...` takes them."""

    hidden: int = _dim(MAX_WIDTH, description="Hidden size d.")
    layers: int = _dim(MAX_LAYERS, description="Decoder layers L.")
    heads: int = _dim(MAX_HEADS, description="Attention (query) heads.")
    vocab: int = _dim(MAX_VOCAB, description="Vocabulary size V.")
    kv_heads: int | None = _opt(MAX_HEADS, description="Key/value heads (GQA/MQA); default = heads.")
    head_dim: int | None = _opt(MAX_WIDTH, description="Head size; default hidden/heads.")
    ffn: int | None = _opt(MAX_WIDTH, description="FFN (intermediate) width f.")
    gated: bool | None = Field(None, description="Gated 3-matrix MLP (SwiGLU) or plain 2-matrix.")
    tied: bool | None = Field(None, description="Tie the output head to the input embeddings.")
    norm: Literal["rmsnorm", "layernorm"] | None = None
    bias: bool | None = None
    positions: Literal["rope", "learned", "alibi", "none"] | None = None
    max_positions: int | None = _opt(MAX_CONTEXT)
    experts: int | None = _opt(MAX_EXPERTS, description="MoE: experts per layer.")
    top_k: int | None = _opt(MAX_EXPERTS, description="MoE: experts used per token.")
    expert_ffn: int | None = _opt(MAX_WIDTH)
    shared_ffn: int | None = _opt(MAX_WIDTH)
    name: str | None = Field(None, max_length=120)


class WhatIf(_Body):
    """Changes to a loaded model (a preset with fewer layers, a wider FFN, ...)."""

    hidden: int | None = _opt(MAX_WIDTH)
    layers: int | None = _opt(MAX_LAYERS)
    heads: int | None = _opt(MAX_HEADS)
    kv_heads: int | None = _opt(MAX_HEADS)
    head_dim: int | None = _opt(MAX_WIDTH)
    ffn: int | None = _opt(MAX_WIDTH)
    vocab: int | None = _opt(MAX_VOCAB)
    tied: bool | None = None
    max_positions: int | None = _opt(MAX_CONTEXT)


class ModelRef(_Body):
    """Exactly one of: a preset name, a parsed config.json object, config.json text, or knobs."""

    preset: str | None = Field(None, min_length=1, max_length=200, examples=["Llama-3.1-8B"])
    config: dict[str, Any] | None = Field(None, description="A Hugging Face config.json, as a JSON object.")
    config_text: str | None = Field(None, max_length=MAX_CONFIG_CHARS,
                                    description="A config.json file's text (parse errors give line and column).")
    config_name: str | None = Field(None, max_length=200, description="Name to show for an uploaded config.")
    knobs: Knobs | None = None
    whatif: WhatIf | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> ModelRef:
        given = [k for k in ("preset", "config", "config_text", "knobs") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of preset, config, config_text or knobs"
                             + (f" (got {', '.join(given)})" if given else ""))
        return self


class ModelBody(_Body):
    """Just a model: `POST /api/v1/params`."""

    model: ModelRef


# -- planning: the same knobs as `llmsize plan/fit/speed/cost/export` ---------------------------
class Job(_Body):
    """A serving or training job, as `--serve`/`--train` and their options describe it."""

    old_names: ClassVar[dict[str, str]] = {"output": "new_tokens", "kv_dtype": "kv_cache_dtype",
                                           "recompute": "grad_checkpointing"}

    @model_validator(mode="before")
    @classmethod
    def _mode_names(cls, data: Any) -> Any:
        """seq/micro_batch (training) and prompt/concurrency (serving) are old names of seq_len/batch; the
        other mode's old fields were never read and still are not."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        train = data.get("mode") == "train"
        for new, (tr, sv) in {"seq_len": ("seq", "prompt"), "batch": ("micro_batch", "concurrency")}.items():
            old, unused = (tr, sv) if train else (sv, tr)
            data.pop(unused, None)
            if old in data:
                v = data.pop(old)
                if new in data and data[new] != v:
                    raise ValueError(f"{old} is the old name of {new}: give {new} only")
                data[new] = v
        return data

    mode: Literal["serve", "train"] = "serve"
    seq_len: int | None = Field(None, ge=1, le=MAX_CONTEXT, description="Tokens per sequence: the training sequence "
                                "(default, when absent: 4096) or the prompt served (1024), fewer where the model's "
                                "context is shorter.")
    batch: Annotated[int, Field(ge=1, le=MAX_BATCH)] | Literal["max"] | None = Field(
        None, description="Training micro-batch per GPU, or requests served at once (default, when absent: 1; "
                          "serving at a request_rate with vllm, sglang or trt-llm: max, the engine's own cap); "
                          "serving with those engines, \"max\" is an offline max-throughput run: every request "
                          "queued at once, as many in flight as the KV cache and the engine's max sequences hold.")
    global_batch: int = Field(1024, ge=1, le=1 << 24, description="Sequences per optimizer step.")
    tokens: float | None = Field(None, gt=0, le=1e17, description="Training tokens in all (e.g. 1e12).")
    precision: Literal["bf16-mixed", "bf16", "fp8-mixed", "fp32"] = Field(
        "bf16-mixed", description="bf16-mixed: bf16 compute with fp32 master weights and optimizer states, what "
                                  "training runs use (as llmsize train); fp8-mixed: the GEMMs at the GPU's FP8 peak.")
    mfu: float | None = Field(None, gt=0, le=1, description="Model FLOP utilisation (default, when absent: the "
                              "training engine's achieved efficiency on the GPU, docs/speed.md).")
    grad_checkpointing: bool = Field(True, description="Activation checkpointing (on for planned multi-GPU runs).")
    max_days: float | None = Field(None, gt=0, le=1e5)
    goodput: float | None = Field(None, ge=0.05, le=1, description="Share of a training run's wall time spent in "
                                  "training steps (default, when absent: 0.9, the Llama 3 paper's >90%); run "
                                  "days, GPU-hours and $ divide by it.")
    host_memory: Size | None = Field(None, description="Host (CPU) memory per node of 8 GPUs for CPU offload, "
                                                        "e.g. '2TiB', '2TB' or bytes (default 2 TiB, a DGX H100).")
    nvme: Size | None = Field(None, description="NVMe capacity per node for NVMe offload, e.g. '30TB' (default: "
                                                "unknown, so NVMe offload is reported, not assumed to fit).")
    new_tokens: int = Field(256, ge=1, le=MAX_CONTEXT, description="Tokens generated per request.")
    weights: str | None = Field(None, min_length=1, max_length=40,
                                description="Weight format for serving (bf16/fp16/fp32 or any /quant format); "
                                            "default, when absent: the checkpoint's own (quantization_config, else "
                                            "its dtype).")
    kv_cache_dtype: str = Field("auto", min_length=1, max_length=40, description="KV-cache dtype: auto, or vLLM's "
                                "(SGLang's, TensorRT-LLM's) fp8, fp8_e4m3, fp8_e5m2, or with engine llama.cpp its "
                                "cache types f16, bf16, f32, q8_0, q4_0, q4_1, q5_0, q5_1, iq4_nl.")
    engine: Literal["vllm", "sglang", "trt-llm", "llama.cpp", "transformers"] | None = Field(
        None, description="Serving engine whose achieved efficiencies time it (default, when absent: vllm); "
                          "serving only.")
    mbu: float | None = Field(None, gt=0, le=1, description="Decode memory-bandwidth utilisation (default, when "
                              "absent: the engine's); serving only.")
    prefill_efficiency: float | None = Field(None, gt=0, le=1, description="Prefill/compute efficiency (default, "
                                             "when absent: the engine's); serving only.")
    request_rate: float | None = Field(None, gt=0, le=1e6, description="Requests/s arriving at one replica "
                                       "(queueing: median and p90 TTFT/TPOT); batch then caps the batch (default: "
                                       "the engine's own cap); serving only.")
    ttft: float | None = Field(None, gt=0, le=1e5, description="Reject serving setups whose time to first token "
                               "exceeds this many seconds.")
    tpot: float | None = Field(None, gt=0, le=1e6, description="Reject serving setups whose time per output token "
                               "exceeds this many milliseconds.")
    allow_long_context: bool = Field(False, description="Size a context past the model's trained length.")
    gpu_memory_utilization: float | None = Field(None, gt=0, le=1, description="Serving: share of each GPU the "
                                                 "engine may take (vLLM's 0.9; SGLang: its own default "
                                                 "--mem-fraction-static for the GPU and layout; llama.cpp: all but a "
                                                 "1 GiB margin; transformers: all of it).")
    target_tps: float | None = Field(None, gt=0, le=1e12, description="Output tokens/s the deployment must reach.")
    price: dict[GpuName, Annotated[float, Field(gt=0, le=1e4)]] | None = Field(None, max_length=64, description="GPU name -> USD per GPU-hour.")


class LayoutBody(_Body):
    """GPU count and parallel layout, as `--gpus --tp --pp --cp --ep --zero --fsdp --offload-*`."""

    gpus: int | None = _opt(MAX_GPUS)
    tp: int = Field(1, ge=1, le=MAX_GPUS)
    pp: int = Field(1, ge=1, le=MAX_LAYERS)
    cp: int = Field(1, ge=1, le=MAX_GPUS)
    ep: int = Field(1, ge=1, le=MAX_GPUS)
    zero: int = Field(0, ge=0, le=3)
    fsdp: Literal["full_shard", "shard_grad_op", "hybrid_shard", "no_shard"] | None = None
    offload_optimizer: Literal["none", "cpu", "nvme"] = "none"
    offload_params: Literal["none", "cpu", "nvme"] = "none"


_GPU = Field(min_length=1, max_length=80)
GpuName = Annotated[str, Field(min_length=1, max_length=80)]
Count = Annotated[int, Field(ge=1, le=MAX_GPUS)]


class PlanBody(_Body):
    old_names: ClassVar[dict[str, str]] = {"gpus": "gpu"}
    model: ModelRef
    job: Job = Job()
    gpu: list[GpuName] | None = Field(None, min_length=1, max_length=64,
                                      description="GPU types (default, when absent: all catalogued).")
    max_gpus: int = Field(1024, ge=1, le=1 << 20)
    top: int = Field(15, ge=1, le=200)


class FitBody(_Body):
    model: ModelRef
    job: Job = Job()
    layout: LayoutBody = LayoutBody()
    gpu: str = _GPU
    find: list[Literal["gpus", "batch", "context", "concurrency", "cheapest"]] | None = Field(
        None, min_length=1, description="Which questions (default, when absent: all that apply).")


class SpeedBody(_Body):
    model: ModelRef
    job: Job = Job()
    layout: LayoutBody = LayoutBody()
    gpu: str = _GPU


class CostBody(_Body):
    old_names: ClassVar[dict[str, str]] = {"gpus": "gpu"}
    model: ModelRef
    job: Job = Job()
    gpu: list[GpuName] | None = Field(None, min_length=1, max_length=64,
                                      description="GPU types (default, when absent: all with a price).")
    counts: list[Count] | None = Field(None, min_length=1, max_length=16,
                                       description="GPU counts (default, when absent: 1 and 8).")


class ExportBody(_Body):
    """`llmsize export ENGINE MODEL` options (llmsize.export.command.run_export): with `gpu` and `layout.gpus` and
    no other layout field, the planner's best layout for the engine; layout fields given are the layout, checked
    against `gpu` when it is given. Job fields absent take the planner's defaults."""

    # the engine says whether seq_len/batch are a training or a serving job's: both modes' old names map to them
    old_names: ClassVar[dict[str, str]] = {"output": "new_tokens", "kv_dtype": "kv_cache_dtype",
                                           "recompute": "grad_checkpointing", "seq": "seq_len", "prompt": "seq_len",
                                           "micro_batch": "batch", "concurrency": "batch"}
    old_values: ClassVar[dict[str, dict[str, str]]] = {"engine": {"llamacpp": "llama.cpp"}}

    engine: Literal["vllm", "llama.cpp", "deepspeed", "fsdp", "torchrun", "megatron", "torchtitan"]
    model_name: str = Field(min_length=1, max_length=300, description="Hugging Face repo id, preset or path, as text.")
    gpu: str | None = Field(None, min_length=1, max_length=80, description="GPU type: plan the layout for it (or "
                                                                          "check the one given).")
    layout: LayoutBody = LayoutBody()
    force: bool = Field(False, description="Write a given layout even if the memory model says it does not fit.")
    seq_len: int | None = _opt(MAX_CONTEXT, description="Tokens per sequence: the training sequence (planner "
                               "default 4096) or the prompt served (1024).")
    batch: Annotated[int, Field(ge=1, le=MAX_BATCH)] | Literal["max"] | None = Field(
        None, description="Training micro-batch per GPU, or requests served at once (1); vllm with gpu: \"max\" "
                          "plans an offline max-throughput run and writes the engine's default max_num_seqs.")
    global_batch: int | None = Field(None, ge=1, le=1 << 24, description="Training: sequences per step (1024).")
    precision: Literal["bf16-mixed", "bf16", "fp8-mixed", "fp32"] | None = None
    grad_checkpointing: bool | None = Field(None, description="Training: activation checkpointing (default on).")
    host_memory: Size | None = Field(None, description="Training: host memory per node for CPU offload.")
    nvme: Size | None = Field(None, description="Training: NVMe capacity per node for NVMe offload.")
    new_tokens: int | None = _opt(MAX_CONTEXT, description="Serving: tokens generated per request (256).")
    weights: str | None = Field(None, min_length=1, max_length=40, description="Serving: weight format (bf16).")
    allow_long_context: bool = Field(False, description="Allow a context past the model's trained length.")
    gpu_memory_utilization: float | None = Field(None, gt=0, le=1, description="vLLM memory share (0.9).")
    max_model_len: int | None = _opt(MAX_CONTEXT)
    kv_cache_dtype: str | None = Field(None, min_length=1, max_length=40)
    quantization: str | None = Field(None, min_length=1, max_length=40)
    max_num_seqs: int | None = _opt(MAX_BATCH)
    grad_accum: int | None = Field(None, ge=1, le=1 << 16, description="Default: the planner's global batch "
                                                                      "(1024) / (micro-batch x DP).")
    gpus_per_node: int = Field(8, ge=1, le=1024)
    script: str = Field("train.py", min_length=1, max_length=200)
    kv_unified: bool = Field(False, description="llama.cpp: one KV pool shared by the slots (-kvu).")
    ngl: Literal["auto", "all"] | Annotated[int, Field(ge=0, le=MAX_LAYERS + 1)] | None = None
    split_mode: Literal["none", "layer", "row", "tensor"] | None = None
    nvme_path: str = Field("/local_nvme", min_length=1, max_length=200)
    shard_group: int | None = _opt(MAX_GPUS, description="FSDP hybrid_shard: GPUs per shard group (default: the "
                                                         "data-parallel GPUs of a node).")
    float8: bool = Field(False, description="torchtitan: float8 linears (planned in memory and speed).")
    virtual_stages: int | None = Field(None, ge=2, le=MAX_LAYERS, description="Megatron: interleaved stages.")


class QuantBody(_Body):
    """`llmsize quant` options: which weight format fits, how fast, at what quality."""

    old_names: ClassVar[dict[str, str]] = {"context": "seq_len", "kv_cache": "kv_cache_dtype", "rank": "lora_r"}
    model: ModelRef
    gpu: str | None = Field(None, min_length=1, max_length=80, description="GPU name or memory size (24GiB).")
    seq_len: int | None = _opt(MAX_CONTEXT, description="Tokens per sequence (default, when absent: 1024, fewer where "
                                                        "the model's context is shorter).")
    batch: int = Field(1, ge=1, le=MAX_BATCH)
    kv_cache_dtype: str | None = Field(None, min_length=1, max_length=40,
                                       description="KV-cache dtype (default, when absent: auto, the model's); not with "
                                                   "qlora.")
    formats: list[Annotated[str, Field(min_length=1, max_length=40)]] | None = Field(None, min_length=1,
                                                                                    max_length=64)
    tensors: bool = Field(False, description="With one format: every tensor's type and bytes.")
    qlora: bool = Field(False, description="QLoRA fine-tuning terms instead.")
    lora_r: int | None = Field(None, ge=1, le=1 << 16, description="LoRA rank for qlora (default, when absent: 64).")
    adapter_dtype: Literal["fp32", "bf16", "fp16"] | None = Field(
        None, description="LoRA adapter dtype for qlora (default, when absent: fp32).")
    allow_long_context: bool = Field(False, description="Size a context past the model's trained length.")
