"""llama.cpp's `llama_tensor_get_type`, ported branch for branch: which ggml type a GGUF tensor gets
under a preset (src/llama-quant.cpp: tensor_allows_quantization, llama_tensor_get_type_impl,
tensor_type_fallback). Tensors, model facts and counters come from llmsize.quant.gguf_presets.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from llmsize.errors import LlmsizeError
from llmsize.quant.ggml_types import ggml_type

if TYPE_CHECKING:
    from llmsize.quant.gguf_presets import GTensor

_IQ2_FAMILY = {"IQ2_XXS", "IQ2_XS", "IQ1_S", "IQ2_S", "IQ2_M", "IQ1_M"}


def category(name: str) -> str:
    if name == "output.weight":
        return "OUTPUT"
    if name in ("token_embd.weight", "per_layer_token_embd.weight"):
        return "TOKEN_EMBD"
    for pat, cat in (("attn_qkv.weight", "ATTENTION_QKV"), ("attn_kv_b.weight", "ATTENTION_KV_B"),
                     ("attn_v.weight", "ATTENTION_V"), ("attn_k.weight", "ATTENTION_K"),
                     ("attn_q.weight", "ATTENTION_Q"), ("attn_output.weight", "ATTENTION_OUTPUT"),
                     ("ffn_up", "FFN_UP"), ("ffn_gate", "FFN_GATE"), ("ffn_down", "FFN_DOWN")):
        if pat in name:
            return cat
    return "OTHER"


def attn_v_like(cat: str) -> bool:
    return cat in ("ATTENTION_V", "ATTENTION_QKV", "ATTENTION_KV_B")


def allows_quantization(g: GTensor, *, quantize_output: bool = True) -> bool:
    """tensor_allows_quantization: 2-D/3-D weights other than norms, routers, position tables and the
    state-space layers' conv kernels.

    Source: llama-quant"""
    if len(g.ne) < 2 or not g.name.endswith("weight"):
        return False
    n = g.name
    if "_norm.weight" in n or "ffn_gate_inp.weight" in n or n == "position_embd.weight":
        return False
    if "ssm_conv1d.weight" in n or "shortconv.conv.weight" in n:  # Mamba's, Jamba's, LFM2's small conv kernels
        return False
    return quantize_output or n != "output.weight"


def _use_more_bits(i: int, n: int) -> bool:
    # use_more_bits(i, n) = i < n/8 || i >= 7n/8 || (i - n/8) % 3 == 2   (C integer division)
    return i < n // 8 or i >= 7 * n // 8 or _cmod(i - n // 8, 3) == 2


def _cmod(a: int, b: int) -> int:
    """C's % (truncates toward zero)."""
    r = abs(a) % b
    return -r if a < 0 else r


@dataclass
class State:
    n_attention_wv: int = 0
    i_attention_wv: int = 0
    i_ffn_down: int = 0
    i_ffn_gate: int = 0
    i_ffn_up: int = 0
    n_fallback: int = 0


@dataclass(frozen=True, slots=True)
class Model:
    arch: str
    n_layer: int
    n_expert: int
    n_gqa: int
    is_70b: bool
    tied: bool
    imatrix: bool


def _layer_of(g: GTensor, counter: int, m: Model) -> int:
    # layer_info: with experts the layer comes from the name (blk.N.), else from the running counter
    if m.n_expert > 1:
        if g.layer is None:
            raise LlmsizeError(f"Failed to determine layer for tensor {g.name}")
        return g.layer
    return counter


def get_type_impl(st: State, m: Model, g: GTensor, ftype: str, new: str, cat: str) -> str:  # noqa: C901
    """llama_tensor_get_type_impl, branch for branch.

    Source: llama-quant"""
    f = ftype
    if cat == "OUTPUT" or (m.tied and cat == "TOKEN_EMBD"):
        qk = ggml_type(new).block
        if f == "MXFP4_MOE":
            return "Q8_0"
        if m.arch == "falcon" or g.ne[0] % qk:
            return "Q8_0"
        if f in ("IQ2_XXS", "IQ2_XS", "IQ3_XXS", "IQ1_S", "IQ2_S", "IQ2_M", "IQ1_M"):
            return "Q5_K"
        return new if new == "Q8_0" else "Q6_K"
    if f == "MXFP4_MOE":
        return "MXFP4" if len(g.ne) > 2 and g.ne[2] > 1 else "Q8_0"
    if cat == "TOKEN_EMBD":
        if f in ("IQ2_XXS", "IQ2_XS", "IQ1_S", "IQ1_M"):
            return "Q2_K"
        if f in ("IQ2_S", "IQ2_M", "IQ3_XXS"):
            return "IQ3_S"
        if f in ("TQ1_0", "TQ2_0"):
            return "Q4_K"
        return new
    if f in _IQ2_FAMILY:
        if attn_v_like(cat):
            if m.n_gqa >= 4 or m.n_expert >= 4:
                new = "Q4_K"
            else:
                new = "IQ3_S" if f in ("IQ2_S", "IQ2_M") else "Q2_K"
            st.i_attention_wv += 1
        elif m.n_expert == 8 and cat == "ATTENTION_K":
            new = "Q4_K"
        elif cat == "FFN_DOWN":
            if st.i_ffn_down < m.n_layer // 8:
                new = "IQ3_S" if f in ("IQ2_S", "IQ2_M") else "Q2_K"
            st.i_ffn_down += 1
        elif cat == "ATTENTION_OUTPUT":
            if m.n_expert == 8:
                new = "Q5_K"
            elif f in ("IQ1_S", "IQ1_M"):
                new = "IQ2_XXS"
            elif f in ("IQ2_S", "IQ2_M"):
                new = "IQ3_S"
        return new
    if attn_v_like(cat):
        if f == "Q2_K":
            new = "Q4_K" if m.n_gqa >= 4 else "Q3_K"
        elif f == "Q2_K_S" and m.n_gqa >= 4:
            new = "Q4_K"
        elif f == "IQ3_XXS":
            new = "Q4_K" if m.n_gqa >= 4 else ("IQ3_S" if not m.imatrix else "IQ3_XXS")
        elif f in ("IQ3_XS", "IQ3_S") and m.n_gqa >= 4:
            new = "Q4_K"
        elif f == "IQ3_M":
            new = "Q4_K"
        elif f == "Q3_K_M":
            new = "Q5_K" if st.i_attention_wv < 2 else "Q4_K"
        elif f == "Q3_K_L":
            new = "Q5_K"
        elif f in ("IQ4_NL", "IQ4_XS") and m.n_gqa >= 4:
            new = "Q5_K"
        elif f in ("Q4_K_M", "Q5_K_M") and _use_more_bits(st.i_attention_wv, st.n_attention_wv):
            new = "Q6_K"
        elif f == "Q4_K_S" and st.i_attention_wv < 4:
            new = "Q5_K"
        if m.is_70b and new in ("Q3_K", "Q4_K"):
            new = "Q5_K"  # 8 heads share attn_v in the 70B: more bits for almost no size
        if m.n_expert == 8:
            new = "Q8_0"
        st.i_attention_wv += 1
        return new
    if cat == "ATTENTION_K":
        if m.n_expert == 8:
            return "Q8_0"
        if f == "IQ3_XS":
            return "IQ3_XXS"
        if f == "IQ3_XXS":
            return "IQ2_S"
        return new
    if cat == "ATTENTION_Q":
        if f == "IQ3_XS":
            return "IQ3_XXS"
        if f == "IQ3_XXS":
            return "IQ2_S"
        return new
    if cat == "FFN_DOWN":
        i, n = _layer_of(g, st.i_ffn_down, m), m.n_layer
        if f == "Q2_K":
            new = "Q3_K"
        elif f == "Q2_K_S":
            if i < n // 8:
                new = "Q4_K"
        elif f == "IQ3_XXS" and not m.imatrix:
            new = "Q4_K" if i < n // 8 else "Q3_K"
        elif f == "Q3_K_M":
            new = ("Q5_K" if i < n // 16 else
                   "Q4_K" if m.arch != "falcon" or _use_more_bits(i, n) else "Q3_K")
        elif f == "IQ3_M" and (i < n // 8 or (m.n_expert == 8 and _use_more_bits(i, n))):
            new = "Q4_K"
        elif f == "Q3_K_L":
            new = "Q4_K" if m.arch == "falcon" else "Q5_K"
        elif f == "Q4_K_M":
            if m.arch == "falcon":
                new = "Q6_K" if i < n // 16 else ("Q5_K" if _use_more_bits(i, n) else "Q4_K")
            elif _use_more_bits(i, n):
                new = "Q6_K"
        elif i < n // 8 and f in ("IQ4_NL", "IQ4_XS") and not m.imatrix:
            new = "Q5_K"
        elif f == "Q5_K_M" and _use_more_bits(i, n):
            new = "Q6_K"
        elif f == "Q4_K_S" and m.arch != "falcon" and i < n // 8:
            new = "Q5_K"
        elif f in ("Q4_0", "Q5_0") and m.imatrix and i < n // 8:
            new = "Q4_1" if f == "Q4_0" else "Q5_1"
        st.i_ffn_down += 1
        return new
    if cat == "ATTENTION_OUTPUT":
        if m.arch != "falcon":
            if m.n_expert == 8:
                if f in ("Q2_K", "IQ3_XS", "IQ3_XXS", "Q3_K_S", "Q3_K_M", "IQ4_NL", "Q4_K_S", "Q4_K_M", "IQ3_S",
                         "IQ3_M", "IQ4_XS"):
                    new = "Q5_K"
            else:
                new = {"Q2_K": "Q3_K", "IQ3_XXS": "IQ3_S", "Q3_K_M": "Q4_K", "Q3_K_L": "Q5_K",
                       "IQ3_M": "Q4_K"}.get(f, new)
        elif f == "Q3_K_L":
            new = "Q4_K"
        return new
    if cat == "ATTENTION_QKV":
        if f in ("Q3_K_M", "Q3_K_L", "IQ3_M"):
            return "Q4_K"
        return {"Q4_K_M": "Q5_K", "Q5_K_M": "Q6_K"}.get(f, new)
    if cat in ("FFN_GATE", "FFN_UP"):
        counter = st.i_ffn_gate if cat == "FFN_GATE" else st.i_ffn_up
        i, n = _layer_of(g, counter, m), m.n_layer
        if f == "IQ3_XS" and n // 8 <= i < 7 * n // 8:
            new = "IQ3_XXS"
        if cat == "FFN_GATE":
            st.i_ffn_gate += 1
        else:
            st.i_ffn_up += 1
        return new
    return new


_FALLBACK = {"IQ1_S": "IQ4_NL", "IQ1_M": "IQ4_NL", "IQ2_XXS": "IQ4_NL", "IQ2_XS": "IQ4_NL", "IQ2_S": "IQ4_NL",
             "IQ3_XXS": "IQ4_NL", "IQ3_S": "IQ4_NL", "IQ4_XS": "IQ4_NL", "Q2_0": "Q4_0", "Q2_K": "Q4_0",
             "Q3_K": "Q4_0", "TQ1_0": "Q4_0", "TQ2_0": "Q4_0", "Q4_K": "Q5_0", "Q5_K": "Q5_1", "Q6_K": "Q8_0"}


def fallback(st: State, g: GTensor, new: str) -> str:
    """tensor_type_fallback: a row not divisible by the block size takes a 32-block type, else F16.

    Source: llama-quant"""
    if g.ne[0] % ggml_type(new).block == 0:
        return new
    st.n_fallback += 1
    if new not in _FALLBACK:
        raise LlmsizeError(f"no tensor type fallback is defined for type {new} ({g.name} has rows of {g.ne[0]})")
    ret = _FALLBACK[new]
    return ret if g.ne[0] % ggml_type(ret).block == 0 else "F16"
