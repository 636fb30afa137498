"""GPT-BigCode (StarCoder 1, SantaCoder): GPT-2's layout (learned positions, LayerNorm with bias,
fused c_attn, GELU MLP c_fc/c_proj, dropout on embeddings, attention probabilities and both residual
branches) with multi-query attention (one key/value head, `multi_query`), run through transformers'
attention functions; the block keeps `attn_output` alive to its end.

Source: hf-gpt-bigcode
"""
from __future__ import annotations

from dataclasses import replace

from llmsize.families import gpt2
from llmsize.families._config import Config
from llmsize.spec import ModelSpec, Traits

_TRAITS = Traits(family="gpt_bigcode", source="hf-gpt-bigcode", gguf_arch="starcoder", keeps_attn_output=True,
                 causal_mask_buffer=True, leaves=gpt2.TRAITS["gpt2"].leaves)


def read(cfg: Config, name: str) -> ModelSpec:
    cfg = {"vocab_size": 50257, "n_embd": 768, "n_head": 12, "n_layer": 12,
           "activation_function": "gelu_pytorch_tanh", **{k: v for k, v in cfg.items() if v is not None}}
    spec = gpt2.read(cfg, name)  # GPT-2's layout, dropouts and their 0.1 defaults
    kv = 1 if cfg.get("multi_query", True) else spec.attention.num_heads
    return spec.with_(attention=replace(spec.attention, num_kv_heads=kv), traits=_TRAITS)


READERS = {"gpt_bigcode": read}
TRAITS = {"gpt_bigcode": _TRAITS}
