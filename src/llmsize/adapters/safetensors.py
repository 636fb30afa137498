"""Read safetensors headers (one file or a sharded folder) without touching the weights.

A safetensors file is: 8 bytes little-endian header length N, N bytes of JSON mapping each tensor
name to {dtype, shape, data_offsets: [begin, end]} (offsets relative to the data that follows the
header) plus an optional "__metadata__" object of strings. Only the header is read, except the few
hundred bytes of a bitsandbytes 4-bit `quant_state` blob, which holds the weight's original shape.
Quantized checkpoints (GPTQ, AWQ, bitsandbytes, fp8, MXFP4, NVFP4, compressed-tensors packed
integers) are recognised by their side tensors, and each weight reports its unpacked parameter count.
"""
from __future__ import annotations

import json
import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llmsize import bounds
from llmsize.errors import LlmsizeError
from llmsize.quant.checkpoint import Checkpoint, Part, StoredTensor, summarize
from llmsize.spec import ModelSpec

# bits per element of each safetensors dtype
DTYPE_BITS: dict[str, int] = {
    "BOOL": 8, "U8": 8, "I8": 8, "F8_E5M2": 8, "F8_E4M3": 8, "F8_E8M0": 8, "I16": 16, "U16": 16, "F16": 16,
    "BF16": 16, "I32": 32, "U32": 32, "F32": 32, "F64": 64, "I64": 64, "U64": 64, "C64": 64, "F4": 4,
    "F6_E2M3": 6, "F6_E3M2": 6,
}
MAX_HEADER = 100_000_000  # safetensors itself refuses larger headers
_QUANT_STATE_MAX = 65_536  # a bitsandbytes quant_state blob is a short JSON text


@dataclass(frozen=True, slots=True)
class _Raw:
    dtype: str
    shape: tuple[int, ...]
    nbytes: int
    offset: int  # from the start of the file
    file: str
    path: Path


def read_header(path: str | os.PathLike[str]) -> tuple[dict[str, _Raw], dict[str, str], int]:
    """Parse one file's header: ({name: raw entry}, __metadata__, file size). One-line errors for a
    truncated file, a header length past the end, malformed JSON or out-of-range offsets.

    Source: safetensors-format"""
    p = Path(path)
    try:
        size = p.stat().st_size
        with open(p, "rb") as f:
            head = f.read(8)
            if len(head) < 8:
                raise LlmsizeError(f"{p}: truncated safetensors file ({size} bytes; the 8-byte header length "
                                   f"is missing)")
            (n,) = struct.unpack("<Q", head)
            if n > size - 8:
                raise LlmsizeError(f"{p}: header length {n:,} exceeds the file size ({size:,} bytes): not a "
                                   f"safetensors file, or truncated")
            if n > MAX_HEADER:
                raise LlmsizeError(f"{p}: header length {n:,} is over safetensors' limit of {MAX_HEADER:,} bytes")
            raw = f.read(n)
    except OSError as e:
        raise LlmsizeError(f"{p}: cannot read ({e.__class__.__name__}: {e.strerror or e})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise LlmsizeError(f"{p}: malformed safetensors header (not UTF-8 text)") from None
    header = bounds.loads(text, f"{p}: malformed safetensors header JSON", unique_keys=True)
    if not isinstance(header, dict):
        raise LlmsizeError(f"{p}: malformed safetensors header (a JSON object is expected)")
    data_start, data_len = 8 + n, size - 8 - n
    meta = header.pop("__metadata__", None) or {}
    if not isinstance(meta, dict):
        raise LlmsizeError(f"{p}: __metadata__ must be a JSON object of strings")
    if len(header) > bounds.MAX_TENSORS:
        raise LlmsizeError(f"{p}: {len(header):,} tensors is over {bounds.MAX_TENSORS:,} (llmsize's tensors bound)")
    out: dict[str, _Raw] = {}
    for name, e in header.items():
        out[name] = _entry(p, name, e, data_start, data_len)
    return out, {str(k): str(v) for k, v in meta.items()}, size


def _entry(p: Path, name: str, e: Any, data_start: int, data_len: int) -> _Raw:
    if not isinstance(e, dict) or not {"dtype", "shape", "data_offsets"} <= set(e):
        raise LlmsizeError(f"{p}: tensor {name!r} lacks dtype, shape or data_offsets")
    dtype, shape, offs = e["dtype"], e["shape"], e["data_offsets"]
    if not isinstance(dtype, str) or dtype not in DTYPE_BITS:
        raise LlmsizeError(f"{p}: tensor {name!r} has unknown dtype {dtype!r:.40} (known: {', '.join(DTYPE_BITS)})")
    if not isinstance(shape, list) or len(shape) > bounds.bound("dims") or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0
                                              for s in shape):
        raise LlmsizeError(f"{p}: tensor {name!r} has a malformed shape {shape!r:.80} (a list of at most "
                           f"{bounds.bound('dims')} non-negative integers)")
    if (not isinstance(offs, list) or len(offs) != 2 or
            not all(isinstance(o, int) and not isinstance(o, bool) for o in offs)):
        raise LlmsizeError(f"{p}: tensor {name!r} has malformed data_offsets {offs!r:.80}")
    begin, end = offs
    if not 0 <= begin <= end <= data_len:
        raise LlmsizeError(f"{p}: tensor {name!r} data offsets [{begin}, {end}] are out of range (the data "
                           f"section has {data_len:,} bytes; truncated file?)")
    numel = 1
    for s in shape:
        numel *= s
    # bytes = ceil(numel · bits / 8)
    want = (numel * DTYPE_BITS[dtype] + 7) // 8
    if end - begin != want:
        raise LlmsizeError(f"{p}: tensor {name!r} spans {end - begin:,} bytes but {dtype}{shape} needs {want:,}")
    return _Raw(dtype=dtype, shape=tuple(shape), nbytes=end - begin, offset=data_start + begin, file=p.name, path=p)


def _files(path: Path) -> tuple[list[Path], Path, dict[str, str] | None]:
    """The shard files to read, the model folder, and the index's weight map (if sharded)."""
    if path.is_dir():
        folder = path
        index = folder / "model.safetensors.index.json"
        if not index.exists():
            found = sorted(folder.glob("*.safetensors.index.json"))
            index = found[0] if len(found) == 1 else index
    elif path.name.endswith(".index.json"):
        folder, index = path.parent, path
    else:
        return [path], path.parent, None
    if index.exists():
        try:
            idx = bounds.loads(index.read_text(encoding="utf-8"), str(index))
            wm = idx["weight_map"]
            if not isinstance(wm, dict):
                raise TypeError
        except (OSError, UnicodeDecodeError, LlmsizeError, KeyError, TypeError):
            raise LlmsizeError(f"{index}: not a valid safetensors index (a JSON object with a weight_map)") from None
        shards = sorted(set(map(str, wm.values())))
        missing = [s for s in shards if not (folder / s).exists()]
        if missing:
            raise LlmsizeError(f"{index}: shard file(s) missing: {', '.join(missing[:5])}")
        return [folder / s for s in shards], folder, {str(k): str(v) for k, v in wm.items()}
    files = sorted(folder.glob("*.safetensors"))
    if not files:
        raise LlmsizeError(f"{folder}: no .safetensors files")
    return files, folder, None


def _config(folder: Path) -> tuple[dict[str, Any] | None, list[str]]:
    cfg_path = folder / "config.json"
    if not cfg_path.exists():
        return None, []
    try:
        cfg = bounds.loads(cfg_path.read_text(encoding="utf-8"), "config.json")
    except (OSError, UnicodeDecodeError, LlmsizeError) as e:
        return None, [f"config.json beside the weights could not be read ({e}); ignored"]
    return (cfg if isinstance(cfg, dict) else None), []


def read_safetensors(path: str | os.PathLike[str]) -> Checkpoint:
    """Read a .safetensors file, a sharded folder (model.safetensors.index.json) or an index file.

    Per tensor: name, dtype, shape, bytes (from data_offsets), logical parameters and weight format;
    totals per format; notes on a duplicated tied head and on quantization.

    Source: safetensors-format"""
    p = Path(path).expanduser()
    if not p.exists():
        raise LlmsizeError(f"no such file or folder: {str(path)!r}")
    files, folder, weight_map = _files(p)
    raw: dict[str, _Raw] = {}
    meta: dict[str, Any] = {}
    total_size = 0
    for f in files:
        entries, m, size = read_header(f)
        total_size += size
        for k, v in m.items():
            meta.setdefault(k, v)
        for name, e in entries.items():
            if name in raw:
                raise LlmsizeError(f"{f}: tensor {name!r} is also in {raw[name].file}")
            raw[name] = e
    if weight_map is not None:
        for name, shard in weight_map.items():
            if name not in raw:
                raise LlmsizeError(f"{folder}: the index lists {name!r} in {shard}, but that shard lacks it")
    cfg, notes = _config(folder)
    qcfg = (cfg or {}).get("quantization_config") or {}
    try:
        tensors, quant, qnotes = _classify(raw, qcfg if isinstance(qcfg, dict) else {})
    except (TypeError, ValueError, ArithmeticError, AttributeError, KeyError) as e:
        if isinstance(e, LlmsizeError):
            raise
        raise LlmsizeError(f"{p}: quantized tensors or quantization_config malformed ({type(e).__name__}: "
                           f"{str(e)[:100]})") from None
    notes += qnotes
    spec: ModelSpec | None = None
    if cfg is not None:
        from llmsize.adapters.hf_config import spec_from_config

        try:
            spec = spec_from_config(cfg, _name(cfg, folder), warn=notes.append)
        except LlmsizeError as e:
            notes.append(f"config.json beside the weights was not usable for a model spec: {e}")
        if qcfg:
            meta["quantization_config"] = qcfg
    tensors, tie_note = _tied_head(tensors, cfg)
    if tie_note:
        notes.append(tie_note)
    params, stored, nbytes, by_p, by_b = summarize(tensors)
    if spec is not None:
        from llmsize.params import count

        want = count(spec)
        if want.total != params and want.total_with_buffers != params:
            notes.append(f"the file holds {params:,} parameters; config.json describes {want.total:,} "
                         f"({params - want.total:+,})")
    return Checkpoint(path=str(p), format="safetensors", tensors=tuple(tensors), params=params, stored_values=stored,
                      bytes=nbytes, params_by_dtype=by_p, bytes_by_format=by_b, metadata=meta, notes=tuple(notes),
                      spec=spec, quantization=quant, file_bytes=total_size)


def _name(cfg: dict[str, Any], folder: Path) -> str:
    n = cfg.get("_name_or_path")
    return str(n).rstrip("/").split("/")[-1] if n else (folder.name or "safetensors")


# -- quantized layouts -------------------------------------------------------------------------------
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


def _classify(raw: dict[str, _Raw], qcfg: dict[str, Any]) -> tuple[list[StoredTensor], str | None, list[str]]:
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


_EMBED = ("embed_tokens.weight", "wte.weight", "embed_in.weight", "word_embeddings.weight")
_HEAD = ("lm_head.weight", "embed_out.weight")


def _tied_head(tensors: list[StoredTensor], cfg: dict[str, Any] | None) -> tuple[list[StoredTensor], str | None]:
    """If config ties the head to the embeddings but the file stores both, count the head once."""
    if not cfg:
        return tensors, None
    text = cfg.get("text_config") if isinstance(cfg.get("text_config"), dict) else {}
    tied = cfg.get("tie_word_embeddings", (text or {}).get("tie_word_embeddings"))
    if not tied:
        return tensors, None
    emb = next((t for t in tensors if t.name.endswith(_EMBED) and t.params), None)
    head = next((t for t in tensors if t.name.endswith(_HEAD) and t.params), None)
    if emb is None or head is None or emb.shape != head.shape:
        return tensors, None
    from dataclasses import replace

    out = [replace(t, params=0) if t is head else t for t in tensors]
    total = sum(t.numel for t in tensors)
    note = (f"config ties the output head to the embeddings but the checkpoint stores both {emb.name} and "
            f"{head.name} ({head.numel:,} values each): {total:,} stored values vs PyTorch's "
            f"{total - head.numel:,} parameters (the head is counted once); the duplicate costs {head.bytes:,} bytes "
            f"on disk")
    return out, note
