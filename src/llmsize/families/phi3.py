"""Phi-3 / Phi-4: a Llama-style decoder with one fused [q; k; v] matrix and one fused [gate; up]
matrix; its rotary code ends in torch.cat (partial rotary), so q and k come out contiguous.

Source: hf-phi3
"""
from __future__ import annotations

from llmsize.errors import LlmsizeError
from llmsize.families._config import Config, llama_like, rate
from llmsize.spec import MLP, Attention, ModelSpec, Traits

_TRAITS = Traits(family="phi3", source="hf-phi3", gguf_arch="phi3", rope_cat=True,
                leaves=(("attn_qkv", "qkv_proj"), ("attn_output", "o_proj"), ("ffn_up", "gate_up_proj"),
                        ("ffn_down", "down_proj")))


def read(cfg: Config, name: str) -> ModelSpec:
    c = llama_like(cfg, name)
    a = c["attention"]
    c["attention"] = Attention(num_heads=a.num_heads, num_kv_heads=a.num_kv_heads, head_dim=a.head_dim,
                               fused_qkv=True)
    c["mlp"] = MLP(kind="gated", intermediate_size=c["mlp"].intermediate_size, fused_gate_up=True,
                   activation=c["mlp"].activation)
    if rate(cfg, "resid_pdrop") or rate(cfg, "embd_pdrop"):
        raise LlmsizeError(f"{name}: phi3 with resid_pdrop/embd_pdrop above 0 is not modelled by llmsize; "
                           "use `llmsize trace` for it")
    return ModelSpec(**c, traits=_TRAITS)


READERS = {"phi3": read}
TRAITS = {"phi3": _TRAITS}
