"""MPT (MosaicML): ALiBi (an fp32 n_h x max_seq_len bias), LayerNorms without bias, Wqkv / out_proj /
up_proj / down_proj without bias, exact-GELU MLP of width 4 d, tied head; its own attention and block
are replayed by memory.alibi_block. Eager attention only.

Source: hf-mpt
"""
from __future__ import annotations

from llmsize.errors import LlmsizeError
from llmsize.families._config import Config, common, heads, integer, rate
from llmsize.spec import MLP, Attention, ModelSpec, Norms, Traits

_TRAITS = Traits(family="mpt", source="hf-mpt", gguf_arch="mpt", layer_code="mpt", eager_only=True, mask_saved=True,
                 leaves=(("attn_qkv", "Wqkv"), ("attn_output", "out_proj"), ("ffn_up", "up_proj"),
                         ("ffn_down", "down_proj")))


def _refuse(name: str, what: str) -> LlmsizeError:
    return LlmsizeError(f"{name}: mpt with {what} is not modelled by llmsize; use `llmsize trace` for it")


def read(cfg: Config, name: str) -> ModelSpec:
    ac = cfg.get("attn_config") or {}
    if not isinstance(ac, dict):
        raise LlmsizeError(f"config.json: attn_config must be an object, got {ac!r:.60}")
    d = integer(cfg, "d_model", "hidden_size", default=2048)
    nh = integer(cfg, "n_heads", "num_attention_heads", default=16)
    cfg = {"vocab_size": 50368, **cfg, "hidden_size": d,
           "num_hidden_layers": integer(cfg, "n_layers", "num_hidden_layers", default=24),
           "max_position_embeddings": integer(cfg, "max_seq_len", "max_position_embeddings", default=2048)}
    if ac.get("clip_qkv"):
        raise _refuse(name, "clip_qkv")
    if ac.get("alibi") is False:
        raise _refuse(name, "alibi off")
    if ac.get("softmax_scale") is not None and not isinstance(ac["softmax_scale"], (int, float)):
        raise LlmsizeError(f"config.json: attn_config.softmax_scale must be a number, got {ac['softmax_scale']!r:.60}")
    if ac.get("qk_ln") or ac.get("attn_type", "multihead_attention") != "multihead_attention":
        raise _refuse(name, "qk_ln or multi-query attention (the transformers model ignores them)")
    if rate(cfg, "resid_pdrop") or rate(cfg, "emb_pdrop"):
        raise _refuse(name, "resid_pdrop/emb_pdrop (the transformers model ignores them)")
    c = common(cfg, name, tie_default=True)
    _, _, hd = heads({}, d, nh, nh)
    c["attention"] = Attention(num_heads=nh, num_kv_heads=nh, head_dim=hd, fused_qkv=True)
    c["mlp"] = MLP(kind="plain", intermediate_size=4 * d, activation="gelu")
    if rate(ac, "attn_pdrop"):  # transformers 5.23 types it as an int: a config above 0 does not build
        raise _refuse(name, "attn_pdrop above 0")
    return ModelSpec(**c, norms=Norms(kind="layernorm", bias=False), position="alibi", traits=_TRAITS)


READERS = {"mpt": read}
TRAITS = {"mpt": _TRAITS}
