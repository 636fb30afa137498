"""Read a GGUF file's header (metadata and tensor infos) without reading tensor data.

Layout (GGUF v2/v3; v1 used 32-bit counts): magic "GGUF", u32 version, u64 tensor count, u64 KV
count, the KV pairs (string key, u32 value type, value), then per tensor: name, u32 n_dims, u64 dims
(ne0 innermost), u32 ggml type, u64 offset into the data section, which starts at the next multiple
of general.alignment (default 32). Every count and length is checked against the bytes left in the
file before anything is allocated, so a corrupt file fails with one line, never a huge allocation.
"""
from __future__ import annotations

import os
import re
import struct
from pathlib import Path
from typing import Any, BinaryIO

from llmsize import bounds
from llmsize.errors import LlmsizeError
from llmsize.quant.checkpoint import Checkpoint, StoredTensor, summarize
from llmsize.quant.ggml_types import GGML_BY_ID, ggml_type, tensor_bytes
from llmsize.spec import ModelSpec

MAGIC = b"GGUF"
MAX_DIMS = 4
_KEEP_ARRAY = 64  # longer arrays (tokenizer vocabularies) are summarised, not kept
# value type id -> (struct code, size); 8 = string, 9 = array
_SCALARS = {0: ("B", 1), 1: ("b", 1), 2: ("H", 2), 3: ("h", 2), 4: ("I", 4), 5: ("i", 4), 6: ("f", 4),
            7: ("?", 1), 10: ("Q", 8), 11: ("q", 8), 12: ("d", 8)}
_TYPE_NAMES = {0: "u8", 1: "i8", 2: "u16", 3: "i16", 4: "u32", 5: "i32", 6: "f32", 7: "bool", 8: "str",
               9: "array", 10: "u64", 11: "i64", 12: "f64"}


class _Reader:
    """Bounded little/big-endian reads from a file: every length is checked against the bytes left."""

    def __init__(self, f: BinaryIO, size: int, path: Path) -> None:
        self.f, self.size, self.path, self.pos = f, size, path, 0
        self.e = "<"
        self.wide = True  # v2+: u64 counts and string lengths

    def fail(self, what: str) -> LlmsizeError:
        return LlmsizeError(f"{self.path}: {what}")

    def read(self, n: int) -> bytes:
        if n < 0 or self.pos + n > self.size:
            raise self.fail(f"truncated GGUF file (needs {self.pos + n:,} bytes, has {self.size:,})")
        b = self.f.read(n)
        if len(b) != n:
            raise self.fail("truncated GGUF file")
        self.pos += n
        return b

    def skip(self, n: int) -> None:
        if n < 0 or self.pos + n > self.size:
            raise self.fail(f"truncated GGUF file (needs {self.pos + n:,} bytes, has {self.size:,})")
        self.f.seek(n, os.SEEK_CUR)
        self.pos += n

    def u32(self) -> int:
        return int(struct.unpack(self.e + "I", self.read(4))[0])

    def u64(self) -> int:
        return int(struct.unpack(self.e + "Q", self.read(8))[0])

    def count(self, what: str, min_size: int) -> int:
        n = self.u64() if self.wide else self.u32()
        if n * min_size > self.size - self.pos:
            raise self.fail(f"absurd {what} {n:,}: the {self.size - self.pos:,} bytes left cannot hold them")
        return n

    def skip_strings(self, n: int) -> None:
        """Skip n strings (a tokenizer vocabulary) with one tight loop, still bounds-checked."""
        f, size, pos = self.f, self.size, self.pos
        width, order = (8, "little" if self.e == "<" else "big") if self.wide else (4, "little" if self.e == "<" else "big")
        for _ in range(n):
            b = f.read(width)
            if len(b) != width:
                raise self.fail("truncated GGUF file (in a string array)")
            ln = int.from_bytes(b, order)
            pos += width + ln
            if pos > size:
                raise self.fail(f"truncated GGUF file (needs {pos:,} bytes, has {size:,})")
            f.seek(ln, os.SEEK_CUR)
        self.pos = pos

    def string(self) -> str:
        n = self.count("string length", 1)
        try:
            return self.read(n).decode("utf-8")
        except UnicodeDecodeError:
            raise self.fail(f"a metadata string at byte {self.pos - n} is not UTF-8") from None

    def value(self, vtype: int, key: str, depth: int = 0) -> Any:
        if depth > bounds.bound("nesting"):
            raise self.fail(f"metadata {key[:80]!r}: arrays nested more than {bounds.bound('nesting')} deep "
                            f"(llmsize's nesting bound; GGUF files use one level)")
        if vtype in _SCALARS:
            code, size = _SCALARS[vtype]
            return struct.unpack(self.e + code, self.read(size))[0]
        if vtype == 8:
            return self.string()
        if vtype == 9:
            etype = self.u32()
            if etype not in _SCALARS and etype not in (8, 9):
                raise self.fail(f"metadata {key!r}: unknown array element type {etype}")
            n = self.count(f"array length of {key!r}", _SCALARS[etype][1] if etype in _SCALARS else 8)
            if etype in _SCALARS:
                code, size = _SCALARS[etype]
                if n <= _KEEP_ARRAY:
                    return list(struct.unpack(self.e + code * n, self.read(size * n)))
                self.skip(size * n)
            elif n <= _KEEP_ARRAY:
                return [self.value(etype, key, depth + 1) for _ in range(n)]
            elif etype == 8:
                self.skip_strings(n)
            else:
                for _ in range(n):
                    self.value(etype, key, depth + 1)
            return f"<array of {n:,} {_TYPE_NAMES[etype]}>"
        raise self.fail(f"metadata {key!r}: unknown value type {vtype}")


def read_header(path: str | os.PathLike[str]) -> tuple[dict[str, Any], list[StoredTensor], int, int]:
    """One GGUF file: (metadata, tensors, version, file size).

    Source: gguf-spec"""
    p = Path(path)
    try:
        size = p.stat().st_size
        with open(p, "rb") as f:
            r = _Reader(f, size, p)
            if size < 4 or r.read(4) != MAGIC:
                raise LlmsizeError(f"{p}: not a GGUF file (bad magic; expected 'GGUF')")
            version = r.u32()
            if version > 0xFFFF:  # a big-endian file reads as 0x03000000
                r.e = ">"
                version = struct.unpack(">I", struct.pack("<I", version))[0]
            if version not in (1, 2, 3):
                raise LlmsizeError(f"{p}: unsupported GGUF version {version} (known: 1, 2, 3)")
            r.wide = version >= 2
            n_tensors = r.count("tensor count", 4 + 1 + 4 + 4 + 8)
            n_kv = r.count("metadata count", 4 + 1 + 4)
            for what, n, name in (("tensors", n_tensors, "tensors"), ("metadata keys", n_kv, "metadata")):
                if n > bounds.bound(name):
                    raise LlmsizeError(f"{p}: {n:,} {what} is over {bounds.bound(name):,} (llmsize's {name} bound)")
            meta: dict[str, Any] = {}
            for _ in range(n_kv):
                key = r.string()
                meta[key] = r.value(r.u32(), key)
            infos = []
            for _ in range(n_tensors):
                name = r.string()
                n_dims = r.u32()
                if not 1 <= n_dims <= MAX_DIMS:
                    raise LlmsizeError(f"{p}: tensor {name!r} has {n_dims} dims (ggml allows 1 to {MAX_DIMS})")
                ne = tuple(r.u64() if r.wide else r.u32() for _ in range(n_dims))
                tid = r.u32()
                off = r.u64()
                infos.append((name, ne, tid, off))
            data_start = r.pos
    except OSError as e:
        raise LlmsizeError(f"{p}: cannot read ({e.__class__.__name__}: {e.strerror or e})") from None
    align = meta.get("general.alignment", 32)
    if not isinstance(align, int) or align <= 0 or align & (align - 1):
        raise LlmsizeError(f"{p}: general.alignment must be a power of two, got {align!r}")
    data_start += -data_start % align
    data_len = size - data_start
    tensors = []
    seen: set[str] = set()
    for name, ne, tid, off in infos:
        if name in seen:
            raise LlmsizeError(f"{p}: duplicate tensor name {name!r}")
        seen.add(name)
        if tid not in GGML_BY_ID:
            ggml_type(tid)  # raises, naming the id and the known ones
        t = GGML_BY_ID[tid]
        try:
            nbytes = tensor_bytes(t, ne)
        except LlmsizeError as e:
            raise LlmsizeError(f"{p}: tensor {name!r}: {e}") from None
        if off % align:
            raise LlmsizeError(f"{p}: tensor {name!r} offset {off} is not a multiple of the alignment {align}")
        if off + nbytes > data_len:
            raise LlmsizeError(f"{p}: tensor {name!r} data [{off:,}, {off + nbytes:,}) runs past the end of the "
                               f"file's data section ({max(data_len, 0):,} bytes): truncated file")
        numel = 1
        for n in ne:
            numel *= n
        tensors.append(StoredTensor(name=name, dtype=t.name, shape=tuple(reversed(ne)), bytes=nbytes,
                                    offset=data_start + off, file=p.name, params=numel, format=t.name))
    return meta, tensors, version, size


_SPLIT = re.compile(r"^(?P<stem>.*)-(?P<no>\d{5})-of-(?P<n>\d{5})\.gguf$")


def read_gguf(path: str | os.PathLike[str]) -> Checkpoint:
    """Read a .gguf file (all splits of a split model) into a Checkpoint, with a ModelSpec from the
    metadata where the architecture is one llmsize knows.

    Source: gguf-spec"""
    p = Path(path).expanduser()
    if not p.exists():
        raise LlmsizeError(f"no such file: {str(path)!r}")
    meta, tensors, version, size = read_header(p)
    notes: list[str] = []
    split_n = meta.get("split.count")
    m = _SPLIT.match(p.name)
    if isinstance(split_n, int) and split_n > 1 and m:
        tensors, size = [], 0
        for i in range(1, split_n + 1):
            part = p.with_name(f"{m['stem']}-{i:05d}-of-{split_n:05d}.gguf")
            if not part.exists():
                raise LlmsizeError(f"{p}: split {i} of {split_n} is missing ({part.name})")
            pm, pt, _, ps = read_header(part)
            if i == 1:
                meta = pm
            tensors += pt
            size += ps
        notes.append(f"read all {split_n} splits")
    params, stored, nbytes, by_p, by_b = summarize(tensors)
    meta = {"gguf.version": version, **meta}
    spec, snotes = spec_from_gguf(meta, tensors, p.stem)
    notes += snotes
    if spec is not None:
        from llmsize.params import count

        want = count(spec)
        diff = params - want.total_with_buffers
        if diff:
            extra = [t.name for t in tensors if t.name in ("rope_freqs.weight",)]
            why = f" (extra tensors: {', '.join(extra)})" if extra else ""
            notes.append(f"the file holds {params:,} values; the spec built from its metadata counts "
                         f"{want.total_with_buffers:,} ({diff:+,}){why}")
    from llmsize.quant.gguf_presets import ftype_name

    ft = meta.get("general.file_type")
    quant = ftype_name(ft) if isinstance(ft, int) else None
    return Checkpoint(path=str(p), format="gguf", tensors=tuple(tensors), params=params, stored_values=stored,
                      bytes=nbytes, params_by_dtype=by_p, bytes_by_format=by_b, metadata=meta, notes=tuple(notes),
                      spec=spec, quantization=quant, file_bytes=size)


# -- metadata -> ModelSpec ----------------------------------------------------------------------------
_ARCH = {"llama": "llama", "qwen2": "qwen2", "qwen3": "qwen3", "qwen2moe": "qwen2_moe", "qwen3moe": "qwen3_moe",
         "gemma": "gemma", "gemma2": "gemma2", "gemma3": "gemma3_text", "phi3": "phi3", "gpt2": "gpt2",
         "gptneox": "gpt_neox", "falcon": "falcon", "olmo2": "olmo2", "olmoe": "olmoe", "deepseek2": "deepseek_v3",
         "gpt-oss": "gpt_oss"}


_META_BOUNDS = {"embedding_length": "width", "block_count": "layers", "attention.head_count": "heads",
                "attention.head_count_kv": "heads", "feed_forward_length": "width", "context_length": "positions",
                "expert_count": "experts", "expert_used_count": "experts", "expert_feed_forward_length": "width",
                "leading_dense_block_count": "layers"}


def spec_from_gguf(meta: dict[str, Any], tensors: list[StoredTensor], name: str) -> tuple[ModelSpec | None, list[str]]:
    """A ModelSpec from GGUF metadata: the keys are mapped to a config.json and built by the same
    adapter (vocab from token_embd's shape; tied = no output.weight).

    Source: gguf-spec"""
    arch = meta.get("general.architecture")
    if arch not in _ARCH:
        return None, [f"GGUF architecture {arch!r} is not mapped to a model spec (mapped: {', '.join(sorted(_ARCH))})"]
    names = {t.name: t for t in tensors}

    def key(k: str, default: Any = None) -> Any:
        return meta.get(f"{arch}.{k}", default)

    def scalar(k: str, default: Any = None) -> Any:
        v = key(k, default)
        if isinstance(v, list):
            if v and all(x == v[0] for x in v):
                return v[0]
            raise LlmsizeError(f"{arch}.{k} differs per layer ({v[:6]}...), which llmsize's spec does not model")
        return v

    emb = names.get("token_embd.weight")
    if emb is None:
        return None, ["GGUF file has no token_embd.weight; no model spec"]
    for k in ("embedding_length", "block_count", "attention.head_count", "attention.head_count_kv",
              "feed_forward_length", "context_length", "attention.key_length", "attention.key_length_mla",
              "attention.value_length", "attention.value_length_mla", "rope.dimension_count", "expert_count",
              "expert_used_count", "expert_feed_forward_length", "expert_shared_feed_forward_length",
              "expert_shared_count", "leading_dense_block_count", "attention.q_lora_rank", "attention.kv_lora_rank",
              "attention.sliding_window"):
        v = key(k)
        for x in v if isinstance(v, list) else [v]:
            if x is not None and (isinstance(x, bool) or not isinstance(x, int) or x < 0):
                return None, [f"GGUF metadata {arch}.{k} must be a non-negative integer, got {x!r:.40}"]
            if x is not None and k in _META_BOUNDS and x > bounds.bound(_META_BOUNDS[k]):
                return None, [f"GGUF metadata {arch}.{k} = {x:,} is over {bounds.bound(_META_BOUNDS[k]):,} "
                              f"(llmsize's {_META_BOUNDS[k]} bound, far above any real model)"]
    try:
        if not scalar("attention.head_count"):
            return None, [f"GGUF metadata {arch}.attention.head_count must be at least 1"]
        d, layers, heads = scalar("embedding_length"), scalar("block_count"), scalar("attention.head_count")
        cfg: dict[str, Any] = {
            "model_type": _ARCH[arch], "hidden_size": d, "num_hidden_layers": layers, "num_attention_heads": heads,
            "num_key_value_heads": scalar("attention.head_count_kv", heads),
            "intermediate_size": scalar("feed_forward_length"), "vocab_size": emb.shape[0],
            "max_position_embeddings": scalar("context_length", 2048),
            "tie_word_embeddings": "output.weight" not in names,
            "attention_bias": "blk.0.attn_q.bias" in names or "blk.0.attn_qkv.bias" in names,
            "mlp_bias": "blk.0.ffn_up.bias" in names,
        }
        kl = scalar("attention.key_length")
        if kl and heads and kl != d // heads:
            cfg["head_dim"] = kl
        n_exp = scalar("expert_count", 0) or 0
        cfg.update(num_local_experts=n_exp or None, num_experts=n_exp or None,
                   num_experts_per_tok=scalar("expert_used_count"),
                   moe_intermediate_size=scalar("expert_feed_forward_length"),
                   shared_expert_intermediate_size=scalar("expert_shared_feed_forward_length"),
                   sliding_window=scalar("attention.sliding_window"))
        mt = cfg["model_type"]
        if mt == "deepseek_v3" and not (scalar("attention.key_length_mla") or kl) or \
                mt == "deepseek_v3" and scalar("rope.dimension_count") is None:
            return None, [f"GGUF metadata: {arch} needs {arch}.attention.key_length and {arch}.rope.dimension_count"]
        if mt == "llama" and n_exp:
            cfg["model_type"] = "mixtral"
        elif mt == "deepseek_v3":
            rope = scalar("rope.dimension_count")
            k = scalar("attention.key_length_mla") or kl
            cfg.update(n_routed_experts=n_exp, n_shared_experts=scalar("expert_shared_count", 0),
                       first_k_dense_replace=scalar("leading_dense_block_count", 0),
                       q_lora_rank=scalar("attention.q_lora_rank"), kv_lora_rank=scalar("attention.kv_lora_rank"),
                       qk_rope_head_dim=rope, qk_nope_head_dim=k - rope,
                       v_head_dim=scalar("attention.value_length_mla") or scalar("attention.value_length"),
                       num_nextn_predict_layers=0)
        elif mt == "gpt2":
            cfg.update(n_embd=d, n_layer=layers, n_head=heads, n_positions=cfg["max_position_embeddings"],
                       n_inner=cfg["intermediate_size"])
        elif mt == "gpt_neox":
            hd = d // heads
            cfg.update(rotary_pct=(scalar("rope.dimension_count", hd) or hd) / hd,
                       use_parallel_residual=bool(scalar("use_parallel_residual", True)))
        elif mt == "falcon":
            kv = cfg["num_key_value_heads"]
            cfg.update(num_kv_heads=kv, new_decoder_architecture=kv > 1, multi_query=kv == 1,
                       ffn_hidden_size=cfg["intermediate_size"])
        elif mt == "gpt_oss":
            cfg["experts_per_token"] = cfg["num_experts_per_tok"]
        from llmsize.adapters.hf_config import spec_from_config

        notes: list[str] = []
        spec = spec_from_config({k: v for k, v in cfg.items() if v is not None}, str(meta.get("general.name") or name),
                                warn=notes.append)
        return spec, notes
    except LlmsizeError as e:
        return None, [f"GGUF metadata could not be mapped to a model spec: {e}"]
    except (TypeError, ArithmeticError, ValueError) as e:  # values of the wrong kind in crafted metadata
        return None, [f"GGUF metadata could not be mapped to a model spec ({type(e).__name__}: {str(e)[:80]})"]
