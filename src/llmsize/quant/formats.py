"""The weight-format registry and `weight_plan(spec, format)`: exact bytes of every tensor.

Which tensors a format quantizes follows that format's real convention:
- bitsandbytes, GPTQ, AWQ, NVFP4, fp8 (llm-compressor, DeepSeek): the Linear layers inside the decoder
  blocks (experts and shared experts included); embeddings, lm_head, norms, biases and routers stay 16-bit;
- MXFP4 (gpt-oss): only the routed-expert weights; everything else stays bf16;
- GGUF presets: llama.cpp's per-tensor rules (llmsize.quant.gguf_presets).
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from llmsize.errors import LlmsizeError, did_you_mean
from llmsize.quant import layouts
from llmsize.quant.gguf_presets import FTYPES, gguf_plan
from llmsize.quant.weights import TensorQuant, WeightPlan
from llmsize.sources import SOURCES
from llmsize.spec import ModelSpec
from llmsize.tensors import Tensor, tensors


_FAMILIES = ("float", "bnb-int8", "bnb-4bit", "gptq", "awq", "fp8", "mxfp4", "nvfp4", "gguf")


@dataclass(frozen=True, slots=True, kw_only=True)
class Format:
    """A weight format: `family` picks the layout, `options` its parameters."""

    key: str
    family: str  # float, bnb-int8, bnb-4bit, gptq, awq, fp8, mxfp4, nvfp4, gguf
    label: str
    source: str
    options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.family not in _FAMILIES:
            raise LlmsizeError(f"format {self.key!r}: unknown family {self.family!r} (known: {', '.join(_FAMILIES)})")
        if self.source not in SOURCES:
            raise LlmsizeError(f"format {self.key!r}: unknown source key {self.source!r}")

    @property
    def nominal_bits(self) -> float:
        """Bits of one quantized value (before scales), for display and rough sorting."""
        o = self.options
        return {"float": 8 * layouts.FLOAT_BYTES.get(o.get("dtype", "bf16"), 2), "bnb-int8": 8, "bnb-4bit": 4,
                "gptq": o.get("bits", 4), "awq": o.get("bits", 4), "fp8": 8, "mxfp4": 4, "nvfp4": 4,
                "gguf": 0}.get(self.family, 16)


_FIXED: dict[str, Format] = {f.key: f for f in (
    Format(key="fp32", family="float", label="FP32", source="safetensors-format", options={"dtype": "fp32"}),
    Format(key="fp16", family="float", label="FP16", source="safetensors-format", options={"dtype": "fp16"}),
    Format(key="bf16", family="float", label="BF16", source="safetensors-format", options={"dtype": "bf16"}),
    Format(key="fp8", family="fp8", label="FP8 e4m3, per-channel scales (llm-compressor FP8_DYNAMIC)",
           source="fp8-llm-compressor", options={"scale": "channel"}),
    Format(key="fp8-tensor", family="fp8", label="FP8 e4m3, per-tensor scales + static input scale (FP8)",
           source="fp8-llm-compressor", options={"scale": "tensor", "input_scale": True}),
    Format(key="fp8-block", family="fp8", label="FP8 e4m3, 128x128 block scales (DeepSeek-V3)",
           source="deepseek-v3-fp8", options={"scale": "block"}),
    Format(key="int8", family="bnb-int8", label="bitsandbytes LLM.int8()", source="bnb-int8"),
    Format(key="nf4", family="bnb-4bit", label="bitsandbytes NF4", source="bnb-4bit",
           options={"quant_type": "nf4", "double_quant": False}),
    Format(key="nf4-dq", family="bnb-4bit", label="bitsandbytes NF4 + double quant (QLoRA)", source="qlora",
           options={"quant_type": "nf4", "double_quant": True}),
    Format(key="fp4", family="bnb-4bit", label="bitsandbytes FP4", source="bnb-4bit",
           options={"quant_type": "fp4", "double_quant": False}),
    Format(key="fp4-dq", family="bnb-4bit", label="bitsandbytes FP4 + double quant", source="bnb-4bit",
           options={"quant_type": "fp4", "double_quant": True}),
    Format(key="mxfp4", family="mxfp4", label="MXFP4 experts, rest bf16 (gpt-oss)", source="gpt-oss-mxfp4"),
    Format(key="nvfp4", family="nvfp4", label="NVFP4 (W4A4, ModelOpt)", source="nvfp4"),
)}
_ALIASES = {"float32": "fp32", "f32": "fp32", "float16": "fp16", "f16": "fp16", "half": "fp16", "bfloat16": "bf16",
            "fp8-e4m3": "fp8", "fp8-dynamic": "fp8", "fp8_dynamic": "fp8", "bnb-int8": "int8", "llm.int8": "int8",
            "bnb-nf4": "nf4", "bnb-nf4-dq": "nf4-dq", "qlora": "nf4-dq", "bnb-fp4": "fp4", "bnb-fp4-dq": "fp4-dq",
            "gptq": "gptq-int4-g128", "awq": "awq-int4-g128"}
_GPTQ = re.compile(r"^(gptq|awq)[-_](?:int|w)?([2348])(?:bit)?(?:[-_]?g(-?\d+))?(?P<noidx>[-_]no[-_]?g[-_]?idx)?$")
LISTED = ("bf16", "fp8", "fp8-block", "int8", "gptq-int8-g128", "gptq-int4-g128", "awq-int4-g128", "gptq-int3-g128",
          "nf4", "nf4-dq", "mxfp4", "nvfp4", "Q8_0", "Q6_K", "Q5_K_M", "Q4_K_M", "Q4_0", "IQ4_XS", "Q3_K_M",
          "Q2_K", "IQ2_XXS")


def get_format(name: str | Format) -> Format:
    """Parse a format name: fp32/fp16/bf16, fp8[-tensor|-block], int8, nf4[-dq], fp4[-dq],
    gptq-int{2,3,4,8}-g{N|-1}[-no-gidx], awq-int4-g{N}, mxfp4, nvfp4, or a llama.cpp preset (Q4_K_M,
    gguf-Q4_K_M). Unknown names raise LlmsizeError with suggestions."""
    if isinstance(name, Format):
        return name
    raw = name.strip()
    low = _ALIASES.get(raw.lower(), raw.lower())
    if low in _FIXED:
        return _FIXED[low]
    m = _GPTQ.match(low)
    if m:
        fam, bits = m.group(1), int(m.group(2))
        group = int(m.group(3)) if m.group(3) else 128
        key = f"{fam}-int{bits}-g{group}" + ("-no-gidx" if m.group("noidx") else "")
        opts: dict[str, Any] = {"bits": bits, "group": group}
        if fam == "gptq":
            opts["g_idx"] = not m.group("noidx")
        label = f"{fam.upper()} {bits}-bit, group {group if group > 0 else 'per-row'}"
        return Format(key=key, family=fam, label=label, source=fam, options=opts)
    g = re.sub(r"^gguf[-_:]", "", raw, flags=re.I).upper()
    g = {"Q3_K": "Q3_K_M", "Q4_K": "Q4_K_M", "Q5_K": "Q5_K_M"}.get(g, g)
    if g in FTYPES:
        return Format(key=g, family="gguf", label=f"GGUF {g} (llama.cpp)", source="llama-quant", options={"ftype": g})
    known = list(_FIXED) + ["gptq-int4-g128", "gptq-int3-g128", "gptq-int8-g128", "awq-int4-g128"] + list(FTYPES)
    raise did_you_mean(name, known, what="weight format")


# -- which tensors a format quantizes -------------------------------------------------------------------
# ASSUMES: routers (ffn_gate_inp) and shared-expert gates stay 16-bit in every non-GGUF format; transformers'
# bitsandbytes integration would quantize a Mixtral router's 8x4096 values, a negligible difference.
def _in_block_linear(t: Tensor) -> bool:
    """A Linear weight inside a decoder block (routers and shared-expert gates excluded)."""
    return t.layer is not None and t.linear and not t.role.startswith("ffn_gate_inp")


def _expert_linears(t: Tensor) -> Iterator[tuple[str, int, int]]:
    """A fused expert stack as the per-expert Linear weights checkpoints store: (part, out, in)."""
    n = t.experts
    if t.role == "ffn_gate_up_exps":
        _, two_f, d = t.shape
        for _ in range(n):
            yield "gate", two_f // 2, d
            yield "up", two_f // 2, d
    elif t.role in ("ffn_up_exps", "ffn_down_exps"):
        _, out, inp = t.shape
        for _ in range(n):
            yield "", out, inp


def _is_expert_weight(t: Tensor) -> bool:
    return t.experts > 1 and t.role in ("ffn_gate_up_exps", "ffn_up_exps", "ffn_down_exps")


def _linear_parts(fmt: Format, out: int, inp: int, base: str) -> layouts.Parts:
    o = fmt.options
    if fmt.family == "bnb-int8":
        return layouts.bnb_int8(out, inp)
    if fmt.family == "bnb-4bit":
        return layouts.bnb_4bit(out * inp, double_quant=o["double_quant"], quant_type=o["quant_type"],
                                shape=(out, inp), dtype={"bf16": "bfloat16", "fp16": "float16"}.get(base, "float32"))
    if fmt.family == "gptq":
        return layouts.gptq(out, inp, bits=o["bits"], group=o["group"], g_idx=o.get("g_idx", True))
    if fmt.family == "awq":
        return layouts.awq(out, inp, bits=o["bits"], group=o["group"])
    if fmt.family == "fp8":
        return layouts.fp8(out, inp, scale=o["scale"], input_scale=o.get("input_scale", False))
    if fmt.family == "mxfp4":
        return layouts.mxfp4(out, inp)
    if fmt.family == "nvfp4":
        return layouts.nvfp4(out, inp)
    raise LlmsizeError(f"format family {fmt.family!r} has no linear layout")


def _sum_parts(chunks: list[layouts.Parts]) -> tuple[tuple[str, int], ...]:
    acc: dict[str, int] = {}
    for parts in chunks:
        for k, v in parts:
            acc[k] = acc.get(k, 0) + v
    return tuple(acc.items())


def weight_plan(spec: ModelSpec, fmt: str | Format, *, base_dtype: str | None = None, **gguf_options: Any) -> WeightPlan:
    """Exact bytes of every weight tensor of `spec` stored in `fmt`.

    bytes = Σ_quantized Σ_parts(out, in) + Σ_kept numel · bytes(base dtype)

    Source: gptq"""
    f = get_format(fmt)
    if f.family == "gguf":
        return gguf_plan(spec, f.options["ftype"], **gguf_options)
    if gguf_options:
        raise LlmsizeError(f"options {', '.join(sorted(gguf_options))} apply to GGUF presets only")
    base = f.options["dtype"] if f.family == "float" else (base_dtype or "bf16")
    if base not in ("fp32", "fp16", "bf16"):
        raise LlmsizeError(f"the unquantized tensors are fp32, fp16 or bf16, not {base!r}")
    pick: Callable[[Tensor], bool]
    if f.family == "float":
        pick = lambda t: False  # noqa: E731
    elif f.family == "mxfp4":
        pick = _is_expert_weight
    else:
        pick = lambda t: _in_block_linear(t) or _is_expert_weight(t)  # noqa: E731
    out: list[TensorQuant] = []
    for t in tensors(spec):
        if pick(t):
            if t.experts > 1:
                chunks = [_linear_parts(f, o, i, base) for _, o, i in _expert_linears(t)]
                parts = _sum_parts(chunks)
            else:
                parts = _linear_parts(f, t.shape[0], t.shape[1], base)
            out.append(TensorQuant(name=t.name, role=t.role, shape=t.shape, params=t.numel, format=f.key,
                                   bytes=sum(b for _, b in parts), parts=parts, layer=t.layer))
        else:
            dt = "fp32" if t.buffer and f.family != "float" else base
            out.append(TensorQuant(name=t.name, role=t.role, shape=t.shape, params=t.numel, format=dt,
                                   bytes=layouts.float_bytes(t.numel, dt), layer=t.layer))
    notes = []
    if f.family == "bnb-4bit":
        notes.append("each 4-bit tensor also stores a quant_state JSON blob of ~100-150 bytes (its length "
                     "depends on the decimal text of a float); included as estimated")
    if spec.vision is not None:
        notes.append("the vision tower and projector are not in this plan (language-model weights only)")
    if f.family == "mxfp4" and not any(_is_expert_weight(t) for t in tensors(spec)):
        notes.append("MXFP4 as gpt-oss uses it quantizes only routed experts; this dense model stays bf16")
    return WeightPlan(model=spec.name, format=f.key, tensors=tuple(out), source=f.source, notes=tuple(notes))


def list_formats() -> tuple[Format, ...]:
    """The formats the planner compares by default."""
    return tuple(get_format(k) for k in LISTED)
