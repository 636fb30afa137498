"""GPT-J: attention (q, k, v, out_proj without biases) and a gelu_new MLP (fc_in, fc_out with biases) in
parallel on one LayerNorm, rotary on the first `rotary_dim` dims of each head from a per-layer fp32
sinusoid buffer, an untied head with a bias; its own attention code (fp32 scores) is replayed by
memory.gptj_block. Eager attention only.

Source: hf-gptj
"""
from __future__ import annotations

from llmsize.families._config import Config, common, heads, integer, rate
from llmsize.spec import MLP, Attention, ModelSpec, Norms, Traits

_TRAITS = Traits(family="gptj", source="hf-gptj", gguf_arch="gptj", layer_code="gptj", eager_only=True,
                 sinusoid_buffers=True,
                 leaves=(("attn_q", "q_proj"), ("attn_k", "k_proj"), ("attn_v", "v_proj"), ("attn_output", "out_proj"),
                         ("ffn_up", "fc_in"), ("ffn_down", "fc_out")))


def read(cfg: Config, name: str) -> ModelSpec:
    d = integer(cfg, "n_embd", "hidden_size", default=4096)
    nh = integer(cfg, "n_head", "num_attention_heads", default=16)
    cfg = {"vocab_size": 50400, **cfg, "hidden_size": d,
           "num_hidden_layers": integer(cfg, "n_layer", "num_hidden_layers", default=28),
           "max_position_embeddings": integer(cfg, "n_positions", "max_position_embeddings", default=2048)}
    c = common(cfg, name, tie_default=False)
    _, _, hd = heads({}, d, nh, nh)
    c["attention"] = Attention(num_heads=nh, num_kv_heads=nh, head_dim=hd)
    c["mlp"] = MLP(kind="plain", intermediate_size=integer(cfg, "n_inner", default=None) or 4 * d, bias=True,
                   activation=str(cfg.get("activation_function", "gelu_new")))
    rot = integer(cfg, "rotary_dim", default=64) or hd
    return ModelSpec(**c, norms=Norms(kind="layernorm", bias=True, per_layer=1), rotary_fraction=min(1.0, rot / hd),
                     parallel_residual=True, lm_head_bias=True, hidden_dropout=rate(cfg, "resid_pdrop"),
                     attention_dropout=rate(cfg, "attn_pdrop"), embed_dropout=rate(cfg, "embd_pdrop"),
                     traits=_TRAITS)


READERS = {"gptj": read}
TRAITS = {"gptj": _TRAITS}
