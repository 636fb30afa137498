"""Weights, LoRA adapters, gradients: exact bytes from the tensor list.

Source: peft-lora
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from llmsize.memory.workload import LoRA, Workload
from llmsize.params import count
from llmsize.spec import ModelSpec
from llmsize.tensors import tensors


@dataclass(frozen=True, slots=True)
class Weights:
    params: int  # base parameters (torch counts)
    base_bytes: int  # stored base weights
    adapter_params: int  # LoRA A and B
    adapter_bytes: int
    buffers: int  # persistent/non-persistent buffers (rotary inv_freq)
    trainable: int  # parameters the optimizer sees
    trainable_tensors: int  # parameter tensors the optimizer sees (one fp32 `step` each for Adam)
    trainable_bytes: int  # bytes of the trainable parameters (their dtype is the state dtype)
    largest: int  # elements of the largest trainable tensor
    linear_params: int  # elements of all 2-D linear weights (autocast casts these, lm_head included)
    largest_linear: int  # elements of the largest linear weight (dequantisation buffer)

    @property
    def total_bytes(self) -> int:
        return self.base_bytes + self.adapter_bytes


def rope_buffers(spec: ModelSpec) -> int:
    """inv_freq and original_inv_freq: 2 x (rotary dims / 2) fp32.

    B_rope = 2 * (d_rot / 2) * 4

    Source: hf-llama"""
    if spec.position != "rope":
        return 0
    a = spec.attention
    rot = a.qk_rope_head_dim if a.mla else int(a.head_dim * spec.rotary_fraction)
    extra = 2 if spec.traits.normalizer_buffer else 0  # Gemma's embed normalizer (a bf16 scalar)
    kinds = len(set(spec.layer_types)) if spec.traits.rope_per_layer_type and spec.layer_types else 1
    return kinds * 2 * (rot // 2) * 4 + extra


def mask_buffer(spec: ModelSpec) -> int:
    """Buffers over every position: a bool causal mask (GPT-BigCode's `bias`), per-layer fp32 sinusoid
    tables (GPT-J's `embed_positions`).

    B_mask = n_positions^2 (one byte each); B_sin = L n_positions d_rot 4

    Source: hf-gpt-bigcode"""
    n = spec.max_position_embeddings ** 2 if spec.traits.causal_mask_buffer else 0
    if spec.traits.sinusoid_buffers:  # GPT-J: per layer, max_pos x d_rot fp32 (non-persistent)
        rot = max(2, int(spec.attention.head_dim * spec.rotary_fraction)) // 2 * 2
        n += spec.num_layers * spec.max_position_embeddings * rot * 4
    return n


def lora_targets(spec: ModelSpec, wl: Workload) -> frozenset[str]:
    return wl.lora.resolve(spec) if wl.lora is not None else frozenset()


def adapter_sizes(spec: ModelSpec, targets: frozenset[str], r: int, layers: set[int] | None) -> list[int]:
    """Parameters of each (A, B) pair peft adds.

    Linear n_in -> n_out: r (n_in + n_out). Router d -> E: r (d + E). Fused experts (peft ParamWrapper,
    rank r x E per parameter, doubled for the fused [gate; up]): 2 r E (d + 2 f) and r E (f + d).

    Source: peft-lora"""
    out = []
    e = spec.moe
    for t in tensors(spec):
        if t.layer is None or (layers is not None and t.layer not in layers):
            continue
        if t.linear and t.module in targets:
            out.append(r * (t.shape[0] + t.shape[1]))
        elif t.role == "ffn_gate_inp" and "gate" in targets:
            out.append(r * (t.shape[0] + t.shape[1]))
        elif t.role == "ffn_gate_inp_shexp" and "shared_expert_gate" in targets:
            out.append(r * (t.shape[0] + t.shape[1]))
        elif t.experts > 1 and "experts" in targets and e is not None and t.role in (
                "ffn_gate_up_exps", "ffn_up_exps", "ffn_down_exps"):
            n, o, i = t.shape
            k = 2 if t.role == "ffn_gate_up_exps" else 1
            out.append(k * r * n * (i + o))
    v = spec.vision
    if v is not None:  # peft matches the SigLIP tower's leaves too (q/k/v/out_proj, fc1, fc2)
        dv, fv = v.hidden_size, v.intermediate_size
        sizes = {"q_proj": 2 * dv, "k_proj": 2 * dv, "v_proj": 2 * dv, "out_proj": 2 * dv, "fc1": dv + fv,
                 "fc2": dv + fv}
        every = "__all_linear__" in targets  # marker LoRA.resolve adds for "all-linear"
        for leaf, n in sizes.items():
            if leaf in targets or every:
                out.extend([r * n] * v.num_layers)
    return out


@lru_cache(maxsize=256)
def fp32_router(spec: ModelSpec) -> tuple[int, int, int]:
    """ERNIE 4.5 MoE keeps its router weights and correction biases fp32 in any model dtype
    (_keep_in_fp32_modules_strict); the correction bias is a frozen parameter.
    Returns (router weight elements kept fp32, frozen correction-bias elements, their tensors).

    Source: hf-ernie4_5_moe"""
    ts = tensors(spec)
    frozen = [t.numel for t in ts if t.role == "ffn_exp_probs_b" and not t.buffer]
    if not spec.traits.router_weight_fp32:
        return 0, sum(frozen), len(frozen)
    return sum(t.numel for t in ts if t.role == "ffn_gate_inp"), sum(frozen), len(frozen)


@lru_cache(maxsize=256)
def _stats(spec: ModelSpec) -> tuple[int, int, int, int, int]:
    """(params, parameter tensors, largest tensor, linear weights' elements, largest linear)."""
    ts = tensors(spec)
    lin = [t.numel for t in ts if t.linear]
    return (count(spec).total, sum(1 for t in ts if not t.buffer), max((t.numel for t in ts), default=0), sum(lin),
            max(lin, default=0))


def weights(spec: ModelSpec, wl: Workload, override: int | None = None) -> Weights:
    return _weights(spec, wl.lora, wl.mode, wl.w_bytes, override)


def mup_buffers(spec: ModelSpec, w: int) -> int:
    """Falcon-H1's non-persistent mup_vector: one in_proj-wide row per Mamba-2 mixer, in the weights' dtype.

    B = L_ssm · (2·d_in + 2·G·N + H) · w

    Source: hf-falcon-h1"""
    m = spec.ssm
    if m is None or not m.mup:
        return 0
    n = sum(spec.has_ssm(i) for i in range(spec.num_layers))
    return n * (2 * m.inner + 2 * m.n_groups * m.state_size + m.num_heads) * w


@lru_cache(maxsize=1024)
def _weights(spec: ModelSpec, lora: LoRA | None, mode: str, w: int, override: int | None) -> Weights:
    """Bytes of the stored weights and what trains.

    W = P * w (or the quantizer's bytes); LoRA: + r * (n_in + n_out) * 4 per adapted linear (peft fp32)

    Source: peft-lora"""
    p, n_t, largest, linear_params, largest_lin = _stats(spec)
    rw, frozen, frozen_t = fp32_router(spec)
    up = max(0, 4 - w) if spec.traits.router_weight_fp32 else 0  # fp32 router weights, correction biases
    base = p * w + (rw + frozen) * up if override is None else override
    # rotary tables + persistent weight buffers (DeepSeek-V3's router correction bias, in the weights' dtype)
    # BERT's position_ids / token_type_ids: int64 rows of the position table
    table = spec.max_position_embeddings + spec.position_offset
    buffers = (rope_buffers(spec) + count(spec).buffers * w + mup_buffers(spec, w) + mask_buffer(spec)
               + spec.traits.index_buffers * table * 8)
    if lora is not None:
        targets = lora.resolve(spec)
        layers = None if lora.layers is None else set(lora.layers)
        ad = adapter_sizes(spec, targets, lora.r, layers)
        largest = max(ad, default=0)
        ap = sum(ad)
        return Weights(params=p, base_bytes=base, adapter_params=ap, adapter_bytes=ap * 4,
                       buffers=buffers, trainable=ap, trainable_tensors=2 * len(ad),
                       trainable_bytes=ap * 4, largest=largest, linear_params=linear_params,
                       largest_linear=largest_lin)
    train = mode == "train"
    return Weights(params=p, base_bytes=base, adapter_params=0, adapter_bytes=0, buffers=buffers,
                   trainable=p - frozen if train else 0, trainable_tensors=n_t - frozen_t if train else 0,
                   trainable_bytes=(p - frozen) * w + rw * up if train else 0, largest=largest,
                   linear_params=linear_params, largest_linear=largest_lin)
