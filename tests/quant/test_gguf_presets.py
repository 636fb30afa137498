"""llama.cpp preset rules reproduce published sizes from the config alone."""
import pytest

from llmsize.errors import LlmsizeError
from llmsize.quant.gguf_presets import gguf_plan, gguf_tensors, preset, tensor_types

GIB = 2**30
# tools/quantize/README.md, meta-llama/Llama-3.1-8B: bits/weight per preset (n_elements includes the
# 64-value rope_freqs tensor that Llama 3.1 GGUFs carry and our spec does not)
LLAMA31_8B_BPW = {"IQ1_S": 2.0042, "IQ1_M": 2.1460, "IQ2_XXS": 2.3824, "IQ2_XS": 2.5882, "IQ2_S": 2.7403,
                  "IQ2_M": 2.9294, "IQ3_XXS": 3.2548, "IQ3_XS": 3.4977, "IQ3_S": 3.6606, "IQ3_M": 3.7628,
                  "Q2_K_S": 2.9697, "Q2_K": 3.1593, "Q3_K_S": 3.6429, "Q3_K_L": 4.2979, "Q4_K_S": 4.6672,
                  "Q4_K_M": 4.8944, "Q5_K_S": 5.5704, "Q5_K_M": 5.7036, "Q6_K": 6.5633, "Q8_0": 8.5008,
                  "F16": 16.0005}
# IQ4_XS / IQ4_NL rows of that table match the rules without an importance matrix
LLAMA31_8B_BPW_NO_IMATRIX = {"IQ4_XS": 4.4597, "IQ4_NL": 4.6818}


@pytest.mark.parametrize("ftype", sorted(LLAMA31_8B_BPW))
def test_llama31_8b_bits_per_weight(specs, ftype):
    p = gguf_plan(specs["llama-3.1-8b"], ftype, imatrix=True)
    assert round(p.bytes * 8 / (p.params + 64), 4) == LLAMA31_8B_BPW[ftype]


@pytest.mark.parametrize("ftype", sorted(LLAMA31_8B_BPW_NO_IMATRIX))
def test_llama31_8b_iq4(specs, ftype):
    p = gguf_plan(specs["llama-3.1-8b"], ftype)
    assert round(p.bytes * 8 / (p.params + 64), 4) == LLAMA31_8B_BPW_NO_IMATRIX[ftype]


def test_mixtral_q4_0(specs):
    """llama-bench: mixtral 8x7B Q4_0, 24.62 GiB, 46.70 B params (4.53 bpw)."""
    p = gguf_plan(specs["mixtral-8x7b"], "Q4_0")
    assert p.params == 46_702_792_704
    assert p.bytes == 26_442_850_304
    assert abs(p.bytes / GIB - 24.62) / 24.62 < 0.005
    assert round(float(p.bits_per_weight), 2) == 4.53
    types = {t.name: t.format for t in p.tensors}
    # the 8-expert rule: attn_v and attn_k go to Q8_0; output Q6_K; router stays F32
    assert types["blk.0.attn_v.weight"] == types["blk.0.attn_k.weight"] == "Q8_0"
    assert types["output.weight"] == "Q6_K" and types["token_embd.weight"] == "Q4_0"
    assert types["blk.0.ffn_gate_inp.weight"] == "F32"


def test_qwen2_72b_q6_k(specs):
    """59.92 GiB: ffn_down rows of 29568 are not multiples of 256 and fall back from Q6_K to Q8_0."""
    p = gguf_plan(specs["qwen2-72b"], "Q6_K")
    assert abs(p.bytes / GIB - 59.92) / 59.92 < 0.005
    assert round(p.bytes / GIB, 2) == 59.92
    types = {t.name: t.format for t in p.tensors}
    assert types["blk.3.ffn_down.weight"] == "Q8_0" and types["blk.3.ffn_up.weight"] == "Q6_K"
    assert any("29568" in n for n in p.notes)


def test_deepseek_r1_3926_bpw(specs):
    """ik_llama.cpp issue #263 (davidsyoung): 'deepseek2 671B Q8_0 | 307.20 GiB | 672.05 B' = 3.926 bpw.
    Its mix: Q8_0 attention, dense FFN, embeddings and output; shared experts Q5_K; routed experts of
    layers 3-8 Q5_K down / IQ4_XS gate+up; layers 9-60 IQ4_XS down / IQ3_S gate+up; the file keeps
    attn_kv_b and the split attn_k_b/attn_v_b (672.05 B values)."""
    mix = [(r"blk\.[3-8]\.ffn_down_exps", "Q5_K"), (r"blk\.[3-8]\.ffn_(gate|up)_exps", "IQ4_XS"),
           (r"ffn_down_exps", "IQ4_XS"), (r"ffn_(gate|up)_exps", "IQ3_S"), (r"shexp", "Q5_K")]
    p = gguf_plan(specs["deepseek-r1"], "Q8_0", overrides=mix, mla="both")
    assert round(p.params / 1e9, 2) == 672.05
    assert round(p.bytes / GIB, 2) == 307.20
    assert round(float(p.bits_per_weight), 3) == 3.926
    assert p.by_format()["F32"]["tensors"] == 361  # as llama_model_loader reports for DeepSeek-R1 GGUFs


# llama-bench "size | params" columns as posted in many llama.cpp threads (GiB, 2 decimals; params in B)
LLAMA_BENCH = [("llama-2-7b", "Q4_0", 3.56, 6.74), ("llama-2-7b", "Q8_0", 6.67, 6.74),
               ("llama-3.1-8b", "Q4_K_M", 4.58, 8.03), ("qwen3-30b-a3b", "Q4_K_M", 17.28, 30.53),
               ("gpt-oss-20b", "MXFP4_MOE", 11.27, 20.91), ("gpt-oss-120b", "MXFP4_MOE", 59.02, 116.83)]


@pytest.mark.parametrize("model,ftype,gib,billions", LLAMA_BENCH)
def test_llama_bench_sizes(specs, model, ftype, gib, billions):
    p = gguf_plan(specs[model], ftype)
    assert round(p.bytes / GIB, 2) == gib
    assert round(p.params / 1e9, 2) == billions


def test_q4_k_m_rules(specs):
    s = specs["llama-3.1-8b"]
    types = {g.name: t.name for g, t in tensor_types(s, "Q4_K_M")}
    # use_more_bits(i, 32): i < 4, i >= 28, (i - 4) % 3 == 2
    more = [i for i in range(32) if types[f"blk.{i}.attn_v.weight"] == "Q6_K"]
    assert more == [0, 1, 2, 3, 6, 9, 12, 15, 18, 21, 24, 27, 28, 29, 30, 31]
    assert [i for i in range(32) if types[f"blk.{i}.ffn_down.weight"] == "Q6_K"] == more
    assert types["output.weight"] == "Q6_K" and types["token_embd.weight"] == "Q4_K"
    assert types["blk.5.attn_q.weight"] == "Q4_K" and types["blk.5.attn_norm.weight"] == "F32"


def test_70b_attn_v_bump(specs):
    types = {g.name: t.name for g, t in tensor_types(specs["llama-3.3-70b"], "Q4_K_S")}
    assert types["blk.10.attn_v.weight"] == "Q5_K"  # Q4_K bumped for LLM_TYPE_70B


def test_tied_embeddings_use_output_rule(specs):
    types = {g.name: t.name for g, t in tensor_types(specs["qwen3-0.6b"], "Q4_K_M")}
    assert "output.weight" not in types and types["token_embd.weight"] == "Q6_K"


def test_mxfp4_moe_preset(specs):
    types = {g.name: t.name for g, t in tensor_types(specs["gpt-oss-20b"], "MXFP4_MOE")}
    assert types["blk.0.ffn_down_exps.weight"] == "MXFP4" and types["blk.0.ffn_gate_exps.weight"] == "MXFP4"
    assert types["blk.0.attn_q.weight"] == "Q8_0" and types["output.weight"] == "Q8_0"
    assert types["blk.0.ffn_gate_exps.bias"] == "F32"


def test_pure_and_overrides(specs):
    s = specs["tiny-llama"]
    pure = {g.name: t.name for g, t in tensor_types(s, "Q4_K_M", pure=True)}
    assert pure["output.weight"] == "Q4_K" and pure["blk.0.attn_v.weight"] == "Q4_K"
    o = {g.name: t.name for g, t in tensor_types(s, "Q4_K_M", overrides=[("attn_q", "q8_0")],
                                                  output_type="f16", token_embd_type="q8_0")}
    assert o["blk.1.attn_q.weight"] == "Q8_0" and o["output.weight"] == "F16" and o["token_embd.weight"] == "Q8_0"


def test_fallback():
    from llmsize.adapters.hf_config import spec_from_config

    odd = spec_from_config({"model_type": "llama", "hidden_size": 96, "intermediate_size": 100,
                            "num_hidden_layers": 1, "num_attention_heads": 2, "vocab_size": 64}, "odd")
    types = {g.name: t.name for g, t in tensor_types(odd, "Q4_K_M")}
    assert types["blk.0.attn_q.weight"] == "Q5_0"  # 96 % 256 != 0: Q4_K -> Q5_0
    assert types["blk.0.ffn_down.weight"] == "F16"  # 100 is not a multiple of 32 either
    assert types["output.weight"] == "Q8_0"  # the output rule: rows not divisible -> Q8_0
    # as llama.cpp, a type with no fallback (Q8_0 on rows of 72) is an error, never a silent guess
    bad = spec_from_config({"model_type": "llama", "hidden_size": 72, "intermediate_size": 96,
                            "num_hidden_layers": 1, "num_attention_heads": 2, "vocab_size": 64}, "bad")
    with pytest.raises(LlmsizeError, match="no tensor type fallback is defined for type Q8_0"):
        tensor_types(bad, "Q4_K_M")


def test_unknown_preset():
    with pytest.raises(LlmsizeError, match="did you mean 'Q4_K_M'"):
        preset("Q4_K_MM")


def test_gguf_tensor_names(specs):
    names = {g.name for g in gguf_tensors(specs["deepseek-r1"])}
    assert {"blk.3.ffn_gate_exps.weight", "blk.3.ffn_up_exps.weight", "blk.3.exp_probs_b.bias",
            "blk.0.attn_kv_a_mqa.weight", "blk.0.attn_kv_b.weight"} <= names
    split = {g.name for g in gguf_tensors(specs["deepseek-r1"], mla="split")}
    assert "blk.0.attn_kv_b.weight" not in split and "blk.0.attn_k_b.weight" in split
