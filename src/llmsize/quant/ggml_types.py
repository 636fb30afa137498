"""ggml tensor types: id, block size and bytes per block, exactly as ggml lays them out.

A ggml tensor is stored row by row; a row of `ne0` values is `ne0 / block` blocks of `block_bytes`
each, so a row's bytes are `block_bytes * ne0 / block` and `ne0` must be a multiple of the block.
The numbers below are the `sizeof(block_...)` static_asserts of ggml-common.h (and the element
sizes of the plain types), checked in the tests against the `gguf` package's table.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

from llmsize.errors import LlmsizeError, did_you_mean


@dataclass(frozen=True, slots=True)
class GgmlType:
    """One ggml type: `block` values take `block_bytes` bytes (plain types: block 1)."""

    id: int
    name: str
    block: int
    block_bytes: int
    layout: str  # what one block holds, from ggml-common.h

    def __post_init__(self) -> None:
        if self.block <= 0 or self.block_bytes <= 0:
            raise LlmsizeError(f"ggml type {self.name}: block and bytes must be positive")

    @property
    def quantized(self) -> bool:
        return self.block > 1

    @property
    def bits_per_weight(self) -> Fraction:
        """bpw = 8 · block_bytes / block (e.g. Q4_K: 8·144/256 = 4.5)."""
        return Fraction(8 * self.block_bytes, self.block)


_H = 2  # ggml_half
_QK_K = 256
# ASSUMES: QK_K = 256 (the default build; a QK_K=64 build changes the K-quant blocks and is not modelled).
_TYPES = (
    GgmlType(0, "F32", 1, 4, "float32"),
    GgmlType(1, "F16", 1, 2, "float16"),
    GgmlType(2, "Q4_0", 32, _H + 16, "d (f16) + 32 4-bit quants"),
    GgmlType(3, "Q4_1", 32, 2 * _H + 16, "d, m (f16) + 32 4-bit quants"),
    GgmlType(6, "Q5_0", 32, _H + 4 + 16, "d (f16) + 32 high bits + 32 4-bit quants"),
    GgmlType(7, "Q5_1", 32, 2 * _H + 4 + 16, "d, m (f16) + 32 high bits + 32 4-bit quants"),
    GgmlType(8, "Q8_0", 32, _H + 32, "d (f16) + 32 int8 quants"),
    GgmlType(9, "Q8_1", 32, 2 * _H + 32, "d, s (f16) + 32 int8 quants (activations only)"),
    GgmlType(10, "Q2_K", _QK_K, _QK_K // 16 + _QK_K // 4 + 2 * _H, "16 4-bit scale/min pairs + 2-bit quants + d, dmin"),
    GgmlType(11, "Q3_K", _QK_K, _QK_K // 8 + _QK_K // 4 + 12 + _H, "high-bit mask + 2-bit quants + 12 B scales + d"),
    GgmlType(12, "Q4_K", _QK_K, 2 * _H + 12 + _QK_K // 2, "d, dmin + 12 B 6-bit scales/mins + 4-bit quants"),
    GgmlType(13, "Q5_K", _QK_K, 2 * _H + 12 + _QK_K // 2 + _QK_K // 8, "d, dmin + 12 B scales + 4-bit quants + high bits"),
    GgmlType(14, "Q6_K", _QK_K, _QK_K // 2 + _QK_K // 4 + _QK_K // 16 + _H, "low 4 bits + high 2 bits + 16 int8 scales + d"),
    GgmlType(15, "Q8_K", _QK_K, 4 + _QK_K + 2 * (_QK_K // 16), "d (f32) + 256 int8 + 16 int16 sums (activations only)"),
    GgmlType(16, "IQ2_XXS", _QK_K, _H + 2 * (_QK_K // 8), "d + 32 uint16 grid/sign words"),
    GgmlType(17, "IQ2_XS", _QK_K, _H + 2 * (_QK_K // 8) + _QK_K // 32, "d + 32 uint16 + 8 B scales"),
    GgmlType(18, "IQ3_XXS", _QK_K, _H + 3 * (_QK_K // 8), "d + 96 B grid/signs"),
    GgmlType(19, "IQ1_S", _QK_K, _H + _QK_K // 8 + _QK_K // 16, "d + 32 B grid + 8 uint16 high bits"),
    GgmlType(20, "IQ4_NL", 32, _H + 16, "d (f16) + 32 4-bit non-linear quants"),
    GgmlType(21, "IQ3_S", _QK_K, _H + 13 * (_QK_K // 32) + _QK_K // 64, "d + 64 B qs + 8 B qh + 32 B signs + 4 B scales"),
    GgmlType(22, "IQ2_S", _QK_K, _H + _QK_K // 4 + _QK_K // 16, "d + 64 B qs + 8 B qh + 8 B scales"),
    GgmlType(23, "IQ4_XS", _QK_K, _H + 2 + _QK_K // 64 + _QK_K // 2, "d + high scales (u16) + 4 B low scales + 4-bit quants"),
    GgmlType(24, "I8", 1, 1, "int8"),
    GgmlType(25, "I16", 1, 2, "int16"),
    GgmlType(26, "I32", 1, 4, "int32"),
    GgmlType(27, "I64", 1, 8, "int64"),
    GgmlType(28, "F64", 1, 8, "float64"),
    GgmlType(29, "IQ1_M", _QK_K, _QK_K // 8 + _QK_K // 16 + _QK_K // 32, "32 B grid + 16 B high bits + 8 B scales (no d)"),
    GgmlType(30, "BF16", 1, 2, "bfloat16"),
    GgmlType(34, "TQ1_0", _QK_K, (_QK_K - 4 * _QK_K // 64) // 5 + _QK_K // 64 + _H, "ternary: 48 B base-3 + 4 B + d"),
    GgmlType(35, "TQ2_0", _QK_K, _QK_K // 4 + _H, "ternary: 64 B 2-bit + d"),
    GgmlType(39, "MXFP4", 32, 1 + 16, "e (E8M0 scale) + 32 FP4 (E2M1) values"),
    GgmlType(40, "NVFP4", 64, 64 // 16 + 32, "4 UE4M3 scales (one per 16 values) + 64 FP4 (E2M1) values"),
    GgmlType(41, "Q1_0", 128, _H + 128 // 8, "d (f16) + 128 sign bits"),
    GgmlType(42, "Q2_0", 64, _H + 64 // 4, "d (f16) + 64 2-bit quants"),
)
GGML_TYPES: dict[str, GgmlType] = {t.name: t for t in _TYPES}
GGML_BY_ID: dict[int, GgmlType] = {t.id: t for t in _TYPES}
# Ids ggml gave up (Q4_2/Q4_3 = 4, 5; the repacked Q4_0_4_4.. = 31-33 and IQ4_NL_4_4.. = 36-38): a file using
# them cannot be loaded by ggml any more, so they are reported as unknown with this hint.
_REMOVED = {4: "Q4_2", 5: "Q4_3", 31: "Q4_0_4_4", 32: "Q4_0_4_8", 33: "Q4_0_8_8", 36: "IQ4_NL_4_4",
            37: "IQ4_NL_4_8", 38: "IQ4_NL_8_8"}


def ggml_type(key: str | int | GgmlType) -> GgmlType:
    """Look a ggml type up by name (case-insensitive) or id; unknown -> LlmsizeError naming the known ones.

    Source: ggml-h"""
    if isinstance(key, GgmlType):
        return key
    if isinstance(key, int) and not isinstance(key, bool):
        if key in GGML_BY_ID:
            return GGML_BY_ID[key]
        extra = f" (it was {_REMOVED[key]}, removed from ggml)" if key in _REMOVED else ""
        known = ", ".join(f"{t.id}={t.name}" for t in _TYPES)
        raise LlmsizeError(f"unknown ggml type id {key}{extra}; known ids: {known}")
    name = str(key).strip().upper()
    if name in GGML_TYPES:
        return GGML_TYPES[name]
    raise did_you_mean(str(key), GGML_TYPES, what="ggml type")


def row_bytes(t: str | int | GgmlType, ncols: int) -> int:
    """Bytes of one row of `ncols` values (ggml_row_size).

    row = block_bytes · ncols / block,  ncols ≡ 0 (mod block)

    Source: ggml-common"""
    g = ggml_type(t)
    if ncols < 0:
        raise LlmsizeError(f"{g.name}: a row cannot have {ncols} values")
    if ncols % g.block:
        raise LlmsizeError(f"{g.name} stores blocks of {g.block} values; a row of {ncols} is not a multiple of it")
    return g.block_bytes * (ncols // g.block)


def tensor_bytes(t: str | int | GgmlType, ne: Sequence[int]) -> int:
    """Bytes of a contiguous tensor with ggml dims `ne` (ne[0] innermost), as ggml_nbytes.

    bytes = row(ne0) · ne1 · ne2 · ne3

    Source: ggml-common"""
    if not ne:
        return ggml_type(t).block_bytes  # a scalar is one element of a plain type
    rows = 1
    for n in ne[1:]:
        if n < 0:
            raise LlmsizeError(f"tensor dims must not be negative, got {tuple(ne)}")
        rows *= n
    return row_bytes(t, ne[0]) * rows
