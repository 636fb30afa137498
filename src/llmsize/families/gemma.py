"""Gemma 1/2/3: RMSNorm computed as x * (1 + w) in fp32, embeddings scaled by sqrt(d), tied head;
Gemma 2/3 add norms after attention and after the MLP (four per layer), alternate sliding and full
attention, Gemma 2 soft-caps attention scores and final logits; Gemma 3 adds per-head q/k norms and a
SigLIP vision tower in its multimodal wrapper.

Source: hf-gemma2
"""
from __future__ import annotations

from dataclasses import replace

from llmsize.families._config import Config, integer, llama_like, number
from llmsize.spec import ModelSpec, Traits, Vision

_BASE = Traits(family="gemma", norm_plus_one=True, embed_scale=True, normalizer_buffer=True)
_SANDWICH = replace(_BASE, source="hf-gemma2", norm_placement="sandwich")
TRAITS = {"gemma": replace(_BASE, gguf_arch="gemma"), "gemma2": replace(_SANDWICH, gguf_arch="gemma2"),
          # Gemma 3: a rotary table for the sliding layers and one for the full layers
          "gemma3_text": replace(_SANDWICH, gguf_arch="gemma3_text", rope_per_layer_type=True),
          "gemma3": replace(_SANDWICH, gguf_arch="gemma3", rope_per_layer_type=True)}


def _gemma(cfg: Config, name: str) -> ModelSpec:
    return ModelSpec(**llama_like(cfg, name, tie=True, act="gelu_pytorch_tanh"),
                     traits=TRAITS["gemma"])


def _gemma2(cfg: Config, name: str) -> ModelSpec:
    return ModelSpec(**llama_like(cfg, name, tie=True, norms=4, act="gelu_pytorch_tanh",
                                  types=lambda i: "sliding" if i % 2 == 0 else "full"),
                     attn_softcap=number(cfg, "attn_logit_softcapping", default=50.0),
                     final_softcap=number(cfg, "final_logit_softcapping", default=30.0),
                     traits=TRAITS["gemma2"])


def _gemma3_text(cfg: Config, name: str, arch: str = "gemma3_text") -> ModelSpec:
    # Gemma3TextConfig defaults, for the keys multimodal configs leave out of text_config
    cfg = {"vocab_size": 262208, "head_dim": 256, "num_attention_heads": 8, "num_key_value_heads": 4,
           "sliding_window": 4096, "hidden_size": 2304, "intermediate_size": 9216, "num_hidden_layers": 26,
           "max_position_embeddings": 131072, **{k: v for k, v in cfg.items() if v is not None}}
    pattern = integer(cfg, "sliding_window_pattern", default=6)
    return ModelSpec(**llama_like(cfg, name, tie=True, norms=4, qk_norm="head", act="gelu_pytorch_tanh",
                                  types=lambda i: "full" if (i + 1) % pattern == 0 else "sliding"),
                     attn_softcap=number(cfg, "attn_logit_softcapping", default=None),
                     final_softcap=number(cfg, "final_logit_softcapping", default=None),
                     traits=TRAITS[arch])


def _gemma3(cfg: Config, name: str) -> ModelSpec:
    text = {"model_type": "gemma3_text", **(cfg.get("text_config") or {})}
    text.setdefault("tie_word_embeddings", cfg.get("tie_word_embeddings", True))
    text.setdefault("dtype", cfg.get("dtype", cfg.get("torch_dtype")))
    spec = _gemma3_text(text, name, arch="gemma3")
    v = {"hidden_size": 1152, "intermediate_size": 4304, "num_hidden_layers": 27, "num_attention_heads": 16,
         "patch_size": 14, "image_size": 896, "num_channels": 3, **(cfg.get("vision_config") or {})}
    vh = integer(v, "hidden_size")
    vision = Vision(hidden_size=vh, intermediate_size=integer(v, "intermediate_size"),
                    num_layers=integer(v, "num_hidden_layers"), num_heads=integer(v, "num_attention_heads"),
                    patch_size=integer(v, "patch_size"), image_size=integer(v, "image_size"),
                    num_channels=integer(v, "num_channels"), pooling_head=bool(v.get("vision_use_head", True)),
                    # mm_input_projection_weight [d_v, d] + mm_soft_emb_norm RMSNorm(d_v)
                    projector_params=vh * spec.hidden_size + vh)
    return spec.with_(model_type=str(cfg.get("model_type", "gemma3")), vision=vision)


READERS = {"gemma": _gemma, "gemma2": _gemma2, "gemma3_text": _gemma3_text, "gemma3": _gemma3}
