"""Llama 4 text (Llama4ForCausalLM): a Llama decoder whose MoE layers (every interleave_moe_layer_step-th,
or the listed moe_layers) run a shared SwiGLU expert (intermediate_size) plus num_local_experts routed
experts: top-k over the router logits, sigmoid of the kept logits scaling the input, and every expert
applied to every token (torch.bmm over E copies of the input). Dense layers use intermediate_size_mlp.
Layers with rotary (no_rope_layers[i] = 1) attend in chunks of attention_chunk_size (cached like a
sliding window) and L2-normalise q and k (use_qk_norm); the NoPE layers attend to everything and scale q
per position (attn_temperature_tuning). Rotary is a complex product on fp32 copies of q and k.

A multimodal config.json (model_type llama4, Llama4ForConditionalGeneration) is read as its text model
(text_config), with a note: the vision tower and projector are not counted.

Source: hf-llama4
"""
from __future__ import annotations

from dataclasses import replace

from llmsize.errors import LlmsizeError
from llmsize.families._config import Config, get, integer, llama_like
from llmsize.spec import MLP, MoE, ModelSpec, Traits

# peft's "all-linear" on Llama 4 adapts the blocks' nn.Linear leaves (q/k/v/o, the dense and shared
# gate/up/down) and the router (Llama4Router subclasses nn.Linear), not the fused expert parameters:
# measured for the Llama 4 Scout and Maverick presets in tests/data/lora_counts.json (peft 0.21.2)
_TRAITS = Traits(family="llama4", source="hf-llama4", gguf_arch="llama4", router_leaf="router",
                 router_kind="llama4", rope_complex=True, keeps_attn_output=True, chunked_mask=True,
                 eager_softmax_fp32=False,
                 lora_experts=False, lora_all_linear="linears+router")


def _flags(cfg: Config, key: str, n: int, default: list[int]) -> list[int]:
    v = cfg.get(key) or default
    if not isinstance(v, list) or any(isinstance(x, bool) or not isinstance(x, int) for x in v) or len(v) < n:
        raise LlmsizeError(f"config.json: {key} must list 0/1 for each of the {n} layers, got {v!r:.80}")
    return v


def read(cfg: Config, name: str) -> ModelSpec:
    n = integer(cfg, "num_hidden_layers")
    every = integer(cfg, "no_rope_layer_interval", default=4)
    if every < 1:
        raise LlmsizeError(f"config.json: no_rope_layer_interval must be at least 1, got {every}")
    rope = _flags(cfg, "no_rope_layers", n, [int((i + 1) % every != 0) for i in range(n)])[:n]
    step = integer(cfg, "interleave_moe_layer_step", default=1)
    if step < 1:
        raise LlmsizeError(f"config.json: interleave_moe_layer_step must be at least 1, got {step}")
    moe_idx = cfg.get("moe_layers")
    if moe_idx is None:
        moe_idx = list(range(step - 1, n, step))
    if not isinstance(moe_idx, list) or any(isinstance(i, bool) or not isinstance(i, int) for i in moe_idx):
        raise LlmsizeError(f"config.json: moe_layers must be a list of layer indices, got {moe_idx!r:.80}")
    chunk = integer(cfg, "attention_chunk_size", default=None) if "attention_chunk_size" in cfg else 8192
    c = llama_like({**cfg, "layer_types": None, "sliding_window": None, "head_dim": get(cfg, "head_dim", default=128)},
                   name)
    c["mlp"] = MLP(kind="gated", intermediate_size=integer(cfg, "intermediate_size_mlp", default=16384),
                   activation=c["mlp"].activation)
    f = integer(cfg, "intermediate_size")
    c["moe"] = MoE(num_experts=integer(cfg, "num_local_experts", default=16),
                   top_k=integer(cfg, "num_experts_per_tok", default=1), expert_intermediate_size=f,
                   shared_intermediate_size=f)
    c["moe_layers"] = tuple(i in moe_idx for i in range(n))
    c["rope_layers"] = tuple(bool(r) for r in rope)
    # ASSUMES: chunked layers cache like sliding-window layers of the chunk size (transformers'
    # DynamicSlidingWindowLayer for "chunked_attention"); measured with a chunk shorter than the prompt
    if chunk:
        c["layer_types"] = tuple("sliding" if r else "full" for r in rope)
        c["sliding_window"] = chunk
    qk = bool(get(cfg, "use_qk_norm", default=True))
    temp = bool(get(cfg, "attn_temperature_tuning", default=True))
    return ModelSpec(**c, traits=replace(_TRAITS, qk_l2_norm=qk, attn_temperature=temp))


def read_multimodal(cfg: Config, name: str) -> ModelSpec:
    text = cfg.get("text_config")
    if not isinstance(text, dict):
        raise LlmsizeError(f"{name}: a llama4 config.json needs its text_config (the language model's shape)")
    spec = read({"model_type": "llama4_text", **text}, name)
    note = (f"{name}: read the text model of this multimodal Llama 4 config (its text_config, as "
            "Llama4ForCausalLM builds it); the vision tower and projector are not counted")
    return spec.with_(notes=spec.notes + (note,))


READERS = {"llama4_text": read, "llama4": read_multimodal}
TRAITS = {"llama4_text": _TRAITS, "llama4": _TRAITS}
