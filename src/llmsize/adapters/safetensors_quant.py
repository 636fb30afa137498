"""Quantized safetensors layouts: which stored tensors are packed weights and which are their side
tensors (GPTQ/AWQ scales and zeros, bitsandbytes quant_state, fp8/MXFP4/NVFP4 scales, compressed-tensors
packed integers), and how many logical parameters each packed weight holds.
"""
from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from llmsize.errors import LlmsizeError
from llmsize.quant.checkpoint import Part, StoredTensor

if TYPE_CHECKING:
    from llmsize.adapters.safetensors import _Raw

_QUANT_STATE_MAX = 65_536  # a bitsandbytes quant_state blob is a short JSON text


def _st(name: str, r: _Raw, *, params: int, fmt: str, part: Part) -> StoredTensor:
    return StoredTensor(name=name, dtype=r.dtype, shape=r.shape, bytes=r.nbytes, offset=r.offset, file=r.file,
                        params=params, format=fmt, part=part)


def _numel(shape: tuple[int, ...]) -> int:
    n = 1
    for s in shape:
        n *= s
    return n


def _cfg_bits(qcfg: dict[str, Any]) -> int | None:
    b = qcfg.get("bits") or qcfg.get("w_bit")
    if isinstance(b, int) and not isinstance(b, bool):
        if not 1 <= b <= 32:
            raise LlmsizeError(f"quantization_config: bits must be from 1 to 32, got {b}")
        return b
    for g in (qcfg.get("config_groups") or {}).values():  # compressed-tensors
        w = (g or {}).get("weights") or {}
        if isinstance(w.get("num_bits"), int) and not isinstance(w["num_bits"], bool):
            if not 1 <= w["num_bits"] <= 32:
                raise LlmsizeError(f"quantization_config: num_bits must be from 1 to 32, got {w['num_bits']}")
            return int(w["num_bits"])
    return None


def classify(raw: dict[str, _Raw], qcfg: dict[str, Any]) -> tuple[list[StoredTensor], str | None, list[str]]:
    """Turn raw entries into StoredTensors with logical params and formats.

    Source: gptq"""
    done: dict[str, StoredTensor] = {}
    notes: list[str] = []
    kinds: set[str] = set()
    method = str(qcfg.get("quant_method", "")).lower()
    cfg_bits = _cfg_bits(qcfg)

    def side(name: str, part: Part, fmt: str) -> None:
        if name in raw:
            done[name] = _st(name, raw[name], params=0, fmt=fmt, part=part)

    # weight name -> its bitsandbytes quant_state entry, found once (not by a scan per weight)
    states = {k.split(".quant_state.bitsandbytes__", 1)[0]: k for k in raw if ".quant_state.bitsandbytes__" in k}
    for name, r in raw.items():
        if name.endswith(".qweight") and r.dtype == "I32" and len(r.shape) == 2:
            p = name[: -len(".qweight")]
            scales = raw.get(p + ".scales")
            if scales is None or len(scales.shape) != 2:
                raise LlmsizeError(f"{r.path}: {name} (packed int32 weights) has no 2-D {p}.scales beside it")
            if not all(r.shape) or not all(scales.shape):
                raise LlmsizeError(f"{r.path}: {name} {list(r.shape)} or its scales {list(scales.shape)} has a zero "
                                   f"dimension; a quantized weight has at least one row and column")
            awq = method == "awq" or (method != "gptq" and p + ".g_idx" not in raw and
                                      r.shape[1] != scales.shape[1])
            if awq:
                n_in, n_out = r.shape[0], scales.shape[1]
                if r.shape[1] * 32 % n_out:
                    raise LlmsizeError(f"{r.path}: {name}: AWQ packing {r.shape} does not fit {n_out} outputs")
                bits = r.shape[1] * 32 // n_out
                fmt = f"awq-int{bits}"
            else:
                n_out = r.shape[1]
                g = raw.get(p + ".g_idx")
                if g is not None and g.shape and g.shape[0]:
                    n_in = g.shape[0]
                    if r.shape[0] * 32 % n_in:
                        raise LlmsizeError(f"{r.path}: {name}: {r.shape[0]} packed rows do not fit g_idx of {n_in}")
                    bits = r.shape[0] * 32 // n_in
                else:
                    bits = cfg_bits or 4
                    if cfg_bits is None:
                        notes.append("GPTQ weights without g_idx or quantization_config: assumed 4 bits")
                    n_in = r.shape[0] * 32 // bits
                fmt = f"gptq-int{bits}"
            kinds.add("awq" if awq else "gptq")
            done[name] = _st(name, r, params=n_in * n_out, fmt=fmt, part="weight")
            side(p + ".qzeros", "zeros", fmt)
            side(p + ".scales", "scale", fmt)
            side(p + ".g_idx", "g_idx", fmt)
        elif name.endswith(".weight") and name in states:
            qs = states[name]
            qtype = qs.rsplit("__", 1)[1]
            nested = name + ".nested_absmax" in raw
            fmt = f"bnb-{qtype}" + ("-dq" if nested else "")
            state = _quant_state(raw[qs])
            shape = state.get("shape")
            params = _numel(tuple(shape)) if isinstance(shape, list) and all(isinstance(s, int) for s in shape) \
                else 2 * r.nbytes
            kinds.add(f"bitsandbytes-{qtype}")
            done[name] = _st(name, r, params=params, fmt=fmt, part="weight")
            side(name + ".absmax", "absmax", fmt)
            side(name + ".nested_absmax", "absmax", fmt)
            side(name + ".quant_map", "quant_map", fmt)
            side(name + ".nested_quant_map", "quant_map", fmt)
            done[qs] = _st(qs, raw[qs], params=0, fmt=fmt, part="quant_state")
        elif name.endswith(".weight") and r.dtype == "I8" and name[: -len("weight")] + "SCB" in raw:
            p = name[: -len("weight")]
            kinds.add("bitsandbytes-int8")
            done[name] = _st(name, r, params=_numel(r.shape), fmt="bnb-int8", part="weight")
            side(p + "SCB", "scale", "bnb-int8")
            side(p + "weight_format", "other", "bnb-int8")
        elif name.endswith(".weight") and r.dtype in ("F8_E4M3", "F8_E5M2"):
            fmt = "fp8-" + r.dtype[3:].lower()
            kinds.add("fp8")
            done[name] = _st(name, r, params=_numel(r.shape), fmt=fmt, part="weight")
            for s in ("_scale", "_scale_inv"):
                side(name + s, "scale", fmt)
            side(name[: -len("weight")] + "input_scale", "scale", fmt)
        elif name.endswith("_blocks") and r.dtype == "U8" and name[: -len("_blocks")] + "_scales" in raw:
            # MXFP4: [..., groups, 16] bytes of packed pairs; 32 values per 16 bytes + one E8M0 scale byte
            kinds.add("mxfp4")
            done[name] = _st(name, r, params=2 * _numel(r.shape), fmt="mxfp4", part="weight")
            side(name[: -len("_blocks")] + "_scales", "scale", "mxfp4")
        elif (name.endswith(".weight") and r.dtype == "U8" and raw.get(name + "_scale") is not None and
              raw[name + "_scale"].dtype == "F8_E4M3"):
            kinds.add("nvfp4")
            done[name] = _st(name, r, params=2 * _numel(r.shape), fmt="nvfp4", part="weight")
            side(name + "_scale", "scale", "nvfp4")
            side(name + "_scale_2", "scale", "nvfp4")
            side(name[: -len("weight")] + "input_scale", "scale", "nvfp4")
        elif name.endswith(".weight_packed") and r.dtype == "I32" and len(r.shape) == 2:
            p = name[: -len(".weight_packed")]
            bits = cfg_bits or 4
            if cfg_bits is None:
                notes.append("compressed-tensors packed weights without num_bits in config: assumed 4 bits")
            fmt = f"int{bits}-packed"
            kinds.add("compressed-tensors")
            done[name] = _st(name, r, params=r.shape[0] * r.shape[1] * 32 // bits, fmt=fmt, part="weight")
            for s, part in (("weight_scale", "scale"), ("weight_zero_point", "zeros"), ("weight_g_idx", "g_idx"),
                            ("weight_shape", "other")):
                side(f"{p}.{s}", part, fmt)  # type: ignore[arg-type]
    tensors = []
    for name, r in raw.items():
        if name in done:
            tensors.append(done[name])
        else:
            tensors.append(_st(name, r, params=_numel(r.shape), fmt=r.dtype.lower(), part="weight"))
    quant = method or (sorted(kinds)[0] if len(kinds) == 1 else ("+".join(sorted(kinds)) if kinds else None))
    if kinds:
        q = sum(t.params for t in tensors if t.format in {x.format for x in done.values()})
        notes.append(f"quantized checkpoint ({', '.join(sorted(kinds))}): {q:,} parameters stored packed; "
                     f"params are reported unpacked")
    return tensors, quant or None, notes


def _quant_state(r: _Raw) -> dict[str, Any]:
    """The JSON of a bitsandbytes quant_state blob (a few hundred bytes of tensor data)."""
    if r.dtype != "U8" or r.nbytes > _QUANT_STATE_MAX:
        return {}
    try:
        with open(r.path, "rb") as f:
            f.seek(r.offset)
            blob = f.read(r.nbytes)
        d = json.loads(blob.decode("utf-8"))
        return d if isinstance(d, dict) else {}
    except (OSError, ValueError, RecursionError):  # not JSON, too deep, a 5,000-digit number: no shape
        return {}


