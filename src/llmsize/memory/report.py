"""The reports of `llmsize infer` and `llmsize train`: the workload their options describe, and the
dict they print with `--json` (the web API returns the same dict). No caller assembles these itself."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from llmsize.errors import LlmsizeError
from llmsize.memory.device import DeviceEstimate, device_estimate
from llmsize.memory.estimate import estimate
from llmsize.memory.terms import MemoryEstimate
from llmsize.memory.workload import KV_DTYPE_BYTES, LoRA, Workload
from llmsize.spec import ModelSpec


def default_dtype(spec: ModelSpec) -> str:
    """The weights dtype when none is given: the checkpoint's, else bf16."""
    d = (spec.dtype or "bf16").replace("torch.", "").lower()
    return {"bfloat16": "bf16", "float16": "fp16", "float32": "fp32"}.get(d, "bf16")


def infer_workload(spec: ModelSpec, *, batch: int = 1, seq_len: int = 1024, new_tokens: int | None = None,
                   forward: bool = False, dtype: str | None = None, kv_dtype: str | None = None,
                   attn: str = "sdpa", runtime: str = "torch") -> Workload:
    """The Workload of `llmsize infer` and its options (new_tokens: 256 when generating and not given).
    An encoder (BERT, RoBERTa) does not generate: inference is one forward pass without a KV cache."""
    if spec.traits.encoder:
        if new_tokens is not None or kv_dtype is not None:
            raise LlmsizeError(f"{spec.name} is an encoder ({spec.traits.family} family): it does not generate and keeps no KV "
                               f"cache, so --new-tokens/--kv-dtype do not apply; infer sizes its forward pass")
        if runtime != "torch":
            raise LlmsizeError(f"{spec.name} is an encoder ({spec.traits.family} family): --runtime {runtime} sizes a "
                               f"generation server; encoders are sized on the torch runtime (forward pass)")
        forward = True
    if forward:
        if new_tokens is not None:
            raise LlmsizeError("--new-tokens applies to generation, not --forward (which generates nothing)")
        if kv_dtype is not None:
            raise LlmsizeError("--kv-cache-dtype applies to generation, not --forward (which keeps no KV cache)")
    return Workload(mode="forward" if forward else "generate", batch=batch, seq_len=seq_len,
                    new_tokens=0 if forward else 256 if new_tokens is None else new_tokens,
                    weights_dtype=default_dtype(spec) if dtype is None else dtype,
                    kv_cache_dtype=kv_dtype, attn_impl=attn, runtime=runtime)


def train_workload(*, batch: int = 1, seq_len: int = 1024, dtype: str | None = None, amp: str | None = None,
                   optimizer: str = "adamw", grad_checkpointing: bool = False, grad_accum: int = 1,
                   lora_r: int | None = None, lora_alpha: int | None = None, lora_targets: str | None = None,
                   attn: str = "sdpa", spec: ModelSpec | None = None) -> Workload:
    """The Workload of `llmsize train` and its options (lora_targets when not given: the family's
    `lora_default` (Mamba-2's in_proj), else the query and value projections by the family's leaf names
    (T5 q,v; BERT query,value), else its fused query-key-value projection (GPT-2's c_attn, GPT-NeoX's
    query_key_value: peft's own default for those), else q_proj,v_proj)."""
    lora = None
    if lora_r is not None:
        leaves = dict(spec.traits.leaves) if spec is not None else {}
        qv = f"{leaves['attn_q']},{leaves['attn_v']}" if {"attn_q", "attn_v"} <= set(leaves) \
            else leaves.get("attn_qkv", "q_proj,v_proj")
        if spec is not None and spec.traits.lora_default:
            qv = ",".join(spec.traits.lora_default)
        lora = LoRA(r=lora_r, alpha=2 * lora_r if lora_alpha is None else lora_alpha,
                    target_modules=qv if lora_targets is None else lora_targets)
    elif lora_alpha is not None:
        raise LlmsizeError("--lora-alpha needs --lora-r")
    elif lora_targets is not None:
        raise LlmsizeError("--lora-targets needs --lora-r")
    wd = dtype if dtype is not None else "fp32" if amp else "bf16"
    return Workload(mode="train", batch=batch, seq_len=seq_len, weights_dtype=wd, autocast=amp, optimizer=optimizer,
                    grad_checkpointing=grad_checkpointing, grad_accumulation=grad_accum, attn_impl=attn, lora=lora)


@dataclass(frozen=True)
class MemoryResult:
    """An estimate with its device view (when a GPU or a runtime other than torch asks for one) and the
    rules of thumb beside it."""

    workload: Workload
    estimate: MemoryEstimate
    device: DeviceEstimate | None
    gpu: Any
    rules: list[dict[str, Any]]
    weights: Any = None  # quant.native.Weights: the format the weights were sized in, and why


# formats whose runtime (transformers + bitsandbytes) dequantizes a whole weight to 16-bit per matmul
_DEQUANTIZING = ("nf4", "fp4")


def memory_result(spec: ModelSpec, wl: Workload, gpu: str | None = None, runtime: str = "torch",
                  weights: Any = None, gguf_path: str | None = None, closed_forms: bool = False) -> MemoryResult:
    """Estimate `wl` on `spec`; with a GPU name or size (or a runtime other than torch), the device view.
    `weights` (quant.native.Weights) stores the base weights quantized: their exact bytes replace the
    float weights, and compute stays in the workload's dtype. `closed_forms`: give each term its closed
    form (llmsize.memory.closed_form; one more replay, on symbols)."""
    kw: dict[str, Any] = {}
    if weights is not None and weights.quantized and wl.mode != "train":
        from llmsize.quant.native import weight_bytes

        nbytes, bits = weight_bytes(spec, weights)
        kw = dict(weights_bytes_override=nbytes, weight_bits=bits if weights.key.startswith(_DEQUANTIZING) else None)
    est = estimate(spec, wl, **kw)
    if closed_forms:
        from llmsize.memory.closed_form import with_closed_forms

        est = with_closed_forms(spec, wl, est, **kw)
    g = None
    if gpu is not None:
        from llmsize.catalog.hardware import parse_gpu

        g = parse_gpu(gpu)
    dev = None
    if g is not None or runtime != "torch":
        kvb = KV_DTYPE_BYTES[wl.kv_cache_dtype] if wl.kv_cache_dtype else wl.c_bytes
        seq = wl.seq_len + wl.new_tokens
        profile: dict[str, int] = {}
        if runtime == "vllm":  # the profile run `vllm serve` sizes for this GPU and max_model_len
            from llmsize.engines.vllm import batch_defaults

            tokens, seqs = batch_defaults(g, seq)
            profile = {"max_num_batched_tokens": tokens, "max_num_seqs": seqs}
        dev = device_estimate(est, runtime, g.usable if g is not None else None, spec=spec, batch=wl.batch,
                              seq_tokens=seq, kv_bytes=kvb, compute_bytes=wl.c_bytes, **profile,
                              kv_type=wl.kv_cache_dtype, gguf_path=gguf_path,
                              llamacpp_weights=weights.key if weights is not None else wl.weights_dtype)
    from llmsize.params import count  # cached per spec

    return MemoryResult(wl, est, dev, g, rules_of_thumb(est, wl.mode, count(spec).total), weights)


def rules_of_thumb(est: MemoryEstimate, mode: str, n_params: int) -> list[dict[str, Any]]:
    """The usual rules of thumb for this mode, with their error against the estimate's peak."""
    w = est.weights_bytes
    if mode == "train":
        rules = [("16 bytes/param (mixed-precision Adam, ZeRO)", 16 * n_params),
                 ("18 bytes/param (fp32 + 16-bit weights, grads, Adam)", 18 * n_params),
                 ("4 x model size (training)", 4 * w)]
    else:
        rules = [("weights x 1.2 (serving)", int(w * 1.2)), ("2 x model size (inference)", 2 * w)]
    return [{"rule": r, "bytes": b, "error": (b - est.peak_bytes) / est.peak_bytes, "source": "rajbhandari2020"}
            for r, b in rules]


def _term(t: Any) -> dict[str, Any]:
    out = {"name": t.name, "bytes": t.bytes, "category": t.category, "formula": t.formula, "source": t.source,
           "phase": t.phase}
    cf = getattr(t, "closed_form", None)
    if cf is not None:  # the replay's polynomial: symbols, the same with numbers, and the numbers
        out.update(closed_form=cf.symbolic, closed_form_numbers=cf.numbers, closed_form_symbols=dict(cf.values))
    return out


def _dev_dict(d: DeviceEstimate, gpu: Any) -> dict[str, Any]:
    return {"runtime": d.runtime, "total_bytes": d.total_bytes, "gpu": gpu.name if gpu else None,
            "gpu_memory_bytes": d.gpu_memory_bytes, "fits": d.fits, "headroom_bytes": d.headroom_bytes,
            "kv_cache_tokens": d.kv_cache_tokens, "max_sequences": d.max_sequences,
            "terms": [_term(t) for t in d.terms], "notes": list(d.notes)}


def _wl_dict(wl: Workload) -> dict[str, Any]:
    d = {k: getattr(wl, k) for k in wl.__dataclass_fields__}
    if wl.lora is not None:
        d["lora"] = {k: getattr(wl.lora, k) for k in wl.lora.__dataclass_fields__}
    return d


def result_dict(spec: ModelSpec, r: MemoryResult) -> dict[str, Any]:
    """A MemoryResult as `llmsize infer/train --json` prints it."""
    est = r.estimate
    return {"model": spec.name, "workload": _wl_dict(r.workload), "peak_bytes": est.peak_bytes,
            "peak_phase": est.peak_phase, "phases": dict(est.phases), "trainable_params": est.trainable_params,
            "weights_bytes": est.weights_bytes, "terms": [_term(t) for t in est.terms], "rules_of_thumb": r.rules,
            "device": None if r.device is None else _dev_dict(r.device, r.gpu),
            "weights": None if r.weights is None else {**r.weights.as_dict(), "bytes": est.weights_bytes}}


def memory_report(spec: ModelSpec, wl: Workload, gpu: str | None = None, runtime: str = "torch") -> dict[str, Any]:
    """What `llmsize infer/train --json` prints for `wl`."""
    return result_dict(spec, memory_result(spec, wl, gpu, runtime, closed_forms=True))


def infer_report(spec: ModelSpec, *, gpu: str | None = None, runtime: str = "torch", **options: Any) -> dict[str, Any]:
    """`llmsize infer --json`: options as infer_workload's."""
    return memory_report(spec, infer_workload(spec, runtime=runtime, **options), gpu, runtime)


def train_report(spec: ModelSpec, *, gpu: str | None = None, **options: Any) -> dict[str, Any]:
    """`llmsize train --json`: options as train_workload's."""
    return memory_report(spec, train_workload(spec=spec, **options), gpu, "torch")


__all__ = ["MemoryResult", "default_dtype", "infer_report", "infer_workload", "memory_report", "memory_result",
           "result_dict", "rules_of_thumb", "train_report", "train_workload"]
