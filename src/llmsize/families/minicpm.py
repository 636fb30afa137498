"""MiniCPM (OpenBMB): muP-style scalars on a decoder. The embeddings are multiplied by scale_emb, each
residual branch by scale_depth / sqrt(L), and the final hidden state is divided by d / dim_model_base
before the (tied) LM head; each is a tensor op (a new tensor of the hidden state's size).

MiniCPM3 (`minicpm3`, in transformers): multi-head latent attention as DeepSeek-V2's (low-rank q and
compressed kv with a shared rotary key; transformers caches the latent) with the cos/sin rotary, and a
dense SwiGLU MLP. MiniCPM 1/2 (`minicpm`, remote code only: openbmb's modeling_minicpm.py): a Llama
decoder with the same three scalings.

Source: hf-minicpm3
"""
from __future__ import annotations

from llmsize.families._config import Config, common, get, integer, llama_like, number, rate
from llmsize.spec import MLP, Attention, ModelSpec, Norms, Traits

_TRAITS3 = Traits(family="minicpm", source="hf-minicpm3", gguf_arch="minicpm3", rope_cat=True, embed_scale=True,
                  normalizer_buffer=True, residual_scale=True, hidden_prescale=True, mla_expanded_serving=True)
_TRAITS = Traits(family="minicpm", source="openbmb-minicpm", gguf_arch="minicpm", embed_scale=True,
                 residual_scale=True, hidden_prescale=True)


def _mla_key(cfg: Config, key: str, default: int | None) -> int | None:
    """An MLA size with transformers' MiniCPM3Config default when absent (an explicit null stays null)."""
    if cfg.get(key) is not None:
        return integer(cfg, key)
    return None if key in cfg else default


def _scalars(cfg: Config) -> None:
    for k in ("scale_emb", "scale_depth", "dim_model_base"):
        number(cfg, k, default=None)  # a number when given (checked), else the class default


def read3(cfg: Config, name: str) -> ModelSpec:
    """MiniCPM3: transformers' MiniCPM3Config defaults are openbmb/MiniCPM3-4B's shapes."""
    _scalars(cfg)
    c = common(cfg, name, tie_default=True)
    heads = integer(cfg, "num_attention_heads")
    nope, rope = _mla_key(cfg, "qk_nope_head_dim", 64), _mla_key(cfg, "qk_rope_head_dim", 32)
    bias = bool(cfg.get("attention_bias", False))
    c["attention"] = Attention(num_heads=heads, num_kv_heads=heads, head_dim=nope + rope, qkv_bias=bias, o_bias=bias,
                               q_lora_rank=_mla_key(cfg, "q_lora_rank", 768),
                               kv_lora_rank=_mla_key(cfg, "kv_lora_rank", 256), qk_rope_head_dim=rope,
                               v_head_dim=integer(cfg, "v_head_dim", default=c["hidden_size"] // heads))
    c["mlp"] = MLP(kind="gated", intermediate_size=integer(cfg, "intermediate_size"),
                   bias=bool(cfg.get("mlp_bias", False)), activation=str(get(cfg, "hidden_act", default="silu")))
    c["norms"] = Norms(kind="rmsnorm", per_layer=2)
    return ModelSpec(**c, attention_dropout=rate(cfg, "attention_dropout"), traits=_TRAITS3)


def read(cfg: Config, name: str) -> ModelSpec:
    """MiniCPM 1/2: openbmb's MiniCPMConfig ties the embeddings by default."""
    _scalars(cfg)
    # ASSUMES: MiniCPM 1/2's remote forward allocates as Llama's does plus the three scalings (it cannot
    # run on transformers 5.23, so it is not measured); its per-layer rotary cos/sin caches are left out.
    note = ("model_type 'minicpm' runs openbmb's remote code (not in transformers): its parameters are exact; "
            "its memory is the Llama replay with MiniCPM's three scalings, not measured against that code")
    return ModelSpec(**llama_like(cfg, name, tie=True), traits=_TRAITS, notes=(note,))


READERS = {"minicpm3": read3, "minicpm": read}
TRAITS = {"minicpm3": _TRAITS3, "minicpm": _TRAITS}
