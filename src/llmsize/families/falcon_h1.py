"""Falcon-H1 (TII): every layer runs attention and a Mamba-2 mixer side by side on the same normed input
(their outputs summed, with muP multipliers), then a gated MLP. Each layer keeps both a KV cache and a
Mamba-2 conv + SSM state; the mixer's gated RMSNorm exists only with mamba_rms_norm.

Source: hf-falcon-h1
"""
from __future__ import annotations

from dataclasses import replace

from llmsize.families import _ssm
from llmsize.families._config import Config, get, integer, llama_like
from llmsize.spec import ModelSpec, Traits

_TRAITS = Traits(family="falcon_h1", source="hf-falcon-h1", gguf_arch="falcon-h1", embed_scale=True,
                 embed_scale_in_body=True, logits_scale=True,
                 leaves=(("attn_q", "q_proj"), ("attn_k", "k_proj"), ("attn_v", "v_proj"), ("attn_output", "o_proj"),
                         ("ffn_gate", "gate_proj"), ("ffn_up", "up_proj"), ("ffn_down", "down_proj"),
                         ("ssm_in", "in_proj"), ("ssm_out", "out_proj")))


def read(cfg: Config, name: str) -> ModelSpec:
    c = llama_like({"intermediate_size": 14336, "vocab_size": 128000, "max_position_embeddings": 8192,
                    "num_key_value_heads": 8, **cfg}, name)
    c["layer_types"] = ()
    c.pop("sliding_window", None)
    c["mixers"] = ("hybrid",) * c["num_layers"]
    ssm = _ssm.mamba2(cfg, c["hidden_size"], inner=integer(cfg, "mamba_d_ssm", default=1024),
                      gated_norm=bool(get(cfg, "mamba_rms_norm", default=False)), out_bias_key="projectors_bias")
    c["ssm"] = replace(ssm, mup=True)
    return ModelSpec(**c, traits=_TRAITS)


READERS = {"falcon_h1": read}
TRAITS = {"falcon_h1": _TRAITS}
