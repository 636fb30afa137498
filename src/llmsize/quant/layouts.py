"""Exact stored bytes of one linear weight [out, in] in each non-GGUF format, part by part.

Each function returns ((part, bytes), ...) in the order the format's checkpoints store them, so
the sum is the tensor's exact size on disk and in GPU memory (bitsandbytes' quant_state JSON blob
excepted: it is CPU-side metadata whose length depends on a float's decimal text; see bnb_4bit).
"""
from __future__ import annotations

import json
import math

from llmsize.errors import LlmsizeError

Parts = tuple[tuple[str, int], ...]
FLOAT_BYTES = {"fp32": 4, "f32": 4, "float32": 4, "fp16": 2, "f16": 2, "float16": 2, "bf16": 2, "bfloat16": 2,
               "fp8": 1, "fp8-e4m3": 1, "fp8-e5m2": 1}


def _check(out: int, inp: int) -> None:
    if out <= 0 or inp <= 0:
        raise LlmsizeError(f"a weight needs positive dimensions, got [{out}, {inp}]")


def float_bytes(numel: int, dtype: str) -> int:
    """bytes = numel · element size (fp32 4, fp16/bf16 2, fp8 1).

    Source: safetensors-format"""
    if dtype not in FLOAT_BYTES:
        raise LlmsizeError(f"unknown float dtype {dtype!r} (known: fp32, fp16, bf16, fp8)")
    return numel * FLOAT_BYTES[dtype]


def bnb_int8(out: int, inp: int) -> Parts:
    """LLM.int8(): int8 weight, one fp32 absmax scale per output row (SCB), a 1-byte weight_format.

    bytes = out·in + 4·out + 1

    Source: bnb-int8"""
    _check(out, inp)
    return (("weight", out * inp), ("SCB", 4 * out), ("weight_format", 1))


def bnb_4bit(numel: int, *, double_quant: bool, blocksize: int = 64, nested_blocksize: int = 256,
             shape: tuple[int, ...] | None = None, dtype: str = "bfloat16", quant_type: str = "nf4") -> Parts:
    """bitsandbytes 4-bit (nf4/fp4) as Params4bit stores it.

    packed = ceil(n/2) bytes; blocks = ceil(n/64)
    no double quant: absmax fp32 = 4·blocks
    double quant:    absmax uint8 = blocks, nested_absmax fp32 = 4·ceil(blocks/256), nested_quant_map = 256·4
    quant_map = 16·4; quant_state = JSON text of the non-tensor fields

    Source: bnb-4bit"""
    if numel <= 0:
        raise LlmsizeError("a 4-bit weight needs at least one value")
    if quant_type not in ("nf4", "fp4"):
        raise LlmsizeError(f"bitsandbytes 4-bit quant_type must be nf4 or fp4, got {quant_type!r}")
    blocks = math.ceil(numel / blocksize)
    parts: list[tuple[str, int]] = [("weight", (numel + 1) // 2)]
    if double_quant:
        parts += [("absmax", blocks), ("nested_absmax", 4 * math.ceil(blocks / nested_blocksize)),
                  ("nested_quant_map", 256 * 4)]
    else:
        parts.append(("absmax", 4 * blocks))
    parts.append(("quant_map", 16 * 4))
    parts.append((f"quant_state.bitsandbytes__{quant_type}",
                  quant_state_bytes(shape or (numel,), double_quant=double_quant, blocksize=blocksize,
                                    dtype=dtype, quant_type=quant_type)))
    return tuple(parts)


# ASSUMES: the double-quant offset (a float32 mean of absmax, written with Python's repr) takes 20 characters,
# e.g. 0.021848516538739204; real files differ from this by a few bytes per tensor, nothing else is estimated.
_OFFSET_TEXT = "0.021848516538739204"


def quant_state_bytes(shape: tuple[int, ...], *, double_quant: bool, blocksize: int = 64, dtype: str = "bfloat16",
                      quant_type: str = "nf4") -> int:
    """Length of the JSON blob QuantState.as_dict(packed=True) writes (pack_dict_to_tensor).

    Source: bnb-4bit"""
    d: dict[str, object] = {"quant_type": quant_type, "blocksize": blocksize, "dtype": dtype, "shape": list(shape)}
    text = json.dumps(d)
    if double_quant:
        d.update(nested_blocksize=256, nested_dtype="float32", nested_offset=0.0)
        text = json.dumps(d).replace("0.0}", _OFFSET_TEXT + "}")
    return len(text.encode("utf-8"))


def _groups(inp: int, group: int, what: str) -> int:
    if group == -1:
        return 1
    if group <= 0:
        raise LlmsizeError(f"{what}: group size must be positive or -1 (one group per row), got {group}")
    if inp % group:
        raise LlmsizeError(f"{what}: group size {group} does not divide the input dimension {inp}")
    return inp // group


def _packed(n: int, bits: int, what: str, dim: str) -> int:
    if bits not in (2, 3, 4, 8):
        raise LlmsizeError(f"{what}: bits must be 2, 3, 4 or 8, got {bits}")
    if n * bits % 32:
        raise LlmsizeError(f"{what}: {dim} {n} times {bits} bits is not a whole number of int32 words")
    return n * bits // 32


def gptq(out: int, inp: int, *, bits: int = 4, group: int = 128, g_idx: bool = True) -> Parts:
    """GPTQ (AutoGPTQ / GPTQModel 'gptq' format): weights packed along the input dimension.

    qweight int32 [in·bits/32, out]; qzeros int32 [G, out·bits/32]; scales fp16 [G, out]; g_idx int32 [in]
    with G = in / group (1 for group -1)

    Source: gptq"""
    _check(out, inp)
    g = _groups(inp, group, "GPTQ")
    parts = [("qweight", 4 * _packed(inp, bits, "GPTQ", "input dimension") * out),
             ("qzeros", 4 * g * _packed(out, bits, "GPTQ", "output dimension")), ("scales", 2 * g * out)]
    if g_idx:
        parts.append(("g_idx", 4 * inp))
    return tuple(parts)


def awq(out: int, inp: int, *, bits: int = 4, group: int = 128) -> Parts:
    """AWQ (AutoAWQ GEMM): weights packed along the output dimension.

    qweight int32 [in, out·bits/32]; qzeros int32 [G, out·bits/32]; scales fp16 [G, out]; G = in / group

    Source: awq"""
    _check(out, inp)
    if bits != 4:
        raise LlmsizeError(f"AWQ checkpoints are 4-bit; got {bits} bits")
    g = _groups(inp, group, "AWQ")
    words = _packed(out, bits, "AWQ", "output dimension")
    return (("qweight", 4 * inp * words), ("qzeros", 4 * g * words), ("scales", 2 * g * out))


def fp8(out: int, inp: int, *, scale: str = "channel", block: tuple[int, int] = (128, 128), scale_bytes: int | None = None,
        input_scale: bool = False) -> Parts:
    """fp8 (e4m3/e5m2) weight with its scales.

    weight = out·in; scale: tensor -> 1 value, channel -> out values, block -> ceil(out/b0)·ceil(in/b1)
    (DeepSeek-V3 weight_scale_inv, fp32); static activation scale: one fp32 input_scale

    Source: fp8-llm-compressor"""
    _check(out, inp)
    if scale == "tensor":
        parts = [("weight", out * inp), ("weight_scale", scale_bytes or 4)]
    elif scale == "channel":
        parts = [("weight", out * inp), ("weight_scale", out * (scale_bytes or 2))]
    elif scale == "block":
        b0, b1 = block
        if b0 <= 0 or b1 <= 0:
            raise LlmsizeError(f"fp8 block size must be positive, got {block}")
        parts = [("weight", out * inp), ("weight_scale_inv", math.ceil(out / b0) * math.ceil(inp / b1) * (scale_bytes or 4))]
    else:
        raise LlmsizeError(f"fp8 scale must be tensor, channel or block, got {scale!r}")
    if input_scale:
        parts.append(("input_scale", 4))
    return tuple(parts)


def mxfp4(out: int, inp: int) -> Parts:
    """MXFP4 (OCP MX): 32 E2M1 values share one E8M0 scale byte: 17 bytes per 32 values.

    blocks = out·in/2 bytes; scales = out·in/32 bytes

    Source: ocp-mx"""
    _check(out, inp)
    if inp % 32:
        raise LlmsizeError(f"MXFP4 needs the input dimension to be a multiple of 32, got {inp}")
    return (("blocks", out * inp // 2), ("scales", out * inp // 32))


def nvfp4(out: int, inp: int, *, input_scale: bool = True) -> Parts:
    """NVFP4: 16 E2M1 values share one FP8 E4M3 scale, plus one FP32 per-tensor scale.

    weight = out·in/2; weight_scale = out·in/16; weight_scale_2 = 4; input_scale = 4 (W4A4)

    Source: nvfp4"""
    _check(out, inp)
    if inp % 16:
        raise LlmsizeError(f"NVFP4 needs the input dimension to be a multiple of 16, got {inp}")
    parts = [("weight", out * inp // 2), ("weight_scale", out * inp // 16), ("weight_scale_2", 4)]
    if input_scale:
        parts.append(("input_scale", 4))
    return tuple(parts)
