"""llama.cpp quantization presets (Q4_K_M, Q6_K, IQ4_XS, ...): which ggml type each tensor gets.

A model's GGUF tensors are listed as convert_hf_to_gguf.py writes them (1-D tensors, norms, routers
and position tables in F32, the rest 16-bit), then every tensor goes through a faithful port of
llama.cpp's `llama_tensor_get_type`: tensor_allows_quantization, the per-category preset rules of
llama_tensor_get_type_impl (use_more_bits, the 8-expert and GQA cases, the 70B attn_v bump, the
token_embd/output rules) and tensor_type_fallback for rows not divisible by the block size.
"""
from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from llmsize.errors import LlmsizeError, did_you_mean
from llmsize.quant.ggml_types import GgmlType, ggml_type, tensor_bytes
from llmsize.quant.weights import TensorQuant, WeightPlan
from llmsize.spec import ModelSpec
from llmsize.tensors import Tensor, tensors

# llama_ftype id and default ggml type (llama_ftype_get_default_type), by preset name
FTYPES: dict[str, tuple[int, str]] = {
    "F32": (0, "F32"), "F16": (1, "F16"), "Q4_0": (2, "Q4_0"), "Q4_1": (3, "Q4_1"), "Q8_0": (7, "Q8_0"),
    "Q5_0": (8, "Q5_0"), "Q5_1": (9, "Q5_1"), "Q2_K": (10, "Q2_K"), "Q3_K_S": (11, "Q3_K"), "Q3_K_M": (12, "Q3_K"),
    "Q3_K_L": (13, "Q3_K"), "Q4_K_S": (14, "Q4_K"), "Q4_K_M": (15, "Q4_K"), "Q5_K_S": (16, "Q5_K"),
    "Q5_K_M": (17, "Q5_K"), "Q6_K": (18, "Q6_K"), "IQ2_XXS": (19, "IQ2_XXS"), "IQ2_XS": (20, "IQ2_XS"),
    "Q2_K_S": (21, "Q2_K"), "IQ3_XS": (22, "IQ3_S"), "IQ3_XXS": (23, "IQ3_XXS"), "IQ1_S": (24, "IQ1_S"),
    "IQ4_NL": (25, "IQ4_NL"), "IQ3_S": (26, "IQ3_S"), "IQ3_M": (27, "IQ3_S"), "IQ2_S": (28, "IQ2_XS"),
    "IQ2_M": (29, "IQ2_S"), "IQ4_XS": (30, "IQ4_XS"), "IQ1_M": (31, "IQ1_M"), "BF16": (32, "BF16"),
    "TQ1_0": (36, "TQ1_0"), "TQ2_0": (37, "TQ2_0"), "MXFP4_MOE": (38, "MXFP4"),
}
_ALIASES = {"Q3_K": "Q3_K_M", "Q4_K": "Q4_K_M", "Q5_K": "Q5_K_M", "MOSTLY_Q4_1_SOME_F16": "Q4_1"}
_IQ2_FAMILY = {"IQ2_XXS", "IQ2_XS", "IQ1_S", "IQ2_S", "IQ2_M", "IQ1_M"}
# model_type -> llama.cpp architecture (only the names the rules test matter: falcon; llama/qwen2 for 70B)
_ARCH = {"llama": "llama", "mistral": "llama", "mixtral": "llama", "qwen2": "qwen2", "falcon": "falcon",
         "deepseek_v3": "deepseek2", "gpt_oss": "gpt-oss", "olmoe": "olmoe"}


def ftype_name(ftype_id: int) -> str | None:
    """Preset name of a llama_ftype id (GGUF general.file_type)."""
    for name, (i, _) in FTYPES.items():
        if i == ftype_id:
            return name
    return "Q4_1_SOME_F16" if ftype_id == 4 else None


def preset(name: str) -> str:
    """Canonical preset name; unknown -> LlmsizeError with suggestions."""
    n = name.strip().upper()
    n = _ALIASES.get(n, n)
    if n not in FTYPES:
        raise did_you_mean(name, list(FTYPES), what="llama.cpp quantization preset")
    return n


@dataclass(frozen=True, slots=True)
class GTensor:
    """A tensor as it appears in a GGUF file: name, ggml dims (ne0 innermost) and the type
    convert_hf_to_gguf.py gives it (F32 or the 16-bit source type)."""

    name: str
    ne: tuple[int, ...]
    source_type: str  # "F32" or "16" (the 16-bit source type, F16 or BF16)
    role: str
    layer: int | None

    @property
    def numel(self) -> int:
        n = 1
        for x in self.ne:
            n *= x
        return n


_NORM_NAMES = ("attn_norm", "ffn_norm", "post_attention_norm", "post_ffw_norm")


def _gguf_names(t: Tensor) -> Iterator[tuple[str, tuple[int, ...]]]:
    """Our tensor -> GGUF tensor name(s) and PyTorch-order shape(s)."""
    role, i = t.role, t.layer
    base, _, suffix = role.partition(".")
    kind = suffix or "weight"
    if i is None:
        name = {"pos_embd": "position_embd"}.get(base, base)
        yield f"{name}.{kind}", t.shape
        return
    if base == "norm":
        k = int(t.name.split(".norm")[-1].split(".")[0])
        yield f"blk.{i}.{_NORM_NAMES[k] if k < 4 else f'norm{k}'}.{kind}", t.shape
    elif base in ("ffn_gate_up_exps",):  # one fused [gate; up] stack in transformers, two tensors in GGUF
        n, two_f = t.shape[0], t.shape[1]
        rest = t.shape[2:]
        for g in ("ffn_gate_exps", "ffn_up_exps"):
            yield f"blk.{i}.{g}.{kind}", (n, two_f // 2, *rest)
    elif base == "ffn_exp_probs_b":
        yield f"blk.{i}.exp_probs_b.bias", t.shape
    else:
        yield f"blk.{i}.{base}.{kind}", t.shape


def gguf_tensors(spec: ModelSpec, *, mla: str = "kv_b") -> tuple[GTensor, ...]:
    """The GGUF tensors of `spec` in llama.cpp's order (by layer, then name).

    mla: how a DeepSeek MLA kv_b projection is written: "kv_b" (attn_kv_b, as converted before 2025),
    "split" (attn_k_b + attn_v_b, current convert_hf_to_gguf.py), "both" (ik_llama.cpp files).

    Source: llama-convert"""
    if mla not in ("kv_b", "split", "both"):
        raise LlmsizeError(f"mla must be kv_b, split or both, got {mla!r}")
    out: list[GTensor] = []
    for t in tensors(spec):
        for name, shape in _gguf_names(t):
            if t.role == "attn_kv_b" and mla != "kv_b":
                a = spec.attention
                assert a.kv_lora_rank is not None
                nope = a.head_dim - a.qk_rope_head_dim
                out.append(GTensor(f"blk.{t.layer}.attn_k_b.weight", (nope, a.kv_lora_rank, a.num_heads), "16",
                                   "attn_k_b", t.layer))
                out.append(GTensor(f"blk.{t.layer}.attn_v_b.weight", (a.kv_lora_rank, a.v_dim, a.num_heads), "16",
                                   "attn_v_b", t.layer))
                if mla == "split":
                    continue
            ne = tuple(reversed(shape))
            # convert_hf_to_gguf.py: 1-D, *_norm.weight, ffn_gate_inp, position tables, non-.weight -> F32
            f32 = (len(ne) <= 1 or name.endswith("_norm.weight") or ".ffn_gate_inp." in name
                   or name.startswith("position_embd") or not name.endswith(".weight"))
            out.append(GTensor(name, ne, "F32" if f32 else "16", t.role, t.layer))
    return tuple(sorted(out, key=lambda g: (-1 if g.layer is None else g.layer, g.name)))


# -- llama_tensor_get_type, ported ---------------------------------------------------------------------
def _category(name: str) -> str:
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


def _attn_v_like(cat: str) -> bool:
    return cat in ("ATTENTION_V", "ATTENTION_QKV", "ATTENTION_KV_B")


def allows_quantization(g: GTensor, *, quantize_output: bool = True) -> bool:
    """tensor_allows_quantization: 2-D/3-D weights other than norms, routers and position tables.

    Source: llama-quant"""
    if len(g.ne) < 2 or not g.name.endswith("weight"):
        return False
    n = g.name
    if "_norm.weight" in n or "ffn_gate_inp.weight" in n or n == "position_embd.weight":
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
class _State:
    n_attention_wv: int = 0
    i_attention_wv: int = 0
    i_ffn_down: int = 0
    i_ffn_gate: int = 0
    i_ffn_up: int = 0
    n_fallback: int = 0


@dataclass(frozen=True, slots=True)
class _Model:
    arch: str
    n_layer: int
    n_expert: int
    n_gqa: int
    is_70b: bool
    tied: bool
    imatrix: bool


def _layer_of(g: GTensor, counter: int, m: _Model) -> int:
    # layer_info: with experts the layer comes from the name (blk.N.), else from the running counter
    if m.n_expert > 1:
        if g.layer is None:
            raise LlmsizeError(f"Failed to determine layer for tensor {g.name}")
        return g.layer
    return counter


def _impl(st: _State, m: _Model, g: GTensor, ftype: str, new: str, cat: str) -> str:  # noqa: C901
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
        if _attn_v_like(cat):
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
    if _attn_v_like(cat):
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


def _fallback(st: _State, g: GTensor, new: str) -> str:
    """tensor_type_fallback: a row not divisible by the block size takes a 32-block type, else F16.

    Source: llama-quant"""
    if g.ne[0] % ggml_type(new).block == 0:
        return new
    st.n_fallback += 1
    if new not in _FALLBACK:
        raise LlmsizeError(f"no tensor type fallback is defined for type {new} ({g.name} has rows of {g.ne[0]})")
    ret = _FALLBACK[new]
    return ret if g.ne[0] % ggml_type(ret).block == 0 else "F16"


def _model(spec: ModelSpec, gts: Sequence[GTensor], imatrix: bool) -> _Model:
    arch = _ARCH.get(spec.model_type, spec.model_type)
    a = spec.attention
    n_kv = a.num_heads if a.mla else a.num_kv_heads  # MLA GGUFs store head_count_kv = head_count
    n_exp = spec.moe.num_experts if spec.moe else 0
    is_70b = ((arch == "llama" and spec.num_layers == 80 and a.num_heads != n_kv) or
              (arch in ("qwen2", "olmoe") and spec.num_layers == 80))
    tied = not any(g.name == "output.weight" for g in gts)
    return _Model(arch=arch, n_layer=spec.num_layers, n_expert=n_exp, n_gqa=a.num_heads // n_kv, is_70b=is_70b,
                  tied=tied, imatrix=imatrix)


def tensor_types(spec: ModelSpec, ftype: str, *, imatrix: bool = False, pure: bool = False,
                 source: str = "BF16", output_type: str | None = None, token_embd_type: str | None = None,
                 overrides: Sequence[tuple[str, str]] = (), quantize_output: bool = True,
                 mla: str = "kv_b") -> tuple[tuple[GTensor, GgmlType], ...]:
    """The ggml type llama-quantize gives each GGUF tensor of `spec` for preset `ftype`.

    overrides: (regex, type) pairs as --tensor-type, first match wins; output_type / token_embd_type:
    --output-tensor-type / --token-embedding-type; pure: --pure; imatrix: an importance matrix is given.

    Source: llama-quant"""
    f = preset(ftype)
    default = FTYPES[f][1]
    src = ggml_type(source).name
    if src not in ("F16", "BF16", "F32"):
        raise LlmsizeError(f"the source GGUF is F16, BF16 or F32, not {source!r}")
    pats = [(re.compile(p), ggml_type(t).name) for p, t in overrides]
    gts = gguf_tensors(spec, mla=mla)
    m = _model(spec, gts, imatrix)
    st = _State(n_attention_wv=sum(_attn_v_like(_category(g.name)) for g in gts))
    out = []
    for g in gts:
        cur = "F32" if g.source_type == "F32" else src
        if not allows_quantization(g, quantize_output=quantize_output):
            out.append((g, ggml_type(cur)))
            continue
        cat = _category(g.name)
        if token_embd_type and cat == "TOKEN_EMBD":
            out.append((g, ggml_type(token_embd_type)))
            continue
        if output_type and cat == "OUTPUT":
            out.append((g, ggml_type(output_type)))
            continue
        new = default
        if ggml_type(default).quantized:
            manual = next((t for p, t in pats if p.search(g.name)), None)
            if manual is not None:
                new = manual
            elif not pure:
                new = _impl(st, m, g, f, new, cat)
            new = _fallback(st, g, new)
        out.append((g, ggml_type(new)))
    return tuple(out)


def gguf_plan(spec: ModelSpec, ftype: str, **options: object) -> WeightPlan:
    """Exact GGUF tensor bytes of `spec` quantized with preset `ftype` (tensor data only; the file adds
    its metadata and alignment padding).

    bytes = Σ_tensors rows · block_bytes(type) · ne0 / block(type)

    Source: llama-quant"""
    f = preset(ftype)
    tq = []
    for g, t in tensor_types(spec, f, **options):  # type: ignore[arg-type]
        tq.append(TensorQuant(name=g.name, role=g.role, shape=tuple(reversed(g.ne)), params=g.numel, format=t.name,
                              bytes=tensor_bytes(t, g.ne), layer=g.layer))
    notes = []
    fb = [x for x in tq if x.format in ("F16", "Q8_0", "Q5_0", "Q5_1", "Q4_0", "IQ4_NL")
          and ggml_type(FTYPES[f][1]).block == 256 and x.format != FTYPES[f][1]]
    if fb and ggml_type(FTYPES[f][1]).quantized:
        rows = sorted({x.shape[-1] for x in fb if x.shape[-1] % 256})
        if rows:
            notes.append(f"rows of {', '.join(map(str, rows))} values are not multiples of 256: those tensors fall "
                         f"back to 32-value blocks (llama.cpp tensor_type_fallback)")
    if spec.vision is not None:
        notes.append("the vision tower and projector go to a separate mmproj GGUF; not in this plan")
    return WeightPlan(model=spec.name, format=f"gguf-{f}", tensors=tuple(tq), source="llama-quant",
                      notes=tuple(notes))
