"""Mamba-2 (Dao & Gu 2024): a pure state-space model. Each layer is RMSNorm -> Mamba-2 mixer -> residual
(kept in fp32 when residual_in_fp32); there is no attention, no feed-forward block and no position
scheme. Per sequence each layer caches a conv state (d_in + 2·G·N channels x K, model dtype) and an SSM
state (H x P x N, fp32), whatever the context length.

Source: hf-mamba2
"""
from __future__ import annotations

from llmsize.bounds import MAX_CONTEXT
from llmsize.errors import LlmsizeError
from llmsize.families._config import Config, common, get, integer
from llmsize.spec import MLP, SSM, Attention, ModelSpec, Norms, Traits

_TRAITS = Traits(family="mamba2", source="hf-mamba2", gguf_arch="mamba2", layer_code="mamba2",
                 # no attention: the input projection (peft refuses out_proj and conv1d on a Mamba model)
                 lora_default=("in_proj",), leaves=(("ssm_in", "in_proj"),
                                                                                   ("ssm_out", "out_proj")))


def read(cfg: Config, name: str) -> ModelSpec:
    c = common(cfg, name, tie_default=False)
    d = c["hidden_size"]
    heads, hd = integer(cfg, "num_heads", default=128), integer(cfg, "head_dim", default=64)
    inner = int(get(cfg, "expand", default=2) * d)
    if heads * hd != inner:
        raise LlmsizeError(f"config.json (mamba2): num_heads x head_dim ({heads} x {hd}) must equal expand x "
                           f"hidden_size ({inner})")
    c["ssm"] = SSM(kind="mamba2", inner=inner, state_size=integer(cfg, "state_size", default=128),
                   conv_kernel=integer(cfg, "conv_kernel", default=4), num_heads=heads,
                   n_groups=integer(cfg, "n_groups", default=8), conv_bias=bool(get(cfg, "use_conv_bias", default=True)),
                   in_bias=bool(get(cfg, "use_bias", default=False)), out_bias=bool(get(cfg, "use_bias", default=False)),
                   chunk_size=integer(cfg, "chunk_size", default=256),
                   residual_fp32=bool(get(cfg, "residual_in_fp32", default=True)))
    c["mixers"] = ("ssm",) * c["num_layers"]
    # No attention and no feed-forward block: these two describe nothing that is built (dense_mlp False,
    # no attention layer) and only keep the spec's shape.
    c["attention"] = Attention(num_heads=heads, num_kv_heads=heads, head_dim=hd)
    c["mlp"] = MLP(kind="plain", intermediate_size=inner)
    c["dense_mlp"] = False
    c["norms"] = Norms(kind="rmsnorm", per_layer=1)
    c["position"] = "none"
    # ASSUMES: no context limit (a recurrent model has no position table): llmsize's context bound
    c["max_position_embeddings"] = integer(cfg, "max_position_embeddings", default=MAX_CONTEXT)
    return ModelSpec(**c, traits=_TRAITS)


READERS = {"mamba2": read}
TRAITS = {"mamba2": _TRAITS}
