"""Achieved efficiencies per engine x GPU architecture x phase, and the compute path a setup runs on.

The table (``catalog/efficiency.toml``) is derived from the calibration rows by ``scripts/fit_speed.py``:
each value is the median, over that group's rows, of measured rate / roofline rate at efficiency 1.
A lookup falls back engine/arch -> engine/@vendor -> engine/* -> */arch -> */@vendor -> */*, and always says
which key it used.

Source: pope2022
"""
from __future__ import annotations

import contextlib
import contextvars
import functools
import re
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from typing import Any

from llmsize.errors import LlmsizeError

PHASES = ("decode", "prefill", "serve", "train")
ENGINES = ("llama.cpp", "vllm", "sglang", "trt-llm", "transformers", "megatron", "torchtitan", "llm-foundry",
           "deepspeed", "fsdp", "unknown")
# GGUF quantized block types: llama.cpp runs their matmuls on int8 dot products (MMQ / DP4A); MXFP4 (gpt-oss)
# too: its CUDA MMQ and MMVQ kernels look its 4-bit values up as int8 and scale by the block's E8M0 exponent
_GGUF_PREFIXES = ("Q", "IQ", "TQ", "MXFP4")


@dataclass(frozen=True, slots=True, kw_only=True)
class Efficiency:
    """One achieved efficiency and the table key it came from (``engine/arch/phase``)."""

    value: float
    key: str
    rows: int  # calibration rows it was derived from (0: a default)
    given: bool = False  # an override from the user (--mfu, --mbu, --prefill-efficiency)

    def __post_init__(self) -> None:
        if isinstance(self.value, bool) or not isinstance(self.value, (int, float)) or not 0 < self.value <= 1:
            raise LlmsizeError(f"efficiency {self.key} must be in (0, 1], got {self.value!r}")


_PROBE: list[tuple[float, str]] = []  # set only by `probe` (the efficiency fit): (value, phase)


@contextlib.contextmanager
def probe(value: float, phase: str) -> Iterator[None]:
    """Within the block every table lookup of `phase` returns `value` (the fit solves for it); the
    other phases a prediction reads (a prompt's micro-batches read their weights at the decode
    efficiency) keep the table's. A user's override still wins."""
    if phase not in PHASES:
        raise LlmsizeError(f"unknown phase {phase!r} (known: {', '.join(PHASES)})")
    _PROBE.append((value, phase))
    try:
        yield
    finally:
        _PROBE.pop()


# the open `recorded` blocks of this thread / task, innermost last (a context variable: the web app's worker
# threads each see their own)
_SEEN: contextvars.ContextVar[tuple[list[Efficiency], ...]] = contextvars.ContextVar("llmsize_seen", default=())


@contextlib.contextmanager
def recorded() -> Iterator[list[Efficiency]]:
    """Collect every efficiency the block looks up (the table's, or a user's override), so a report can
    print each default with its key (`validate` does, per case)."""
    out: list[Efficiency] = []
    token = _SEEN.set((*_SEEN.get(), out))
    try:
        yield out
    finally:
        _SEEN.reset(token)


def seen(e: Efficiency) -> Efficiency:
    """`e`, recorded as used where a `recorded` block is open."""
    open_blocks = _SEEN.get()
    if open_blocks:
        open_blocks[-1].append(e)
    return e


@functools.cache
def _table() -> dict[str, Any]:
    text = resources.files("llmsize.catalog").joinpath("efficiency.toml").read_text()
    return tomllib.loads(text)


def _rows() -> dict[tuple[str, str, str], dict[str, Any]]:
    """The table's entries by (engine, arch, phase), built once per table (the fit swaps the table's list)."""
    t = _table()
    eff = t["efficiency"]
    cached = t.get("_rows")
    if cached is None or cached[0] is not eff:
        cached = t["_rows"] = (eff, {(r["engine"], r["arch"], r["phase"]): r for r in eff})
    return cached[1]


def arch_of(gpu: Any) -> str:
    """The architecture class of a catalog GPU (its ``arch`` in ``catalog/gpus.toml``: ``hopper``,
    ``ampere``, ``geforce``, ``apple`` ...); ``other`` for a custom GPU. A class without calibration rows
    takes the table's engine/* and */* values."""
    return getattr(gpu, "arch", "") or "other"


def vendor_of(gpu: Any) -> str:
    """The table's vendor class of a GPU, ``@`` and its catalog vendor in lower case (``@nvidia``, ``@amd``,
    ``@apple``): the GPUs one backend and kernel set serve, the fallback of an architecture with no rows."""
    return "@" + (getattr(gpu, "vendor", "") or "other").lower()


def lookup_keys(engine: str, arch: str, vendor: str, phase: str) -> tuple[tuple[str, str, str], ...]:
    """The table keys a lookup tries for one phase key, in order (engine/arch, engine/@vendor, engine/*,
    */arch, */@vendor, */*); the fit groups each row under the same keys."""
    return ((engine, arch, phase), (engine, vendor, phase), (engine, "*", phase), ("*", arch, phase),
            ("*", vendor, phase), ("*", "*", phase))


def engine_name(engine: str | None) -> str:
    """The engine as the efficiency table names it: one of `ENGINES`, from its usual spellings (a trailing
    parenthesised backend or note, "llama.cpp (CUDA)", is read past); an unknown one raises."""
    e = re.sub(r"\s*\([^()]*\)$", "", (engine or "unknown").strip()).lower()
    e = {"tensorrt-llm": "trt-llm", "trtllm": "trt-llm", "tensorrt_llm": "trt-llm", "trt_llm": "trt-llm",
         "llamacpp": "llama.cpp", "llama-cpp": "llama.cpp", "llama_cpp": "llama.cpp", "hf": "transformers",
         "megatron-lm": "megatron", "megatron-core": "megatron", "llmfoundry": "llm-foundry",
         "llm_foundry": "llm-foundry",
         # NeMo and Megatron-Bridge train on Megatron-Core; FSDP2 is PyTorch's FSDP; Hugging Face's generate()
         "nemo": "megatron", "nvidia-nemo": "megatron", "nemo-megatron": "megatron", "megatron-bridge": "megatron",
         "fsdp2": "fsdp", "pytorch-fsdp": "fsdp", "pytorch fsdp": "fsdp", "pytorch-fsdp2": "fsdp",
         "huggingface": "transformers", "hf-transformers": "transformers", "hf transformers": "transformers",
         # llm-foundry is MosaicML Composer's LLM recipes (FSDP under Composer's trainer); Megatron-DeepSpeed
         # trains on DeepSpeed's engine (ZeRO, its 1F1B PipelineEngine); Ollama runs llama.cpp's ggml kernels
         "composer": "llm-foundry", "mosaicml composer": "llm-foundry", "mosaicml-composer": "llm-foundry",
         "megatron-deepspeed": "deepspeed", "ollama": "llama.cpp",
         # a stack the source does not name (a lab's own trainer) is the schema's `unknown`
         "in-house": "unknown", "internal": "unknown", "proprietary": "unknown", "undisclosed": "unknown",
         "custom": "unknown"}.get(e, e)
    if e not in ENGINES:
        raise LlmsizeError(f"unknown engine {engine!r} (known: {', '.join(ENGINES)})")
    return e


def phase_key(phase: str, path: str | None, weights: str | None = None) -> str:
    """The table's phase key: the phase, suffixed by its compute path where that is not 16-bit
    (``prefill-int8`` for llama.cpp's quantized kernels, ``train-fp8``), as kernels differ per path; a
    GGUF block type on a 16-bit path (Metal: no int8 units) is dequantised inside the kernel, which runs
    below the plain F16 one (``decode-q``, ``prefill-q``: M2 Ultra prompt processing of a 7B at 0.62 of
    its fp16 peak in F16, 0.48-0.57 in Q4_0/Q8_0/Q4_K_M/Q6_K)."""
    if path in (None, "bf16", "fp16", "fp16acc"):
        # ASSUMES: a GPU without int8 units runs llama.cpp's quantized types by dequantising each block to
        #          f16 in registers (Metal's mul_mm/mul_mv kernels), one efficiency for every block type, except
        #          that a prompt's matrix kernel unpacks k-quant and i-quant super-blocks at a cost of its own
        #          (``prefill-kq``: Apple's Q4_0 scoreboard prompts reach 0.2 more of the fp16 peak than its
        #          Q4_K_M ones; a decode step's unpacking is `dequant.dequant_s`)
        quant = weights is not None and phase in ("decode", "prefill") and is_gguf_quant(weights)
        if quant and phase == "prefill" and is_super_block(weights):
            return f"{phase}-kq"
        return f"{phase}-q" if quant else phase
    return f"{phase}-{path}"


def is_super_block(weights: str) -> bool:
    """A GGUF k-quant (Q2_K .. Q6_K and their _S/_M/_L mixes) or i-quant (IQ*) type: 256-weight super-blocks
    with sub-block scales, against the legacy 32-weight blocks of Q4_0, Q4_1, Q5_0, Q5_1 and Q8_0."""
    w = weights.upper()
    return w.startswith("IQ") or "_K" in w


def efficiency(engine: str | None, gpu: Any, phase: str, override: float | None = None,
               path: str | None = None, weights: str | None = None, moe: bool = False) -> Efficiency:
    """The achieved efficiency of `phase` on compute `path` for `engine` on `gpu`'s architecture, with the
    key it came from.

    lookup: engine/arch/phase-path -> engine/@vendor/phase-path -> engine/*/phase-path -> */arch/phase-path
    -> */@vendor/phase-path -> */*/phase-path, then the same six for the bare phase; a mixture-of-experts
    model's training and prompt processing look up ``train[-path]-moe`` / ``prefill[-path]-moe`` first
    (grouped expert GEMMs and token dispatch run other kernels than dense layers), then the dense keys. An architecture without rows of its own takes the
    engine's rows on the GPUs of its vendor (one backend and kernel set: CUDA, ROCm, Metal) before the
    engine's rows on every GPU, whose median other vendors' GPUs can set (Apple's Metal prompt rows reach
    0.8 of their fp16 peak, NVIDIA's 0.5); the engine's own rows come before other engines' rows on this
    architecture (docs/speed.md)

    Source: pope2022"""
    if phase not in PHASES:
        raise LlmsizeError(f"unknown phase {phase!r} (known: {', '.join(PHASES)})")
    if override is not None:
        return seen(Efficiency(value=override, key=f"given/{phase}", rows=0, given=True))
    e, a, v = engine_name(engine), arch_of(gpu), vendor_of(gpu)
    if _PROBE and _PROBE[-1][1] == phase:
        return Efficiency(value=_PROBE[-1][0], key=f"probe/{phase}", rows=0)
    rows = _rows()
    found = _FOUND.get((e, a, v, phase, path, weights, moe)) if _FOUND.get("rows") is rows else None
    if found is not None:
        return seen(found)
    key = phase_key(phase, path, weights)
    # a k-quant prompt on a class without such rows takes its other quantized prompts' value
    keys = (key, phase + "-q", phase) if key.endswith("-kq") else (key, phase)
    if moe:
        keys = (key + "-moe", phase + "-moe") + keys
    for ph in dict.fromkeys(keys):
        for k in lookup_keys(e, a, v, ph):
            r = rows.get(k)
            if r is not None:
                if _FOUND.get("rows") is not rows:
                    _FOUND.clear()
                    _FOUND["rows"] = rows
                found = _FOUND[(e, a, v, phase, path, weights, moe)] = Efficiency(
                    value=float(r["value"]), key="/".join(k), rows=int(r.get("n", 0)))
                return seen(found)
    raise LlmsizeError(f"efficiency table has no default for phase {phase!r}")


# lookups already answered, for the table's current entries (the planner asks the same few for every setup)
_FOUND: dict[Any, Any] = {}


def train_shape() -> dict[str, float]:
    """The GEMM-shape constants of the training efficiency (``[train]`` of the table): ``x_half_tokens``,
    ``d_half``, ``attention_rel``, and ``x_half_expert_tokens`` (the routed experts' grouped GEMMs, rows
    per expert; as the dense GEMMs where the table does not say)."""
    t = _table().get("train", {})
    if _SHAPE and _SHAPE[0] is t:  # read once per table section (the fit swaps the section's dict)
        return dict(_SHAPE[1])
    out = {"x_half_tokens": float(t.get("x_half_tokens", 0)), "d_half": float(t.get("d_half", 0)),
           "attention_rel": float(t.get("attention_rel", 1.0))}
    out["x_half_expert_tokens"] = float(t.get("x_half_expert_tokens", out["x_half_tokens"]))
    _SHAPE[:] = [t, dict(out)]
    return out


_SHAPE: list[Any] = []  # [the table's [train] section, its shape constants]


def prefill_shape() -> dict[str, float]:
    """The prompt-processing width term (``[prefill]`` of the table): ``d_half``, the hidden width at which a
    forward pass's GEMMs reach half the efficiency of a very wide model's (0: no width term)."""
    return {"d_half": float(_table().get("prefill", {}).get("d_half", 0.0))}


def serve_shape() -> dict[str, float]:
    """The serving constants (``[serve]`` of the table): ``compute_rel`` (the GEMM efficiency of a serving
    pass relative to the fitted serving efficiency, which its memory-bound steps reach on bandwidth;
    ``compute_rel_fp8`` / ``compute_rel_fp4`` the same on the FP8 / FP4 paths),
    ``link_efficiency`` / ``pcie_efficiency`` (the share of the link's rate TP all-reduces reach over
    NVLink / over PCIe alone), ``step_overhead_s`` (fixed
    host cost of a scheduler step), ``seq_overhead_s`` (its cost per running sequence) and
    ``allreduce_latency_s`` (the fixed cost τ of one custom TP all-reduce kernel, `comm.serve_allreduce_s`),
    ``prompt_layer_overhead_s`` / ``prompt_layer_overhead_compiled_s`` (the fixed cost per layer of a prompt's
    pass issued layer by layer, or as one compiled engine, `kernels.compiled_prompt_pass`),
    ``ungrouped_kv_miss`` (the share of a query head's KV re-reads that reach HBM under a decode kernel that
    does not group query heads, `kernels.kv_read_factor`), ``gemm_unhidden`` (the share of the shorter of
    a pass's weight reads and GEMM math that the longer does not hide, `serving.gemm_s`)."""
    t = _table().get("serve", {})
    return {"compute_rel": float(t.get("compute_rel", 1.0)), "compute_rel_fp8": float(t.get("compute_rel_fp8", 1.0)),
            "compute_rel_fp4": float(t.get("compute_rel_fp4", t.get("compute_rel_fp8", 1.0))),
            "link_efficiency": float(t.get("link_efficiency", 1.0)),
            "pcie_efficiency": float(t.get("pcie_efficiency", t.get("link_efficiency", 1.0))),
            "step_overhead_s": float(t.get("step_overhead_s", 0.0)), "seq_overhead_s": float(t.get("seq_overhead_s", 0.0)),
            "allreduce_latency_s": float(t.get("allreduce_latency_s", 10e-6)),
            "layer_overhead_s": float(t.get("layer_overhead_s", 0.0)),
            "prompt_layer_overhead_s": float(t.get("prompt_layer_overhead_s", 0.0)),
            "prompt_layer_overhead_compiled_s": float(t.get("prompt_layer_overhead_compiled_s",
                                                            t.get("prompt_layer_overhead_s", 0.0))),
            "ungrouped_kv_miss": float(t.get("ungrouped_kv_miss", 0.0)),
            "gemm_unhidden": float(t.get("gemm_unhidden", 0.0))}


def decode_shape(gpu: Any = None) -> dict[str, float]:
    """The decode-step constants (``[decode]`` of the table): ``graphs_saving_s``, the part of it CUDA
    graphs save per layer (`builds.llamacpp_graphs`), ``moe_layer_s``, what a mixture-of-experts layer
    adds to it, and ``layer_overhead_s``, the fixed time a
    decoder layer adds to a token's step (kernel launches and synchronisation) beyond its bytes and FLOPs,
    for `gpu`'s architecture where the table fits one (``[decode.layer_overhead_by_arch]``), else the
    value fitted over every row.

    t_step = W_read/(bw·E_dec) + L·t_layer(arch): with rows of two model sizes on one architecture the
    intercept t_layer and the slope 1/(bw·E_dec) separate (a 7B and a 70B Q4_0 on one A100: 134 µs and
    0.71 of its bandwidth), so small models fall short of the bandwidth roofline by the launch cost

    Source: pope2022"""
    # ASSUMES: the fixed cost scales with layers, not with the bytes they read (one set of kernel launches
    #          per layer; llama.cpp's CUDA graphs and Metal's command buffers make it differ by backend,
    #          hence by architecture class)
    t = _table().get("decode", {})
    by_arch = t.get("layer_overhead_by_arch", {})
    a = arch_of(gpu) if gpu is not None else None
    # ASSUMES: a mixture-of-experts layer adds one more fixed cost, the same on every architecture (its
    #          router's top-k, the expert-id gather and the grouped mat-vec: llama.cpp's mul_mat_id)
    return {"layer_overhead_s": float(by_arch.get(a, t.get("layer_overhead_s", 0.0))),
            "graphs_saving_s": float(t.get("graphs_saving_s", 0.0)),
            "moe_layer_s": float(t.get("moe_layer_s", 0.0))}


# the weight formats whose linears an eager engine runs through a library's own kernels, each kind with its
# own host cost (bitsandbytes' 4-bit and LLM.int8() paths, the GPTQ/AWQ int4 kernels); every other format
# is issued as 16-bit linears are
_HOST_KINDS = (("nf4", "bnb-4bit"), ("fp4", "bnb-4bit"), ("int8", "bnb-int8"), ("gptq", "int4-kernels"),
               ("awq", "int4-kernels"))
HOST_KINDS = ("16-bit", "bnb-4bit", "bnb-int8", "int4-kernels")


def host_kind(weights: str) -> str:
    """The kind of linear kernels `weights` runs on, for its host cost (`host_layer_s`)."""
    w = weights.lower()
    return next((k for prefix, k in _HOST_KINDS if w.startswith(prefix)), "16-bit")


def host_layer_s(engine: str | None, weights: str) -> float:
    """Seconds the host takes to issue one decoder layer's kernels in a step where the engine launches
    them one by one from Python (``[host."ENGINE"]`` of the table, per kind of linear kernels, fitted on
    the engine's rows by scripts/fit_speed.py `fit_host`); 0 for an engine that replays CUDA graphs or
    loops in C++ (vLLM, SGLang, TensorRT-LLM, llama.cpp).

    Source: pytorch2023fast"""
    per = _table().get("host", {}).get(engine_name(engine), {})
    return float(per.get(host_kind(weights), per.get("16-bit", 0.0)))


def engine_default(engine: str | None, what: str, gpu: Any = None) -> int | None:
    """An engine's scheduling default (``max_seqs``: sequences batched at once), from the table; None
    where the engine has no cap of its own (transformers: generate() decodes the batch it is given). On a
    `gpu` of at least ``large_gpu_gib`` whose name lacks ``large_excludes``, the engine's ``<what>_large``
    where it has one (vLLM: 1024 sequences on an H100, H200, B200 or MI300X, 256 on an A100 or a smaller
    card)."""
    d = _table()["engine"]
    e = d.get(engine_name(engine), d["unknown"])
    v = e.get(what)
    big, word = e.get(f"{what}_large"), e.get("large_excludes")
    if big is not None and gpu is not None and gpu.usable >= e["large_gpu_gib"] * 2**30 \
            and not (word and word in gpu.name.lower()):
        v = big
    return None if v is None else int(v)


def is_gguf_quant(weights: str) -> bool:
    w = weights.upper()
    return w.startswith(_GGUF_PREFIXES) and w not in ("QLORA",)


def engine_weights(engine: str | None, weights: str) -> tuple[str, str | None]:
    """The weight format an engine's own files of that name hold, and a note where it reads the name so:
    llama.cpp's gpt-oss GGUFs are its file type MXFP4_MOE (llama-bench prints "MXFP4 MoE": 11.27 GiB for
    gpt-oss-20b), routed experts in MXFP4 and every other matrix in Q8_0 (llama-quant's rule for that
    type), where the `mxfp4` of transformers and vLLM (12.8 GiB) keeps those matrices in bf16. transformers
    loads a GGUF file by dequantizing it to fp32 unless a dtype is given (its GGUF guide), so a GGUF type
    there holds fp32 weights.

    Source: llama-quant"""
    name = weights.strip().upper().replace(" ", "_")
    e = engine_name(engine)
    if e == "llama.cpp" and name in ("MXFP4", "MXFP4_MOE") and weights != "MXFP4_MOE":
        return "MXFP4_MOE", (f"weights {weights!r} on llama.cpp read as its GGUF file type MXFP4_MOE "
                             "(routed experts MXFP4, other matrices Q8_0)")
    if e == "transformers" and is_gguf_quant(weights):
        return "fp32", (f"weights {weights!r} on transformers: from_pretrained(gguf_file=...) dequantizes a GGUF "
                        "file to fp32 on load unless a dtype is given (give --weights bf16 for torch_dtype bf16)")
    return weights, None


def serve_path(engine: str | None, weights: str, gpu: Any, mmq: bool = True) -> str:
    """The tensor-core path a serving setup's GEMMs run on: FP8 checkpoints use FP8 GEMMs where the GPU
    has them; llama.cpp's quantized GGUF types use its int8 dot-product kernels and its F16 weights fp16
    accumulate (with ``mmq`` False, an older llama.cpp build, quantized types too); weight-only int4/int8
    (AWQ, GPTQ, bitsandbytes) dequantise to fp16; fp32 weights run fp32; else bf16, or fp16 on GPUs without
    bf16 (T4, V100).

    Source: pope2022"""
    w = weights.lower()
    if w.startswith("fp8") and gpu.has("fp8"):
        return "fp8"
    e = engine_name(engine)
    if e in ("trt-llm", "vllm", "sglang") and gpu.has("fp4"):
        # ASSUMES: NVFP4 checkpoints run W4A4: activations quantized to FP4 for FP4 GEMMs (TensorRT-LLM's
        #          NVFP4LinearMethod, vLLM's CUTLASS/FlashInfer FP4 GEMMs, SGLang) on GPUs with FP4 tensor
        #          cores; elsewhere (Hopper) weight-only (Marlin FP4) on the 16-bit path
        if w == "nvfp4":
            return "fp4"
        # ASSUMES: MXFP4 experts (gpt-oss) on data-center Blackwell run W4A8 under TensorRT-LLM and SGLang
        #          (MXFP8 activations: the fp8 rate); vLLM's default there, and every engine on Hopper and
        #          on RTX Blackwell, multiply them in 16 bits (docs/speed.md)
        if w == "mxfp4" and e in ("trt-llm", "sglang") and arch_of(gpu) == "blackwell":
            return "fp8"
    if e == "llama.cpp" and is_gguf_quant(weights) and gpu.has("int8"):
        # a build before MMQ became the default dequantises to fp16 for cuBLAS (`builds.llamacpp_mmq`)
        return "int8" if mmq else ("fp16acc" if gpu.has("fp16acc") else sixteen_bit(gpu))
    # ASSUMES: llama.cpp multiplies F16 matrices through cuBLAS with CUBLAS_COMPUTE_16F (fp16 accumulate;
    # ggml's ROCm header maps that name too), the full-rate path on GeForce
    if e == "llama.cpp" and w in ("f16", "fp16") and gpu.has("fp16acc"):
        return "fp16acc"
    if w in ("bf16",) and gpu.has("bf16"):
        return "bf16"
    # ASSUMES: fp32 weights multiply in fp32 (PyTorch's default: TF32 off for matmuls)
    if w in ("fp32", "f32") and gpu.has("fp32"):
        return "fp32"
    return sixteen_bit(gpu)


def attention_path(engine: str | None, path: str, kv_dtype: str | None, gpu: Any) -> str:
    """The tensor-core path of attention's two products (Q·K^T and P·V) beside GEMMs on `path`. Weights
    quantized to FP8, FP4 or int8 leave the activations and the KV cache in their own dtype, so attention
    runs on the 16-bit path, except over an FP8 KV cache on a GPU with FP8 units under an engine whose
    kernels multiply it in FP8 (TensorRT-LLM's FP8 context FMHA, vLLM's FlashAttention 3; SGLang
    dequantizes the cache to 16 bits to attend). A GEMM path of 16 bits or wider is attention's too.

    Source: fp8-attention"""
    if path not in ("fp8", "fp4", "int8"):
        return path
    kv = (kv_dtype or "").lower()
    if kv.startswith("fp8") and gpu.has("fp8") and engine_name(engine) in ("trt-llm", "vllm"):
        return "fp8"
    return sixteen_bit(gpu)


def sixteen_bit(gpu: Any) -> str:
    """bf16's stand-in: fp16 where the GPU has no bf16 (T4, V100, P100); fp32 where it has neither at a
    usable rate (P40: engines compute fp16 models in fp32 on it)."""
    return "fp16" if gpu.has("fp16") else "bf16" if gpu.has("bf16") or not gpu.has("fp32") else "fp32"


def train_path(precision: str | None, gpu: Any) -> str:
    """The path of training GEMMs: bf16 (fp16 where the GPU has no bf16), fp8 for ``fp8-mixed``, tf32 for
    fp32 training. Refuses fp8 training on a GPU without FP8 units."""
    p = (precision or "bf16-mixed").lower()
    if p not in ("bf16-mixed", "bf16", "fp16-mixed", "fp8-mixed", "fp32"):
        raise LlmsizeError(f"unknown training precision {precision!r} (known: bf16-mixed, bf16, fp16-mixed, "
                           "fp8-mixed, fp32)")
    if p == "fp8-mixed":
        if not gpu.has("fp8"):
            raise LlmsizeError(f"{gpu.name} has no FP8 units for fp8-mixed training")
        return "fp8"
    if p == "fp32":
        return "tf32" if gpu.has("tf32") else "fp32"
    return "bf16" if gpu.has("bf16") else sixteen_bit(gpu)
