"""The weights as the checkpoint stores them: the default weight format of every command.

Where the bytes come from, most exact first:
1. the checkpoint's own headers (a safetensors folder or repo, a GGUF file): their exact tensor bytes;
2. config.json's `quantization_config` (fp8 block/tensor/channel, MXFP4, GPTQ, AWQ, bitsandbytes,
   compressed-tensors): the format's exact layout over the model's tensors (llmsize.quant.formats);
3. config.json's dtype (`torch_dtype` / `dtype`), else bf16.
`--weights FORMAT` overrides all of them, and the output says which one was used.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from llmsize.errors import LlmsizeError
from llmsize.quant.formats import get_format, weight_plan

_FLOAT = {"bfloat16": "bf16", "float16": "fp16", "float32": "fp32", "bf16": "bf16", "fp16": "fp16", "fp32": "fp32"}


@dataclass(frozen=True, slots=True, kw_only=True)
class Weights:
    """The weight format a command sizes: `key` (a format name every command accepts), where it came
    from, and exact stored bytes when known before planning (from file headers)."""

    key: str
    origin: str  # "--weights", "safetensors headers", "GGUF header", "quantization_config", "config dtype", "default"
    file_bytes: int | None = None
    note: str = ""

    @property
    def quantized(self) -> bool:
        return self.key not in ("bf16", "fp16", "fp32")

    def as_dict(self) -> dict[str, Any]:
        return dict(format=self.key, origin=self.origin, file_bytes=self.file_bytes, note=self.note or None)


def float_dtype(spec_dtype: str | None) -> str:
    """bf16 / fp16 / fp32 from a config dtype string (torch.bfloat16, float16, ...); bf16 when absent."""
    d = (spec_dtype or "bf16").replace("torch.", "").lower()
    return _FLOAT.get(d, "bf16")


def quant_config_format(q: Any) -> tuple[str | None, str]:
    """(format key, note) for a config.json `quantization_config`; (None, why) when it names none llmsize
    lays out.

    Source: hf-quantizers"""
    if not isinstance(q, dict):
        return None, "quantization_config is not an object"
    method = str(q.get("quant_method", "")).lower()
    if method == "mxfp4":
        return "mxfp4", ""
    if method in ("fp8", "fbgemm_fp8"):
        return ("fp8-block" if q.get("weight_block_size") else "fp8"), ""
    if method in ("gptq", "awq"):
        bits = q.get("bits", q.get("w_bit", 4))
        group = q.get("group_size", q.get("q_group_size", 128))
        if not isinstance(bits, int) or not isinstance(group, int):
            return None, f"{method}: bits and group_size must be integers"
        key = f"{method}-int{bits}-g{group}"
        if method == "gptq" and q.get("desc_act") is False:
            key += "-no-gidx"
        return key, ""
    if method == "bitsandbytes":
        if q.get("load_in_8bit"):
            return "int8", ""
        if q.get("load_in_4bit"):
            kind = str(q.get("bnb_4bit_quant_type", "fp4")).lower()
            return kind + ("-dq" if q.get("bnb_4bit_use_double_quant") else ""), ""
        return None, "bitsandbytes config loads neither 4-bit nor 8-bit"
    if method == "compressed-tensors":
        groups = q.get("config_groups")
        w = next(iter(groups.values()), {}).get("weights") if isinstance(groups, dict) and groups else None
        if isinstance(w, dict):
            bits, typ, strat = w.get("num_bits"), w.get("type"), w.get("strategy")
            if bits == 8 and typ == "float":
                return {"block": "fp8-block", "tensor": "fp8-tensor"}.get(str(strat), "fp8"), ""
            if bits == 4 and typ == "float" and w.get("group_size") == 16:
                return "nvfp4", ""
            if bits in (4, 8) and typ == "int" and isinstance(w.get("group_size"), int):
                return (f"gptq-int{bits}-g{w['group_size']}-no-gidx",
                        "compressed-tensors packed integers sized as GPTQ without g_idx (same packing and scales)")
        return None, "compressed-tensors scheme not recognised"
    return None, f"quant_method {method!r} is not one llmsize lays out"


def native_weights(loaded: Any) -> Weights:
    """The checkpoint's own weight format for a `llmsize.load.Loaded`."""
    ck = loaded.checkpoint
    if ck is not None:
        origin = "GGUF header" if ck.format == "gguf" else "safetensors headers"
        key = ck.quantization or _single_float(ck) or float_dtype(loaded.spec.dtype)
        try:
            key = get_format(key).key
        except LlmsizeError:
            pass  # a mixed or unnamed layout: its exact bytes still apply
        return Weights(key=key, origin=origin, file_bytes=ck.bytes)
    cfg = loaded.config or {}
    if "quantization_config" in cfg:
        key, why = quant_config_format(cfg["quantization_config"])
        if key is not None:
            return Weights(key=get_format(key).key, origin="quantization_config", note=why)
        return Weights(key=float_dtype(loaded.spec.dtype), origin="config dtype",
                       note=f"quantization_config ignored: {why}; sized as {float_dtype(loaded.spec.dtype)}")
    if loaded.spec.dtype:
        return Weights(key=float_dtype(loaded.spec.dtype), origin="config dtype")
    return Weights(key="bf16", origin="default")


def _single_float(ck: Any) -> str | None:
    fmts = {k.lower() for k in ck.bytes_by_format}
    floats = {_FLOAT.get(f, f) for f in fmts}
    return next(iter(floats)) if len(floats) == 1 and next(iter(floats)) in ("bf16", "fp16", "fp32") else None


def choose_weights(loaded: Any, given: str | None) -> Weights:
    """`--weights` when given (any format name `quant` knows), else the checkpoint's own."""
    if given is not None:
        return Weights(key=get_format(given).key, origin="--weights")
    return native_weights(loaded)


def weight_bytes(spec: Any, w: Weights) -> tuple[int, float]:
    """(stored bytes, bits per weight) of `spec` in `w`: the file's exact bytes where read from one."""
    if w.file_bytes is not None:
        from llmsize.params import count

        return w.file_bytes, 8 * w.file_bytes / max(1, count(spec).total)
    plan = weight_plan(spec, w.key)
    return plan.bytes, float(plan.bits_per_weight)
