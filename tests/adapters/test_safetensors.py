"""Safetensors headers: plain, sharded and quantized checkpoints laid out as GPTQ, AWQ, bitsandbytes,
fp8 and MXFP4 store them; predicted bytes equal the file's tensor bytes."""
from __future__ import annotations

import json
import math
import struct
from pathlib import Path

import pytest

from llmsize.adapters.hf_config import spec_from_config
from llmsize.adapters.safetensors import read_safetensors
from llmsize.errors import LlmsizeError
from llmsize.params import count
from llmsize.quant.formats import weight_plan
from llmsize.tensors import tensors

TINY = {"model_type": "llama", "hidden_size": 256, "intermediate_size": 512, "num_hidden_layers": 2,
        "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 512, "max_position_embeddings": 512,
        "tie_word_embeddings": False, "torch_dtype": "bfloat16"}
BITS = {"BF16": 16, "F16": 16, "F32": 32, "I32": 32, "U8": 8, "I8": 8, "F8_E4M3": 8, "I64": 64}


def write_st(path: Path, entries: list[tuple[str, str, list[int]]], meta: dict | None = None,
             blobs: dict[str, bytes] | None = None) -> int:
    """Write a safetensors file of zero-filled tensors (blobs give some tensors real bytes); return data bytes."""
    header: dict = {}
    off = 0
    for name, dtype, shape in entries:
        n = (math.prod(shape) * BITS[dtype] + 7) // 8
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [off, off + n]}
        off += n
    if meta:
        header["__metadata__"] = meta
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    data = bytearray(off)
    for name, blob in (blobs or {}).items():
        b, e = header[name]["data_offsets"]
        assert e - b == len(blob)
        data[b:e] = blob
    path.write_bytes(struct.pack("<Q", len(h)) + h + bytes(data))
    return off


def model_dir(tmp_path: Path, cfg: dict) -> Path:
    d = tmp_path / "model"
    d.mkdir()
    (d / "config.json").write_text(json.dumps(cfg))
    return d


def test_plain_bf16_matches_count_and_plan(tmp_path):
    spec = spec_from_config(TINY, "tiny")
    d = model_dir(tmp_path, TINY)
    nbytes = write_st(d / "model.safetensors", [(t.name, "BF16", list(t.shape)) for t in tensors(spec)],
                      meta={"format": "pt"})
    ck = read_safetensors(d)
    assert ck.params == count(spec).total == ck.stored_values
    assert ck.bytes == nbytes == weight_plan(spec, "bf16").bytes
    assert ck.params_by_dtype == {"bf16": ck.params} and ck.spec is not None
    assert ck.metadata["format"] == "pt" and ck.quantization is None
    t = ck.tensor("model.layers.0.self_attn.q_proj.weight")
    assert t.shape == (256, 256) and t.bytes == 256 * 256 * 2 and t.offset >= 8


def test_sharded_folder_with_index(tmp_path):
    spec = spec_from_config(TINY, "tiny")
    d = model_dir(tmp_path, TINY)
    ts = list(tensors(spec))
    half = len(ts) // 2
    wm = {}
    total = 0
    for i, chunk in enumerate((ts[:half], ts[half:]), 1):
        fn = f"model-0000{i}-of-00002.safetensors"
        total += write_st(d / fn, [(t.name, "BF16", list(t.shape)) for t in chunk])
        wm.update({t.name: fn for t in chunk})
    (d / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": wm}))
    for target in (d, d / "model.safetensors.index.json"):
        ck = read_safetensors(target)
        assert ck.params == count(spec).total and ck.bytes == total
        assert {t.file for t in ck.tensors} == {"model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"}
    wm["model.extra.weight"] = "model-00001-of-00002.safetensors"
    (d / "model.safetensors.index.json").write_text(json.dumps({"weight_map": wm}))
    with pytest.raises(LlmsizeError, match="lists 'model.extra.weight' in .*but that shard lacks it"):
        read_safetensors(d)


def test_tied_head_stored_twice(tmp_path):
    """Qwen3-0.6B's checkpoint stores lm_head and the tied embeddings: 751,632,384 values vs PyTorch's
    596,049,920. Same situation, tiny."""
    cfg = {**TINY, "model_type": "qwen3", "tie_word_embeddings": True, "head_dim": 64}
    spec = spec_from_config(cfg, "tiny-tied")
    d = model_dir(tmp_path, cfg)
    entries = [(t.name, "BF16", list(t.shape)) for t in tensors(spec)] + [("lm_head.weight", "BF16", [512, 256])]
    write_st(d / "model.safetensors", entries)
    ck = read_safetensors(d)
    assert ck.params == count(spec).total
    assert ck.stored_values == count(spec).total + 512 * 256
    assert any("stores both" in n and f"{ck.stored_values:,} stored values" in n for n in ck.notes)


def _quant_entries(spec, fmt: str, offset_text: str = "0.0213623046875") -> tuple[list, dict]:
    """Tensors as the format's checkpoints store them, from the plan's parts."""
    plan = weight_plan(spec, fmt)
    entries, blobs = [], {}
    for tq in plan.tensors:
        if tq.format in ("bf16", "fp32"):
            entries.append((tq.name, "BF16" if tq.format == "bf16" else "F32", list(tq.shape)))
            continue
        out, inp = tq.shape
        p = tq.name[: -len(".weight")]
        if fmt.startswith("gptq"):
            g = inp // 128
            entries += [(p + ".qweight", "I32", [inp // 8, out]), (p + ".qzeros", "I32", [g, out // 8]),
                        (p + ".scales", "F16", [g, out]), (p + ".g_idx", "I32", [inp])]
        elif fmt.startswith("awq"):
            g = inp // 128
            entries += [(p + ".qweight", "I32", [inp, out // 8]), (p + ".qzeros", "I32", [g, out // 8]),
                        (p + ".scales", "F16", [g, out])]
        elif fmt == "nf4-dq":
            n = out * inp
            blocks = math.ceil(n / 64)
            js = json.dumps({"quant_type": "nf4", "blocksize": 64, "dtype": "bfloat16", "shape": [out, inp],
                             "nested_blocksize": 256, "nested_dtype": "float32", "nested_offset": 0.5})
            js = js.replace("0.5}", offset_text + "}").encode()
            w = tq.name
            entries += [(w, "U8", [(n + 1) // 2, 1]), (w + ".absmax", "U8", [blocks]),
                        (w + ".nested_absmax", "F32", [math.ceil(blocks / 256)]),
                        (w + ".nested_quant_map", "F32", [256]), (w + ".quant_map", "F32", [16]),
                        (w + ".quant_state.bitsandbytes__nf4", "U8", [len(js)])]
            blobs[w + ".quant_state.bitsandbytes__nf4"] = js
        elif fmt == "int8":
            entries += [(tq.name, "I8", [out, inp]), (p + ".SCB", "F32", [out]), (p + ".weight_format", "U8", [])]
        elif fmt == "fp8":
            entries += [(tq.name, "F8_E4M3", [out, inp]), (tq.name + "_scale", "BF16", [out, 1])]
        elif fmt == "fp8-block":
            entries += [(tq.name, "F8_E4M3", [out, inp]),
                        (tq.name + "_scale_inv", "F32", [math.ceil(out / 128), math.ceil(inp / 128)])]
        else:
            raise AssertionError(fmt)
    return entries, blobs


@pytest.mark.parametrize("fmt,label", [("gptq-int4-g128", "gptq-int4"), ("awq-int4-g128", "awq-int4"),
                                       ("int8", "bnb-int8"), ("fp8", "fp8-e4m3"), ("fp8-block", "fp8-e4m3")])
def test_quantized_checkpoint_bytes_exact(tmp_path, fmt, label):
    spec = spec_from_config(TINY, "tiny")
    d = model_dir(tmp_path, TINY)
    entries, _ = _quant_entries(spec, fmt)
    nbytes = write_st(d / "model.safetensors", entries)
    ck = read_safetensors(d)
    assert ck.bytes == nbytes == weight_plan(spec, fmt).bytes
    assert ck.params == count(spec).total  # unpacked
    assert ck.params_by_dtype[label] == sum(t.numel for t in tensors(spec) if t.linear and t.layer is not None)
    assert ck.stored_values != ck.params or fmt.startswith(("int8", "fp8"))


def test_bnb_nf4_double_quant(tmp_path):
    spec = spec_from_config(TINY, "tiny")
    d = model_dir(tmp_path, TINY)
    entries, blobs = _quant_entries(spec, "nf4-dq")
    nbytes = write_st(d / "model.safetensors", entries, blobs=blobs)
    ck = read_safetensors(d)
    plan = weight_plan(spec, "nf4-dq")
    blob_ck = sum(t.bytes for t in ck.tensors if t.part == "quant_state")
    blob_plan = sum(dict(t.parts).get("quant_state.bitsandbytes__nf4", 0) for t in plan.tensors)
    assert ck.bytes - blob_ck == plan.bytes - blob_plan  # every tensor but the JSON blobs: exact
    assert abs(blob_ck - blob_plan) <= 8 * 14  # the blobs: within a few bytes each (float text length)
    assert ck.bytes == nbytes and ck.params == count(spec).total
    assert "bnb-nf4-dq" in ck.params_by_dtype and ck.quantization == "bitsandbytes-nf4"


def test_mxfp4_gpt_oss_layout(tmp_path):
    cfg = {"model_type": "gpt_oss", "hidden_size": 64, "intermediate_size": 64, "num_hidden_layers": 2,
           "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 16, "num_local_experts": 4,
           "num_experts_per_tok": 2, "vocab_size": 128, "sliding_window": 8, "max_position_embeddings": 256}
    spec = spec_from_config(cfg, "tiny-oss")
    d = model_dir(tmp_path, cfg)
    entries = []
    for t in tensors(spec):
        if t.role in ("ffn_gate_up_exps", "ffn_down_exps"):
            e, out, inp = t.shape
            entries += [(t.name + "_blocks", "U8", [e, out, inp // 32, 16]), (t.name + "_scales", "U8", [e, out, inp // 32])]
        else:
            entries.append((t.name, "BF16", list(t.shape)))
    nbytes = write_st(d / "model.safetensors", entries)
    ck = read_safetensors(d)
    assert ck.bytes == nbytes == weight_plan(spec, "mxfp4").bytes
    assert ck.params == count(spec).total and ck.quantization == "mxfp4"


def test_truncated_file(tmp_path):
    p = tmp_path / "a.safetensors"
    p.write_bytes(b"\x01\x02")
    with pytest.raises(LlmsizeError, match="truncated"):
        read_safetensors(p)


def test_header_length_past_end_no_allocation(tmp_path):
    p = tmp_path / "a.safetensors"
    p.write_bytes(struct.pack("<Q", 2**62) + b"{}")
    with pytest.raises(LlmsizeError, match="exceeds the file size"):
        read_safetensors(p)


def test_malformed_json(tmp_path):
    p = tmp_path / "a.safetensors"
    p.write_bytes(struct.pack("<Q", 5) + b"{oops")
    with pytest.raises(LlmsizeError, match="malformed safetensors header JSON"):
        read_safetensors(p)


def test_offsets_out_of_range(tmp_path):
    p = tmp_path / "a.safetensors"
    h = json.dumps({"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}).encode()
    p.write_bytes(struct.pack("<Q", len(h)) + h + b"\0" * 8)
    with pytest.raises(LlmsizeError, match="out of range"):
        read_safetensors(p)


def test_bytes_do_not_match_shape(tmp_path):
    p = tmp_path / "a.safetensors"
    h = json.dumps({"w": {"dtype": "F32", "shape": [3], "data_offsets": [0, 16]}}).encode()
    p.write_bytes(struct.pack("<Q", len(h)) + h + b"\0" * 16)
    with pytest.raises(LlmsizeError, match="needs 12"):
        read_safetensors(p)


def test_unknown_dtype_and_missing(tmp_path):
    p = tmp_path / "a.safetensors"
    h = json.dumps({"w": {"dtype": "Q4", "shape": [2], "data_offsets": [0, 1]}}).encode()
    p.write_bytes(struct.pack("<Q", len(h)) + h + b"\0")
    with pytest.raises(LlmsizeError, match="unknown dtype 'Q4'"):
        read_safetensors(p)
    with pytest.raises(LlmsizeError, match="no such file"):
        read_safetensors(tmp_path / "nope.safetensors")
