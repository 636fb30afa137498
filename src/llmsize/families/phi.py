"""Phi-1 / Phi-1.5 / Phi-2: one LayerNorm per layer feeding attention and MLP in parallel
(out = x + attn(ln x) + mlp(ln x)), q/k/v and dense with biases, partial rotary (ending in torch.cat),
a GELU MLP (fc1, fc2), a final LayerNorm and an LM head with a bias; resid_pdrop on both branches.

Source: hf-phi
"""
from __future__ import annotations

from llmsize.errors import LlmsizeError
from llmsize.families._config import Config, common, heads, integer, number, rate
from llmsize.spec import MLP, Attention, ModelSpec, Norms, Traits

_TRAITS = Traits(family="phi", source="hf-phi", gguf_arch="phi2", rope_cat=True,
                 leaves=(("attn_q", "q_proj"), ("attn_k", "k_proj"), ("attn_v", "v_proj"), ("attn_output", "dense"),
                         ("ffn_up", "fc1"), ("ffn_down", "fc2")))


def read(cfg: Config, name: str) -> ModelSpec:
    cfg = {"vocab_size": 51200, "hidden_size": 2048, "intermediate_size": 8192, "num_hidden_layers": 24,
           "num_attention_heads": 32, **{k: v for k, v in cfg.items() if v is not None}}
    if cfg.get("qk_layernorm"):
        raise LlmsizeError(f"{name}: phi with qk_layernorm is not modelled by llmsize; use `llmsize trace` for it")
    c = common(cfg, name, tie_default=False)
    nh, kv, hd = heads(cfg, c["hidden_size"], integer(cfg, "num_attention_heads"))
    c["attention"] = Attention(num_heads=nh, num_kv_heads=kv, head_dim=hd, qkv_bias=True, o_bias=True)
    c["mlp"] = MLP(kind="plain", intermediate_size=integer(cfg, "intermediate_size"), bias=True,
                   activation=str(cfg.get("hidden_act", "gelu_new")))
    rope = cfg.get("rope_parameters") if isinstance(cfg.get("rope_parameters"), dict) else {}
    frac = number({**rope, **cfg}, "partial_rotary_factor", default=0.5)
    if rate(cfg, "embd_pdrop"):
        raise LlmsizeError(f"{name}: phi with embd_pdrop above 0 is not modelled by llmsize; use `llmsize trace`")
    return ModelSpec(**c, norms=Norms(kind="layernorm", bias=True, per_layer=1), rotary_fraction=frac,
                     parallel_residual=True, lm_head_bias=True, hidden_dropout=rate(cfg, "resid_pdrop"),
                     attention_dropout=rate(cfg, "attention_dropout"), traits=_TRAITS)


READERS = {"phi": read}
TRAITS = {"phi": _TRAITS}
