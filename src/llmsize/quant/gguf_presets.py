"""llama.cpp quantization presets (Q4_K_M, Q6_K, IQ4_XS, ...): which ggml type each tensor gets.

A model's GGUF tensors are listed as convert_hf_to_gguf.py writes them (1-D tensors, norms, routers
and position tables in F32, the rest 16-bit), then every tensor goes through a faithful port of
llama.cpp's `llama_tensor_get_type`: tensor_allows_quantization, the per-category preset rules of
llama_tensor_get_type_impl (use_more_bits, the 8-expert and GQA cases, the 70B attn_v bump, the
token_embd/output rules) and tensor_type_fallback for rows not divisible by the block size.
"""
from __future__ import annotations

import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from llmsize.errors import LlmsizeError, did_you_mean
from llmsize.quant.ggml_types import GgmlType, ggml_type, tensor_bytes
from llmsize.quant.llama_rules import (Model, State, allows_quantization, attn_v_like, category, fallback,
                                       get_type_impl)
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
        return math.prod(self.ne)


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
    elif base in ("ssm_a", "ssm_d"):  # GGUF names them without a .weight suffix (written F32)
        yield f"blk.{i}.{base}", t.shape
    else:
        yield f"blk.{i}.{base}.{kind}", t.shape


# ASSUMES: the source GGUF comes from convert_hf_to_gguf.py at a 16-bit outtype; tensors it does not write
# (Llama-3.1's rope_freqs, 64 F32 values) are not model parameters and are not listed.
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


def _model(spec: ModelSpec, gts: Sequence[GTensor], imatrix: bool) -> Model:
    arch = spec.traits.gguf_arch  # llama.cpp architecture (the rules single out falcon; llama/qwen2 70B)
    a = spec.attention
    n_kv = a.num_heads if a.mla else a.num_kv_heads  # MLA GGUFs store head_count_kv = head_count
    n_exp = spec.moe.num_experts if spec.moe else 0
    is_70b = ((arch == "llama" and spec.num_layers == 80 and a.num_heads != n_kv) or
              (arch in ("qwen2", "olmoe") and spec.num_layers == 80))
    tied = not any(g.name == "output.weight" for g in gts)
    return Model(arch=arch, n_layer=spec.num_layers, n_expert=n_exp, n_gqa=a.num_heads // n_kv, is_70b=is_70b,
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
    st = State(n_attention_wv=sum(attn_v_like(category(g.name)) for g in gts))
    out = []
    for g in gts:
        cur = "F32" if g.source_type == "F32" else src
        if not allows_quantization(g, quantize_output=quantize_output):
            out.append((g, ggml_type(cur)))
            continue
        cat = category(g.name)
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
                new = get_type_impl(st, m, g, f, new, cat)
            new = fallback(st, g, new)
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
