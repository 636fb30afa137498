"""What a weights file holds, as read from its header: the common result of the safetensors and
GGUF readers (llmsize.adapters.safetensors / .gguf)."""
from __future__ import annotations

import math

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from llmsize.errors import LlmsizeError
from llmsize.spec import ModelSpec

# role of a stored tensor: the weight itself, or one of the side tensors a quantized weight carries
Part = Literal["weight", "scale", "zeros", "g_idx", "absmax", "quant_map", "quant_state", "other"]


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredTensor:
    """One tensor in a file. `shape` is in PyTorch order (outermost first; GGUF dims are reversed).

    `dtype` is the stored type (safetensors dtype such as BF16, I32, U8, F8_E4M3; GGUF: the ggml type
    such as Q4_K). `params` is the number of model parameters this tensor stands for (unpacked: a GPTQ
    qweight of int32 words holds 32/bits weights each); side tensors (scales, zeros, absmax, ...) have
    params 0. `format` names the weight format (bf16, gptq-int4, bnb-nf4, fp8-e4m3, mxfp4, Q4_K, ...)."""

    name: str
    dtype: str
    shape: tuple[int, ...]
    bytes: int
    offset: int = 0  # byte offset of the data from the start of its file
    file: str = ""
    params: int = 0
    format: str = ""
    part: Part = "weight"

    def __post_init__(self) -> None:
        if self.bytes < 0 or self.params < 0 or any(s < 0 for s in self.shape):
            raise LlmsizeError(f"tensor {self.name!r}: sizes must not be negative")

    @property
    def numel(self) -> int:
        return math.prod(self.shape)


@dataclass(frozen=True, slots=True, kw_only=True)
class Checkpoint:
    """A checkpoint (one file or a sharded folder) read from its headers, never its weights.

    params: logical parameters (unpacked, a duplicated tied head counted once, as PyTorch counts);
    stored_values: elements as stored (packed words count once, a duplicated head twice);
    bytes: tensor data bytes (headers and padding excluded); params_by_dtype: logical parameters per
    weight format; bytes_by_format: data bytes per weight format, side tensors included."""

    path: str
    format: Literal["safetensors", "gguf"]
    tensors: tuple[StoredTensor, ...]
    params: int
    stored_values: int
    bytes: int
    params_by_dtype: Mapping[str, int]
    bytes_by_format: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    metadata: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    notes: tuple[str, ...] = ()
    spec: ModelSpec | None = None
    quantization: str | None = None  # e.g. "gptq", "awq", "bitsandbytes-nf4", "fp8", "mxfp4", "Q4_K_M"
    file_bytes: int = 0  # size of the file(s) on disk, headers included

    def __post_init__(self) -> None:
        if self.params < 0 or self.bytes < 0 or self.stored_values < 0:
            raise LlmsizeError(f"{self.path}: counts must not be negative")
        object.__setattr__(self, "params_by_dtype", MappingProxyType(dict(self.params_by_dtype)))
        object.__setattr__(self, "bytes_by_format", MappingProxyType(dict(self.bytes_by_format)))
        object.__setattr__(self, "metadata", MappingProxyType(dict(self.metadata)))

    @property
    def bits_per_weight(self) -> float:
        """bpw = 8 · bytes / params (what llama.cpp prints as BPW)."""
        return 8 * self.bytes / self.params if self.params else 0.0

    def tensor(self, name: str) -> StoredTensor:
        for t in self.tensors:
            if t.name == name:
                return t
        raise LlmsizeError(f"{self.path}: no tensor named {name!r}")

    def as_dict(self, *, tensors: bool = True) -> dict[str, Any]:
        """A JSON-ready view (exact integers)."""
        d: dict[str, Any] = dict(path=self.path, format=self.format, quantization=self.quantization,
                                 params=self.params, stored_values=self.stored_values, bytes=self.bytes,
                                 file_bytes=self.file_bytes, bits_per_weight=round(self.bits_per_weight, 4),
                                 params_by_dtype=dict(self.params_by_dtype),
                                 bytes_by_format=dict(self.bytes_by_format), notes=list(self.notes),
                                 spec=self.spec.name if self.spec else None)
        if tensors:
            d["tensors"] = [dict(name=t.name, dtype=t.dtype, shape=list(t.shape), bytes=t.bytes, params=t.params,
                                 format=t.format, part=t.part, file=t.file, offset=t.offset) for t in self.tensors]
        return d


def summarize(tensors: list[StoredTensor] | tuple[StoredTensor, ...]) -> tuple[int, int, int, dict[str, int],
                                                                                dict[str, int]]:
    """(params, stored_values, bytes, params by format, bytes by format) of a tensor list."""
    params = stored = nbytes = 0
    by_p: dict[str, int] = {}
    by_b: dict[str, int] = {}
    for t in tensors:
        params += t.params
        stored += t.numel
        nbytes += t.bytes
        if t.params:
            by_p[t.format] = by_p.get(t.format, 0) + t.params
        by_b[t.format] = by_b.get(t.format, 0) + t.bytes
    return params, stored, nbytes, by_p, by_b
