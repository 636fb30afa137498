"""StableLM (2): LayerNorm with bias, partial rotary (25%, ending in torch.cat), optional q/k/v biases,
a SwiGLU MLP; sequential (the input norm's output and the attention output stay bound to the end of
the layer) or, with use_parallel_residual, x + attn(ln x) + mlp(ln x) on one norm.

Source: hf-stablelm
"""
from __future__ import annotations

from llmsize.errors import LlmsizeError
from llmsize.families._config import Config, llama_like, number, rate
from llmsize.spec import ModelSpec, Norms, Traits

_TRAITS = Traits(family="stablelm", source="hf-stablelm", gguf_arch="stablelm", rope_cat=True,
                 keeps_attn_output=True, keeps_norm_output=True)


def read(cfg: Config, name: str) -> ModelSpec:
    if cfg.get("qk_layernorm"):
        raise LlmsizeError(f"{name}: stablelm with qk_layernorm is not modelled by llmsize; use `llmsize trace`")
    if rate(cfg, "hidden_dropout"):
        raise LlmsizeError(f"{name}: stablelm with hidden_dropout above 0 is not modelled by llmsize; "
                           "use `llmsize trace`")
    bias = bool(cfg.get("use_qkv_bias", False))
    c = llama_like(cfg, name, qkv_bias=bias, o_bias=False)
    parallel = bool(cfg.get("use_parallel_residual", False))
    c["norms"] = Norms(kind="layernorm", bias=True, per_layer=1 if parallel else 2)
    rope = cfg.get("rope_parameters") if isinstance(cfg.get("rope_parameters"), dict) else {}
    frac = number({**rope, **cfg}, "partial_rotary_factor", default=0.25)
    return ModelSpec(**c, rotary_fraction=frac, parallel_residual=parallel, traits=_TRAITS)


READERS = {"stablelm": read}
TRAITS = {"stablelm": _TRAITS}
