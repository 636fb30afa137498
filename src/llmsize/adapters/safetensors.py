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
from llmsize.adapters.safetensors_quant import classify as _classify
from llmsize.errors import LlmsizeError
from llmsize.quant.checkpoint import Checkpoint, StoredTensor, summarize
from llmsize.spec import ModelSpec

# bits per element of each safetensors dtype
DTYPE_BITS: dict[str, int] = {
    "BOOL": 8, "U8": 8, "I8": 8, "F8_E5M2": 8, "F8_E4M3": 8, "F8_E8M0": 8, "I16": 16, "U16": 16, "F16": 16,
    "BF16": 16, "I32": 32, "U32": 32, "F32": 32, "F64": 64, "I64": 64, "U64": 64, "C64": 64, "F4": 4,
    "F6_E2M3": 6, "F6_E3M2": 6,
}
MAX_HEADER = 100_000_000  # safetensors itself refuses larger headers


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
