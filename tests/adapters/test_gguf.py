"""GGUF headers: files written with the gguf package's writer (and by hand for broken ones); the
predicted per-tensor types and bytes equal the file's."""
from __future__ import annotations

import struct
from pathlib import Path

import pytest

from llmsize.adapters.gguf import read_gguf
from llmsize.adapters.hf_config import spec_from_config
from llmsize.errors import LlmsizeError
from llmsize.params import count
from llmsize.quant.gguf_presets import gguf_plan, tensor_types
from llmsize.quant.ggml_types import tensor_bytes

gguf = pytest.importorskip("gguf")
np = pytest.importorskip("numpy")

TINY = {"model_type": "llama", "hidden_size": 256, "intermediate_size": 512, "num_hidden_layers": 4,
        "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 512, "max_position_embeddings": 1024,
        "tie_word_embeddings": False}


def write_gguf(path: Path, spec, ftype: str, arch: str = "llama", **opts) -> dict[str, str]:
    """A GGUF file of `spec` quantized by our port of llama.cpp's rules, zero-filled data."""
    w = gguf.GGUFWriter(str(path), arch)
    a = spec.attention
    w.add_block_count(spec.num_layers)
    w.add_embedding_length(spec.hidden_size)
    w.add_feed_forward_length(spec.mlp.intermediate_size)
    w.add_head_count(a.num_heads)
    w.add_head_count_kv(a.num_kv_heads)
    w.add_context_length(spec.max_position_embeddings)
    if a.head_dim != spec.hidden_size // a.num_heads:
        w.add_key_length(a.head_dim)
        w.add_value_length(a.head_dim)
    w.add_file_type(int(getattr(gguf.LlamaFileType, "MOSTLY_" + ftype)))
    w.add_array("tokenizer.ggml.tokens", [f"t{i}" for i in range(spec.vocab_size)])
    types = {}
    for g, t in tensor_types(spec, ftype, **opts):
        qt = gguf.GGMLQuantizationType[t.name]
        nbytes = tensor_bytes(t, g.ne)
        rows = nbytes // (tensor_bytes(t, (g.ne[0],)))
        data = np.zeros((rows, nbytes // rows), dtype=np.uint8)
        if t.name == "F32":
            w.add_tensor(g.name, np.zeros(tuple(reversed(g.ne)), dtype=np.float32))
        elif t.name == "F16":
            w.add_tensor(g.name, np.zeros(tuple(reversed(g.ne)), dtype=np.float16))
        else:
            w.add_tensor(g.name, data.reshape(*reversed(g.ne[1:]), -1), raw_dtype=qt)
        types[g.name] = t.name
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return types


@pytest.mark.parametrize("ftype", ["Q4_K_M", "Q6_K", "Q8_0", "IQ4_XS", "Q2_K"])
def test_predicted_types_and_bytes_equal_file(tmp_path, ftype):
    spec = spec_from_config(TINY, "tiny")
    path = tmp_path / f"tiny-{ftype}.gguf"
    types = write_gguf(path, spec, ftype)
    ck = read_gguf(path)
    plan = gguf_plan(spec, ftype)
    assert {t.name: t.dtype for t in ck.tensors} == types == {t.name: t.format for t in plan.tensors}
    assert {t.name: t.bytes for t in ck.tensors} == {t.name: t.bytes for t in plan.tensors}
    assert ck.bytes == plan.bytes and ck.params == count(spec).total
    assert ck.quantization == ftype and ck.format == "gguf"
    assert ck.file_bytes > ck.bytes  # header, vocabulary and alignment padding
    s = ck.spec
    assert s is not None and (s.hidden_size, s.num_layers, s.vocab_size, s.attention.num_kv_heads) == (256, 4, 512, 2)
    assert not s.tie_word_embeddings
    assert ck.metadata["tokenizer.ggml.tokens"] == "<array of 512 str>"
    t = ck.tensor("blk.0.ffn_down.weight")
    assert t.shape == (256, 512)  # PyTorch order (out, in); GGUF ne = (512, 256)
    # the gguf package's own reader sees the same types, sizes and data offsets
    theirs = {x.name: (x.tensor_type.name, int(x.n_bytes), int(x.data_offset)) for x in gguf.GGUFReader(str(path)).tensors}
    assert theirs == {x.name: (x.dtype, x.bytes, x.offset) for x in ck.tensors}


def test_tied_and_qwen3_spec(tmp_path):
    cfg = {**TINY, "model_type": "qwen3", "tie_word_embeddings": True, "head_dim": 128}
    spec = spec_from_config(cfg, "tiny-qwen3")
    path = tmp_path / "q.gguf"
    write_gguf(path, spec, "Q4_K_M", arch="qwen3")
    ck = read_gguf(path)
    assert ck.spec is not None and ck.spec.tie_word_embeddings and ck.spec.attention.head_dim == 128
    assert ck.spec.attention.qk_norm == "head"
    assert ck.params == count(spec).total
    assert ck.tensor("token_embd.weight").dtype == "Q6_K"  # tied: the output rule applies


def test_mixtral_spec_from_metadata(tmp_path):
    cfg = {**TINY, "model_type": "mixtral", "num_local_experts": 4, "num_experts_per_tok": 2}
    spec = spec_from_config(cfg, "tiny-moe")
    path = tmp_path / "m.gguf"
    w = gguf.GGUFWriter(str(path), "llama")
    for k, v in (("block_count", 4), ("embedding_length", 256), ("feed_forward_length", 512), ("head_count", 4),
                 ("head_count_kv", 2), ("expert_count", 4), ("expert_used_count", 2)):
        getattr(w, f"add_{k}")(v)
    for g, t in tensor_types(spec, "Q4_0"):
        w.add_tensor(g.name, np.zeros((tensor_bytes(t, g.ne),), dtype=np.uint8).reshape(*reversed(g.ne[1:]), -1),
                     raw_dtype=gguf.GGMLQuantizationType[t.name])
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    ck = read_gguf(path)
    assert ck.spec is not None and ck.spec.moe is not None and ck.spec.moe.num_experts == 4
    assert ck.params == count(spec).total and ck.bytes == gguf_plan(spec, "Q4_0").bytes


def _handmade(path: Path, *, magic=b"GGUF", version=3, n_tensors=1, n_kv=0, ttype=2, dims=(32,), offset=0,
              data=18) -> Path:
    b = magic + struct.pack("<IQQ", version, n_tensors, n_kv)
    name = b"w.weight"
    b += struct.pack("<Q", len(name)) + name + struct.pack("<I", len(dims))
    b += b"".join(struct.pack("<Q", d) for d in dims) + struct.pack("<IQ", ttype, offset)
    b += b"\0" * (-len(b) % 32) + b"\0" * data
    path.write_bytes(b)
    return path


def test_handmade_ok(tmp_path):
    ck = read_gguf(_handmade(tmp_path / "ok.gguf"))
    assert ck.tensors[0].dtype == "Q4_0" and ck.bytes == 18 and ck.spec is None
    assert any("not mapped" in n for n in ck.notes)


def test_unknown_type_id(tmp_path):
    with pytest.raises(LlmsizeError, match=r"unknown ggml type id 77; known ids: 0=F32, 1=F16"):
        read_gguf(_handmade(tmp_path / "t.gguf", ttype=77))


def test_bad_magic(tmp_path):
    with pytest.raises(LlmsizeError, match="bad magic"):
        read_gguf(_handmade(tmp_path / "m.gguf", magic=b"GGUX"))


def test_truncated(tmp_path):
    p = _handmade(tmp_path / "t.gguf")
    p.write_bytes(p.read_bytes()[:30])
    with pytest.raises(LlmsizeError, match="truncated"):
        read_gguf(p)
    with pytest.raises(LlmsizeError, match="truncated"):
        read_gguf(_handmade(tmp_path / "d.gguf", data=10))  # tensor data runs past the end


def test_absurd_counts(tmp_path):
    with pytest.raises(LlmsizeError, match="absurd tensor count"):
        read_gguf(_handmade(tmp_path / "a.gguf", n_tensors=2**60))
    with pytest.raises(LlmsizeError, match="absurd metadata count"):
        read_gguf(_handmade(tmp_path / "b.gguf", n_kv=2**40))
    with pytest.raises(LlmsizeError, match="dims"):
        read_gguf(_handmade(tmp_path / "c.gguf", dims=(32, 1, 1, 1, 1)))


def test_row_not_multiple_of_block(tmp_path):
    with pytest.raises(LlmsizeError, match="not a multiple"):
        read_gguf(_handmade(tmp_path / "r.gguf", dims=(33,)))


def test_string_array_past_the_end(tmp_path):
    key = b"tokenizer.ggml.tokens"
    b = b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + struct.pack("<Q", len(key)) + key
    b += struct.pack("<IIQ", 9, 8, 100) + struct.pack("<Q", 2**40) + b"\0" * 1000
    p = tmp_path / "s.gguf"
    p.write_bytes(b)
    with pytest.raises(LlmsizeError, match="truncated"):
        read_gguf(p)
