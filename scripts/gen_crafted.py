"""Write the crafted-file corpus in tests/data/crafted/: small safetensors and GGUF files with hostile or
broken headers (2^63 lengths, 1e15-element tensors, 1e12 claimed layers, deep nesting, duplicate names,
wrong types), each with the exit status `llmsize inspect` and `llmsize params` must give.

manifest.json maps each file to {"why": ..., "inspect": 0|2, "params": 0|2}. The files are written by
hand (struct), not by the gguf/safetensors packages, so they can be as wrong as a hostile file is.

Run: python scripts/gen_crafted.py   (rewrites tests/data/crafted/, deterministic)
"""
from __future__ import annotations

import json
import shutil
import struct
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parents[1] / "tests" / "data" / "crafted"
MANIFEST: dict[str, dict[str, Any]] = {}


# -- GGUF ---------------------------------------------------------------------------------------------
def _s(text: str | bytes, e: str = "<") -> bytes:
    b = text.encode() if isinstance(text, str) else text
    return struct.pack(e + "Q", len(b)) + b


def _kv(key: str, vtype: int, payload: bytes, e: str = "<") -> bytes:
    return _s(key, e) + struct.pack(e + "I", vtype) + payload


def u32(key: str, v: int, e: str = "<") -> bytes:
    return _kv(key, 4, struct.pack(e + "I", v), e)


def u64(key: str, v: int, e: str = "<") -> bytes:
    return _kv(key, 10, struct.pack(e + "Q", v), e)


def text(key: str, v: str, e: str = "<") -> bytes:
    return _kv(key, 8, _s(v, e), e)


def u32_array(key: str, vs: list[int], e: str = "<") -> bytes:
    return _kv(key, 9, struct.pack(e + "IQ", 4, len(vs)) + b"".join(struct.pack(e + "I", v) for v in vs), e)


def tinfo(name: str, ne: tuple[int, ...], tid: int = 0, off: int = 0, e: str = "<") -> bytes:
    return _s(name, e) + struct.pack(e + "I", len(ne)) + b"".join(struct.pack(e + "Q", n) for n in ne) + \
        struct.pack(e + "IQ", tid, off)


def gguf_bytes(kvs: list[bytes], infos: list[bytes], data: bytes = b"", *, version: int = 3, e: str = "<",
               n_tensors: int | None = None, n_kv: int | None = None, align: int = 32) -> bytes:
    head = b"GGUF" + struct.pack(e + "IQQ", version, len(infos) if n_tensors is None else n_tensors,
                                 len(kvs) if n_kv is None else n_kv) + b"".join(kvs) + b"".join(infos)
    return head + b"\0" * (-len(head) % align) + data


def llama_meta(arch: str = "llama", *, d: Any = 8, layers: Any = 1, heads: Any = 2, extra: list[bytes] = (),
               e: str = "<") -> list[bytes]:
    def num(k: str, v: Any) -> bytes:
        return text(f"{arch}.{k}", v, e) if isinstance(v, str) else u64(f"{arch}.{k}", v, e)

    return [text("general.architecture", arch, e), num("embedding_length", d), num("block_count", layers),
            num("attention.head_count", heads), u64(f"{arch}.feed_forward_length", 16, e),
            u64(f"{arch}.context_length", 64, e), *extra]


def valid_gguf(arch: str = "llama", e: str = "<", **kw: Any) -> bytes:
    emb = tinfo("token_embd.weight", (8, 16), 0, 0, e)  # F32 [vocab 16, d 8]
    return gguf_bytes(llama_meta(arch, e=e, **kw), [emb], b"\0" * (8 * 16 * 4), e=e)


def gguf(name: str, data: bytes, why: str, inspect: int, params: int) -> None:
    (OUT / "gguf" / f"{name}.gguf").write_bytes(data)
    MANIFEST[f"gguf/{name}.gguf"] = {"why": why, "inspect": inspect, "params": params}


def nested_array(depth: int) -> bytes:
    """An array of one array of one array ... (depth levels), innermost empty u8."""
    inner = struct.pack("<IQ", 0, 0)
    for _ in range(depth):
        inner = struct.pack("<IQ", 9, 1) + inner
    return _kv("x.deep", 9, inner)


def write_gguf_corpus() -> None:
    emb = tinfo("token_embd.weight", (8, 16))
    data = b"\0" * 512
    gguf("valid_llama", valid_gguf(), "a valid tiny llama", 0, 0)
    gguf("valid_big_endian", valid_gguf(e=">"), "a valid big-endian file", 0, 0)
    gguf("empty", b"", "0 bytes", 2, 2)
    gguf("bad_magic", b"GGUX" + valid_gguf()[4:], "wrong magic", 2, 2)
    gguf("version_4", valid_gguf()[:4] + struct.pack("<I", 4) + valid_gguf()[8:], "unknown version 4", 2, 2)
    gguf("version_0", valid_gguf()[:4] + struct.pack("<I", 0) + valid_gguf()[8:], "version 0", 2, 2)
    gguf("truncated_after_magic", b"GGUF\x03\x00", "truncated in the version", 2, 2)
    gguf("truncated_in_kv", valid_gguf()[:60], "truncated inside the metadata", 2, 2)
    gguf("tensor_count_2e63", gguf_bytes(llama_meta(), [emb], data, n_tensors=1 << 63), "tensor count 2^63", 2, 2)
    gguf("kv_count_2e63", gguf_bytes(llama_meta(), [emb], data, n_kv=1 << 63), "metadata count 2^63", 2, 2)
    gguf("string_len_2e63", b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + struct.pack("<Q", (1 << 63) - 1) + b"abc",
         "a key claiming 2^63 bytes", 2, 2)
    gguf("array_len_2e40", gguf_bytes([_kv("x.arr", 9, struct.pack("<IQ", 0, 1 << 40))], []),
         "a u8 array claiming 2^40 items", 2, 2)
    gguf("array_strings_past_end", gguf_bytes([_kv("x.arr", 9, struct.pack("<IQ", 8, 100) +
                                                    struct.pack("<Q", 1 << 50))], []),
         "a string array whose first string claims 2^50 bytes", 2, 2)
    gguf("nested_arrays_20000", gguf_bytes([nested_array(20000)], []), "arrays nested 20,000 deep", 2, 2)
    gguf("nested_arrays_33", gguf_bytes([nested_array(33)], []), "arrays nested 33 deep (bound 32)", 2, 2)
    gguf("unknown_value_type", gguf_bytes([_kv("x.y", 99, b"\0" * 8)], []), "metadata value type 99", 2, 2)
    gguf("unknown_array_type", gguf_bytes([_kv("x.y", 9, struct.pack("<IQ", 77, 1))], []), "array element type 77",
         2, 2)
    gguf("key_not_utf8", gguf_bytes([_kv("x", 4, b"\0" * 4)[:8] + b"\xff" + struct.pack("<I", 4) + b"\0" * 4], []),
         "a key that is not UTF-8", 2, 2)
    gguf("blocks_1e12", valid_gguf(layers=10**12), "block_count 1e12 in a 1 KB file", 0, 2)
    gguf("blocks_2e64", valid_gguf(layers=(1 << 64) - 1), "block_count 2^64-1", 0, 2)
    gguf("embedding_2e63", valid_gguf(d=(1 << 63) - 1), "embedding_length 2^63-1", 0, 2)
    gguf("embedding_string", valid_gguf(d="4096"), "embedding_length as a string", 0, 2)
    gguf("heads_zero_gptneox", valid_gguf("gptneox", heads=0), "gptneox with 0 heads", 0, 2)
    gguf("heads_zero_llama", valid_gguf(heads=0), "llama with 0 heads", 0, 2)
    gguf("experts_2e31", valid_gguf(extra=[u64("llama.expert_count", 1 << 31), u64("llama.expert_used_count", 2)]),
         "expert_count 2^31", 0, 2)
    gguf("deepseek2_no_key_length", valid_gguf("deepseek2", d=8, heads=2), "deepseek2 without key_length", 0, 2)
    gguf("heads_per_layer_differ", gguf_bytes(llama_meta(layers=2, extra=[u32_array("llama.attention.head_count_kv",
                                                                                    [1, 2])]), [emb], data),
         "KV heads that differ per layer", 0, 2)
    gguf("no_token_embd", gguf_bytes(llama_meta(), [tinfo("blk.0.attn_q.weight", (8, 8))], b"\0" * 256),
         "no token_embd.weight", 0, 2)
    gguf("unknown_arch", valid_gguf("mamba9"), "an architecture llmsize does not map", 0, 2)
    gguf("dims_0", gguf_bytes(llama_meta(), [tinfo("t", ())], data), "a tensor with 0 dims", 2, 2)
    gguf("dims_5", gguf_bytes(llama_meta(), [tinfo("t", (1, 1, 1, 1, 1))], data), "a tensor with 5 dims", 2, 2)
    gguf("dims_2e31", gguf_bytes(llama_meta(), [_s("t") + struct.pack("<I", 1 << 31)], data),
         "a tensor claiming 2^31 dims", 2, 2)
    gguf("tensor_1e15_elements", gguf_bytes(llama_meta(), [tinfo("token_embd.weight", (10**8, 10**7))], data),
         "a tensor of 1e15 elements in a 1 KB file", 2, 2)
    gguf("tensor_2e64_dim", gguf_bytes(llama_meta(), [tinfo("token_embd.weight", ((1 << 64) - 1, 1))], data),
         "a dimension of 2^64-1", 2, 2)
    gguf("tensor_type_9999", gguf_bytes(llama_meta(), [tinfo("token_embd.weight", (8, 16), 9999)], data),
         "ggml type id 9999", 2, 2)
    gguf("offset_misaligned", gguf_bytes(llama_meta(), [tinfo("token_embd.weight", (8, 16), 0, 3)], data),
         "data offset not a multiple of the alignment", 2, 2)
    gguf("offset_past_end", gguf_bytes(llama_meta(), [tinfo("token_embd.weight", (8, 16), 0, 1 << 40)], data),
         "data offset 2^40 in a small file", 2, 2)
    gguf("duplicate_tensor", gguf_bytes(llama_meta(), [emb, emb], data + data), "the same tensor name twice", 2, 2)
    for a, label in ((0, "0"), (3, "3"), ("32", "string")):
        kv = u32("general.alignment", a) if isinstance(a, int) else text("general.alignment", a)
        gguf(f"alignment_{label}", gguf_bytes([*llama_meta(), kv], [emb], data), f"general.alignment {a!r}", 2, 2)


# -- safetensors --------------------------------------------------------------------------------------
def st_bytes(header: str | bytes, data: bytes = b"", *, claimed: int | None = None) -> bytes:
    h = header.encode() if isinstance(header, str) else header
    return struct.pack("<Q", len(h) if claimed is None else claimed) + h + data


def entry(dtype: Any = "F32", shape: Any = (2, 2), offs: Any = (0, 16)) -> dict[str, Any]:
    return {"dtype": dtype, "shape": list(shape) if isinstance(shape, tuple) else shape,
            "data_offsets": list(offs) if isinstance(offs, tuple) else offs}


def st(name: str, data: bytes, why: str, inspect: int) -> None:
    (OUT / "safetensors" / f"{name}.safetensors").write_bytes(data)
    MANIFEST[f"safetensors/{name}.safetensors"] = {"why": why, "inspect": inspect, "params": 2}  # no config.json


def write_safetensors_corpus() -> None:
    w = json.dumps({"w": entry()})
    st("valid", st_bytes(w, b"\0" * 16), "a valid 2x2 F32 tensor", 0)
    st("empty", b"", "0 bytes", 2)
    st("short_length", b"\x01\x02\x03", "3 bytes: no header length", 2)
    st("header_len_2e63", st_bytes(w, b"\0" * 16, claimed=(1 << 63)), "header length 2^63", 2)
    st("header_len_past_end", st_bytes(w, b"", claimed=10_000), "header length past the end", 2)
    st("header_not_json", st_bytes("{nope", b""), "header is not JSON", 2)
    st("header_not_utf8", st_bytes(b"\xff\xfe{}", b""), "header is not UTF-8", 2)
    st("header_array", st_bytes("[1, 2]"), "header is a JSON array", 2)
    st("header_nested_20000", st_bytes('{"w": ' + "[" * 20_000 + "]" * 20_000 + "}"), "nesting 20,000 deep", 2)
    st("header_5000_digits", st_bytes('{"w": {"dtype": "F32", "shape": [' + "9" * 5000 + '], "data_offsets": [0, 4]}}',
                                      b"\0" * 4), "a 5,000-digit dimension", 2)
    st("header_nan", st_bytes('{"w": {"dtype": "F32", "shape": [NaN], "data_offsets": [0, 4]}}', b"\0" * 4),
       "NaN in the header", 2)
    st("dtype_list", st_bytes(json.dumps({"w": entry(dtype=["F32"])}), b"\0" * 16), "a list as dtype", 2)
    st("dtype_unknown", st_bytes(json.dumps({"w": entry(dtype="F128")}), b"\0" * 16), "dtype F128", 2)
    st("shape_negative", st_bytes(json.dumps({"w": entry(shape=(-2, -2))}), b"\0" * 16), "a negative dimension", 2)
    st("shape_string", st_bytes(json.dumps({"w": entry(shape="2x2")}), b"\0" * 16), "shape as text", 2)
    st("shape_bool", st_bytes(json.dumps({"w": entry(shape=[True, 2])}), b"\0" * 16), "a bool dimension", 2)
    st("shape_9_dims", st_bytes(json.dumps({"w": entry(shape=[1] * 9, offs=(0, 4))}), b"\0" * 4), "9 dimensions", 2)
    st("tensor_1e15_elements", st_bytes(json.dumps({"w": entry(shape=(10**8, 10**7), offs=(0, 16))}), b"\0" * 16),
       "1e15 elements claimed over 16 bytes", 2)
    st("offsets_reversed", st_bytes(json.dumps({"w": entry(offs=(16, 0))}), b"\0" * 16), "end before begin", 2)
    st("offsets_past_end", st_bytes(json.dumps({"w": entry(offs=(0, 1 << 62))}), b"\0" * 16), "end 2^62", 2)
    st("offsets_three", st_bytes(json.dumps({"w": entry(offs=[0, 8, 16])}), b"\0" * 16), "three offsets", 2)
    st("offsets_missing", st_bytes(json.dumps({"w": {"dtype": "F32", "shape": [2, 2]}}), b"\0" * 16),
       "no data_offsets", 2)
    st("entry_not_object", st_bytes(json.dumps({"w": [1, 2, 3]}), b"\0" * 16), "an entry that is a list", 2)
    st("duplicate_names", st_bytes('{"w": %s, "w": %s}' % (json.dumps(entry()), json.dumps(entry(offs=(16, 32)))),
                                   b"\0" * 32), "the same tensor name twice", 2)
    st("metadata_list", st_bytes(json.dumps({"__metadata__": [1], "w": entry()}), b"\0" * 16), "__metadata__ a list",
       2)
    st("awq_zero_width_scales", st_bytes(json.dumps({"l.qweight": entry("I32", (8, 0), (0, 0)),
                                                     "l.scales": entry("F16", (1, 0), (0, 0)),
                                                     "l.qzeros": entry("I32", (1, 0), (0, 0))})),
       "AWQ scales of zero width", 2)
    st("gptq_no_scales", st_bytes(json.dumps({"l.qweight": entry("I32", (2, 2), (0, 16))}), b"\0" * 16),
       "packed weights without scales", 2)
    blob = ("[" * 10_000 + "]" * 10_000).encode()
    qs = {"l.weight": entry("U8", (2, 2), (0, 4)),
          "l.weight.quant_state.bitsandbytes__nf4": entry("U8", (len(blob),), (4, 4 + len(blob)))}
    st("bnb_quant_state_nested", st_bytes(json.dumps(qs), b"\0" * 4 + blob),
       "a bitsandbytes quant_state blob nested 10,000 deep", 0)


def main() -> None:
    if OUT.exists():
        shutil.rmtree(OUT)
    (OUT / "gguf").mkdir(parents=True)
    (OUT / "safetensors").mkdir(parents=True)
    write_gguf_corpus()
    write_safetensors_corpus()
    (OUT / "manifest.json").write_text(json.dumps(MANIFEST, indent=1, sort_keys=True) + "\n")
    size = sum(p.stat().st_size for p in OUT.rglob("*") if p.is_file())
    print(f"wrote {len(MANIFEST)} crafted files ({size:,} bytes) to {OUT}")


if __name__ == "__main__":
    main()
