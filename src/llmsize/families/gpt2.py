"""GPT-2: learned positions, LayerNorm with bias, Conv1D [q; k; v] (c_attn), GELU MLP (c_fc, c_proj),
dropout on embeddings (embd_pdrop), attention probabilities (attn_pdrop) and both residual branches
(resid_pdrop); its own eager attention keeps the softmax in the input dtype, and GPT2Block keeps
`attn_output` alive to its end.

Source: hf-gpt2
"""
from __future__ import annotations

from llmsize.families._config import Config, common, heads, integer, rate
from llmsize.spec import MLP, Attention, ModelSpec, Norms, Traits

_TRAITS = Traits(family="gpt2", source="hf-gpt2", gguf_arch="gpt2", keeps_attn_output=True,
                eager_softmax_fp32=False,
                leaves=(("attn_qkv", "c_attn"), ("attn_output", "c_proj"), ("ffn_up", "c_fc"),
                        ("ffn_down", "c_proj")))


def read(cfg: Config, name: str) -> ModelSpec:
    d = integer(cfg, "n_embd", "hidden_size")
    nh = integer(cfg, "n_head", "num_attention_heads")
    cfg = {**cfg, "hidden_size": d, "num_hidden_layers": integer(cfg, "n_layer", "num_hidden_layers"),
           "max_position_embeddings": integer(cfg, "n_positions", "max_position_embeddings", default=1024)}
    c = common(cfg, name, tie_default=True)
    _, _, hd = heads({}, d, nh, nh)
    c["attention"] = Attention(num_heads=nh, num_kv_heads=nh, head_dim=hd, qkv_bias=True, o_bias=True,
                               fused_qkv=True)
    c["mlp"] = MLP(kind="plain", intermediate_size=integer(cfg, "n_inner", default=None) or 4 * d, bias=True,
                   activation=str(cfg.get("activation_function", "gelu_new")))
    return ModelSpec(**c, norms=Norms(kind="layernorm", bias=True), position="learned",
                     hidden_dropout=rate(cfg, "resid_pdrop", default=0.1),
                     attention_dropout=rate(cfg, "attn_pdrop", default=0.1),
                     embed_dropout=rate(cfg, "embd_pdrop", default=0.1), traits=_TRAITS)


READERS = {"gpt2": read}
TRAITS = {"gpt2": _TRAITS}
