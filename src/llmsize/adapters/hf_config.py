"""Hugging Face `config.json` -> ModelSpec, for each supported `model_type`.

Defaults for absent keys are the defaults of the matching transformers config class, so a
minimal config.json counts the same as transformers builds it.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from llmsize import bounds
from llmsize.errors import LlmsizeError
from llmsize.spec import MLP, Attention, MoE, ModelSpec, Norms, Vision

Config = Mapping[str, Any]


def _get(cfg: Config, *keys: str, default: Any = LlmsizeError) -> Any:
    for k in keys:
        if cfg.get(k) is not None:
            return cfg[k]
    if default is LlmsizeError:
        raise LlmsizeError(f"config.json ({cfg.get('model_type', '?')}) lacks {keys[0]!r}, which this "
                           f"model type needs")
    return default


# config keys that set a count something is built per item of (per-layer tuples): bounded on read
_KEY_BOUNDS = {"num_hidden_layers": "layers", "n_layer": "layers", "hidden_size": "width", "n_embd": "width",
               "num_attention_heads": "heads", "n_head": "heads", "num_key_value_heads": "heads",
               "num_kv_heads": "heads", "vocab_size": "vocab", "intermediate_size": "width",
               "num_local_experts": "experts", "num_experts": "experts", "n_routed_experts": "experts",
               "first_k_dense_replace": "layers", "decoder_sparse_step": "layers", "moe_layer_freq": "layers",
               "sliding_window_pattern": "layers", "max_position_embeddings": "positions", "n_positions": "positions"}


def _int(cfg: Config, *keys: str, default: Any = LlmsizeError) -> Any:
    v = _get(cfg, *keys, default=default)
    if v is not None and (isinstance(v, bool) or not isinstance(v, int)):
        raise LlmsizeError(f"config.json: {keys[0]!r} must be an integer, got {v!r:.60}")
    name = next((_KEY_BOUNDS[k] for k in keys if k in _KEY_BOUNDS), None)
    if v is not None and name is not None:
        bounds.check(f"config.json: {keys[0]!r}", v, name, low=0)
    return v


def _float(cfg: Config, *keys: str, default: float) -> float:
    v = _get(cfg, *keys, default=default)
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise LlmsizeError(f"config.json: {keys[0]!r} must be a number, got {v!r}")
    return float(v)


def _heads(cfg: Config, hidden: int, heads: int, kv: int | None = None) -> tuple[int, int, int]:
    kv = _int(cfg, "num_key_value_heads", default=heads) if kv is None else kv
    hd = _int(cfg, "head_dim", default=None)
    if hd is None:
        if hidden % heads:
            raise LlmsizeError(f"config.json: num_attention_heads ({heads}) must divide hidden_size ({hidden}) "
                               f"when no head_dim is given")
        hd = hidden // heads
    return heads, kv, hd


def _layer_types(cfg: Config, n: int, default: Callable[[int], str] | None = None) -> tuple[str, ...]:
    lt = cfg.get("layer_types")
    if lt is not None and not isinstance(lt, list):
        raise LlmsizeError(f"config.json: layer_types must be a list of layer kinds, got {lt!r}")
    if lt:
        if len(lt) != n:
            raise LlmsizeError(f"config.json: layer_types has {len(lt)} entries for {n} layers")
        return tuple("sliding" if "sliding" in str(t) else "full" for t in lt)
    return tuple(default(i) for i in range(n)) if default else ()


def _common(cfg: Config, name: str, *, tie_default: bool) -> dict[str, Any]:
    dtype = _get(cfg, "dtype", "torch_dtype", default=None)
    if dtype is not None and not isinstance(dtype, str):
        raise LlmsizeError(f"config.json: torch_dtype must be a dtype name such as 'bfloat16', got {dtype!r:.60}")
    return dict(name=name, model_type=str(cfg.get("model_type") or "unknown"), hidden_size=_int(cfg, "hidden_size"),
                num_layers=_int(cfg, "num_hidden_layers"), vocab_size=_int(cfg, "vocab_size"),
                max_position_embeddings=_int(cfg, "max_position_embeddings", default=2048),
                tie_word_embeddings=bool(_get(cfg, "tie_word_embeddings", default=tie_default)), dtype=dtype)


def _llama_like(cfg: Config, name: str, *, tie: bool = False, qkv_bias: bool | None = None,
                o_bias: bool | None = None, qk_norm: str = "none", norms: int = 2, act: str = "silu",
                layer_types: Callable[[int], str] | None = None) -> dict[str, Any]:
    c = _common(cfg, name, tie_default=tie)
    heads, kv, hd = _heads(cfg, c["hidden_size"], _int(cfg, "num_attention_heads"))
    ab = bool(cfg.get("attention_bias", False))
    c["attention"] = Attention(num_heads=heads, num_kv_heads=kv, head_dim=hd,
                               qkv_bias=ab if qkv_bias is None else qkv_bias,
                               o_bias=ab if o_bias is None else o_bias, qk_norm=qk_norm)  # type: ignore[arg-type]
    c["mlp"] = MLP(kind="gated", intermediate_size=_int(cfg, "intermediate_size"),
                   bias=bool(cfg.get("mlp_bias", False)),
                   activation=str(_get(cfg, "hidden_act", "hidden_activation", default=act)))
    c["norms"] = Norms(kind="rmsnorm", per_layer=norms)
    c["layer_types"] = _layer_types(cfg, c["num_layers"], layer_types)
    sw = cfg.get("sliding_window")
    if "sliding" in c["layer_types"] or (sw and layer_types is None and not c["layer_types"] and
                                        cfg.get("use_sliding_window", True)):
        c["sliding_window"] = _int(cfg, "sliding_window")
        if not c["layer_types"]:
            c["layer_types"] = ("sliding",) * c["num_layers"]
    return c


def _sparse_layers(cfg: Config, n: int, *, step_key: str = "decoder_sparse_step") -> tuple[bool, ...]:
    step = _int(cfg, step_key, default=1)
    if step < 1:
        raise LlmsizeError(f"config.json: {step_key} must be at least 1, got {step}")
    only = cfg.get("mlp_only_layers") or []
    if not isinstance(only, list):
        raise LlmsizeError(f"config.json: mlp_only_layers must be a list of layer indices, got {only!r}")
    dense = set(only)
    return tuple(i not in dense and (i + 1) % step == 0 for i in range(n))


def _llama(cfg: Config, name: str) -> ModelSpec:
    return ModelSpec(**_llama_like(cfg, name))


def _qwen2(cfg: Config, name: str) -> ModelSpec:
    return ModelSpec(**_llama_like(cfg, name, qkv_bias=True, o_bias=False))


def _qwen3(cfg: Config, name: str) -> ModelSpec:
    return ModelSpec(**_llama_like(cfg, name, qk_norm="head"))


def _olmo2(cfg: Config, name: str) -> ModelSpec:
    return ModelSpec(**_llama_like(cfg, name, qk_norm="full"))


def _gemma(cfg: Config, name: str) -> ModelSpec:
    return ModelSpec(**_llama_like(cfg, name, tie=True, act="gelu_pytorch_tanh"))


def _gemma2(cfg: Config, name: str) -> ModelSpec:
    return ModelSpec(**_llama_like(cfg, name, tie=True, norms=4, act="gelu_pytorch_tanh",
                                   layer_types=lambda i: "sliding" if i % 2 == 0 else "full"))


def _gemma3_text(cfg: Config, name: str) -> ModelSpec:
    # Gemma3TextConfig defaults, for the keys multimodal configs leave out of text_config
    cfg = {"vocab_size": 262208, "head_dim": 256, "num_attention_heads": 8, "num_key_value_heads": 4,
           "sliding_window": 4096, "hidden_size": 2304, "intermediate_size": 9216, "num_hidden_layers": 26,
           "max_position_embeddings": 131072, **{k: v for k, v in cfg.items() if v is not None}}
    pattern = _int(cfg, "sliding_window_pattern", default=6)
    return ModelSpec(**_llama_like(cfg, name, tie=True, norms=4, qk_norm="head", act="gelu_pytorch_tanh",
                                   layer_types=lambda i: "full" if (i + 1) % pattern == 0 else "sliding"))


def _gemma3(cfg: Config, name: str) -> ModelSpec:
    text = {"model_type": "gemma3_text", **(cfg.get("text_config") or {})}
    text.setdefault("tie_word_embeddings", cfg.get("tie_word_embeddings", True))
    text.setdefault("dtype", cfg.get("dtype", cfg.get("torch_dtype")))
    spec = _gemma3_text(text, name)
    v = {"hidden_size": 1152, "intermediate_size": 4304, "num_hidden_layers": 27, "num_attention_heads": 16,
         "patch_size": 14, "image_size": 896, "num_channels": 3, **(cfg.get("vision_config") or {})}
    vh = _int(v, "hidden_size")
    vision = Vision(hidden_size=vh, intermediate_size=_int(v, "intermediate_size"),
                    num_layers=_int(v, "num_hidden_layers"), num_heads=_int(v, "num_attention_heads"),
                    patch_size=_int(v, "patch_size"), image_size=_int(v, "image_size"),
                    num_channels=_int(v, "num_channels"), pooling_head=bool(v.get("vision_use_head", True)),
                    # mm_input_projection_weight [d_v, d] + mm_soft_emb_norm RMSNorm(d_v)
                    projector_params=vh * spec.hidden_size + vh)
    return spec.with_(model_type="gemma3", vision=vision)


def _mixtral(cfg: Config, name: str) -> ModelSpec:
    c = _llama_like(cfg, name)
    n = c["num_layers"]
    c["moe"] = MoE(num_experts=_int(cfg, "num_local_experts"), top_k=_int(cfg, "num_experts_per_tok"),
                   expert_intermediate_size=_int(cfg, "intermediate_size"))
    c["moe_layers"] = (True,) * n
    return ModelSpec(**c)


def _olmoe(cfg: Config, name: str) -> ModelSpec:
    c = _llama_like(cfg, name, qk_norm="full")
    c["moe"] = MoE(num_experts=_int(cfg, "num_experts"), top_k=_int(cfg, "num_experts_per_tok"),
                   expert_intermediate_size=_int(cfg, "intermediate_size"))
    c["moe_layers"] = (True,) * c["num_layers"]
    return ModelSpec(**c)


def _qwen_moe(cfg: Config, name: str, *, shared: bool) -> ModelSpec:
    c = _llama_like(cfg, name, qkv_bias=bool(cfg.get("qkv_bias", True)) if shared else None,
                    o_bias=False if shared else None, qk_norm="none" if shared else "head")
    c["moe"] = MoE(num_experts=_int(cfg, "num_experts", "num_local_experts"),
                   top_k=_int(cfg, "num_experts_per_tok"),
                   expert_intermediate_size=_int(cfg, "moe_intermediate_size"),
                   shared_intermediate_size=_int(cfg, "shared_expert_intermediate_size") if shared else 0,
                   shared_expert_gate=shared)
    c["moe_layers"] = _sparse_layers(cfg, c["num_layers"])
    return ModelSpec(**c)


def _deepseek_v3(cfg: Config, name: str) -> ModelSpec:
    c = _common(cfg, name, tie_default=False)
    nope, rope = _int(cfg, "qk_nope_head_dim"), _int(cfg, "qk_rope_head_dim")
    heads = _int(cfg, "num_attention_heads")
    c["attention"] = Attention(num_heads=heads, num_kv_heads=heads, head_dim=nope + rope,
                               qkv_bias=bool(cfg.get("attention_bias", False)),
                               o_bias=bool(cfg.get("attention_bias", False)),
                               q_lora_rank=_int(cfg, "q_lora_rank", default=None),
                               kv_lora_rank=_int(cfg, "kv_lora_rank"), qk_rope_head_dim=rope,
                               v_head_dim=_int(cfg, "v_head_dim"))
    c["mlp"] = MLP(kind="gated", intermediate_size=_int(cfg, "intermediate_size"))
    f = _int(cfg, "moe_intermediate_size")
    c["moe"] = MoE(num_experts=_int(cfg, "n_routed_experts"), top_k=_int(cfg, "num_experts_per_tok"),
                   expert_intermediate_size=f, shared_intermediate_size=f * _int(cfg, "n_shared_experts", default=0),
                   router_correction_bias=True)
    first, freq = _int(cfg, "first_k_dense_replace", default=0), _int(cfg, "moe_layer_freq", default=1)
    if freq < 1:
        raise LlmsizeError(f"config.json: moe_layer_freq must be at least 1, got {freq}")
    c["moe_layers"] = tuple(i >= first and i % freq == 0 for i in range(c["num_layers"]))
    c["norms"] = Norms(kind="rmsnorm", per_layer=2)
    notes = []
    if cfg.get("num_nextn_predict_layers"):
        notes.append(f"the {cfg['num_nextn_predict_layers']} multi-token-prediction layer(s) in the checkpoint "
                     "are not part of the model transformers builds and are not counted")
    return ModelSpec(**c, notes=tuple(notes))


def _gpt_oss(cfg: Config, name: str) -> ModelSpec:
    c = _llama_like(cfg, name, qkv_bias=True, o_bias=True,
                    layer_types=lambda i: "sliding" if i % 2 == 0 else "full")
    c["attention"] = replace(c["attention"], sinks=True)
    c["moe"] = MoE(num_experts=_int(cfg, "num_local_experts"),
                   top_k=_int(cfg, "num_experts_per_tok", "experts_per_token"),
                   expert_intermediate_size=_int(cfg, "intermediate_size"), expert_bias=True, router_bias=True)
    c["moe_layers"] = (True,) * c["num_layers"]
    return ModelSpec(**c)


def _phi3(cfg: Config, name: str) -> ModelSpec:
    c = _llama_like(cfg, name)
    a = c["attention"]
    c["attention"] = Attention(num_heads=a.num_heads, num_kv_heads=a.num_kv_heads, head_dim=a.head_dim,
                               fused_qkv=True)
    c["mlp"] = MLP(kind="gated", intermediate_size=c["mlp"].intermediate_size, fused_gate_up=True,
                   activation=c["mlp"].activation)
    return ModelSpec(**c)


def _gpt2(cfg: Config, name: str) -> ModelSpec:
    d = _int(cfg, "n_embd", "hidden_size")
    heads = _int(cfg, "n_head", "num_attention_heads")
    cfg = {**cfg, "hidden_size": d, "num_hidden_layers": _int(cfg, "n_layer", "num_hidden_layers"),
           "max_position_embeddings": _int(cfg, "n_positions", "max_position_embeddings", default=1024)}
    c = _common(cfg, name, tie_default=True)
    _, _, hd = _heads({}, d, heads, heads)
    c["attention"] = Attention(num_heads=heads, num_kv_heads=heads, head_dim=hd, qkv_bias=True, o_bias=True,
                               fused_qkv=True)
    c["mlp"] = MLP(kind="plain", intermediate_size=_int(cfg, "n_inner", default=None) or 4 * d, bias=True,
                   activation=str(cfg.get("activation_function", "gelu_new")))
    return ModelSpec(**c, norms=Norms(kind="layernorm", bias=True), position="learned")


def _gpt_neox(cfg: Config, name: str) -> ModelSpec:
    c = _common(cfg, name, tie_default=False)
    heads, _, hd = _heads({}, c["hidden_size"], _int(cfg, "num_attention_heads"), 1)
    bias = bool(cfg.get("attention_bias", True))
    c["attention"] = Attention(num_heads=heads, num_kv_heads=heads, head_dim=hd, qkv_bias=bias, o_bias=bias,
                               fused_qkv=True)
    c["mlp"] = MLP(kind="plain", intermediate_size=_int(cfg, "intermediate_size"), bias=True,
                   activation=str(cfg.get("hidden_act", "gelu")))
    return ModelSpec(**c, norms=Norms(kind="layernorm", bias=True),
                     rotary_fraction=_float(cfg, "rotary_pct", "partial_rotary_factor", default=0.25),
                     parallel_residual=bool(cfg.get("use_parallel_residual", True)))


def _opt(cfg: Config, name: str) -> ModelSpec:
    c = _common(cfg, name, tie_default=True)
    d = c["hidden_size"]
    heads, _, hd = _heads({}, d, _int(cfg, "num_attention_heads"), 1)
    bias = bool(cfg.get("enable_bias", True))
    c["attention"] = Attention(num_heads=heads, num_kv_heads=heads, head_dim=hd, qkv_bias=bias, o_bias=bias)
    c["mlp"] = MLP(kind="plain", intermediate_size=_int(cfg, "ffn_dim"), bias=bias,
                   activation=str(cfg.get("activation_function", "relu")))
    affine = bool(cfg.get("layer_norm_elementwise_affine", True))
    final = bool(cfg.get("do_layer_norm_before", True)) and not cfg.get("_remove_final_layer_norm", False)
    e = _int(cfg, "word_embed_proj_dim", default=d)
    return ModelSpec(**c, norms=Norms(kind="layernorm", bias=affine, per_layer=2 if affine else 0,
                                      final=final and affine),
                     position="learned", position_offset=2, embed_dim=e if e != d else None)


def _falcon(cfg: Config, name: str) -> ModelSpec:
    cfg = {**cfg, "num_hidden_layers": _int(cfg, "num_hidden_layers", "n_layer"),
           "num_attention_heads": _int(cfg, "num_attention_heads", "n_head")}
    c = _common(cfg, name, tie_default=True)
    d, heads = c["hidden_size"], cfg["num_attention_heads"]
    new = bool(cfg.get("new_decoder_architecture", False))
    kv = _int(cfg, "num_kv_heads", default=heads) if new else (1 if cfg.get("multi_query", True) else heads)
    _, _, hd = _heads({}, d, heads, kv)
    bias = bool(cfg.get("bias", False))
    c["attention"] = Attention(num_heads=heads, num_kv_heads=kv, head_dim=hd, qkv_bias=bias, o_bias=bias,
                               fused_qkv=True)
    c["mlp"] = MLP(kind="plain", intermediate_size=_int(cfg, "ffn_hidden_size", default=4 * d), bias=bias,
                   activation=str(cfg.get("activation", "gelu")))
    parallel = bool(cfg.get("parallel_attn", True))
    if new:
        per = _int(cfg, "num_ln_in_parallel_attn", default=2)
    else:
        per = 1 if parallel else 2
    alibi = bool(cfg.get("alibi", False))
    return ModelSpec(**c, norms=Norms(kind="layernorm", bias=True, per_layer=per),
                     position="alibi" if alibi else "rope", parallel_residual=parallel or new)


ADAPTERS: dict[str, Callable[[Config, str], ModelSpec]] = {
    "llama": _llama, "mistral": _llama, "qwen2": _qwen2, "qwen3": _qwen3, "olmo2": _olmo2,
    "gemma": _gemma, "gemma2": _gemma2, "gemma3_text": _gemma3_text, "gemma3": _gemma3,
    "mixtral": _mixtral, "olmoe": _olmoe,
    "qwen2_moe": lambda c, n: _qwen_moe(c, n, shared=True), "qwen3_moe": lambda c, n: _qwen_moe(c, n, shared=False),
    "deepseek_v3": _deepseek_v3, "gpt_oss": _gpt_oss, "phi3": _phi3, "gpt2": _gpt2, "gpt_neox": _gpt_neox,
    "opt": _opt, "falcon": _falcon,
}
_GENERIC_KEYS = ("hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size", "vocab_size")


def spec_from_config(cfg: Any, name: str = "config.json", *, warn: Callable[[str], None] | None = None) -> ModelSpec:
    """Build a ModelSpec from a parsed config.json object."""
    if not isinstance(cfg, Mapping):
        raise LlmsizeError(f"{name}: a config.json must be a JSON object, got {type(cfg).__name__}")
    mt = cfg.get("model_type")
    if mt is not None and not isinstance(mt, str):
        raise LlmsizeError(f"{name}: model_type must be text such as 'llama', got {mt!r:.60}")
    if mt in ADAPTERS:
        try:
            return ADAPTERS[mt](cfg, name)
        except (TypeError, ValueError, ArithmeticError, KeyError, AttributeError, IndexError) as e:
            if isinstance(e, LlmsizeError):
                raise
            raise LlmsizeError(f"{name}: a value in this {mt} config.json has the wrong type or range "
                               f"({type(e).__name__}: {e})") from None
    if mt is None and isinstance(cfg.get("text_config"), Mapping):
        return spec_from_config(cfg["text_config"], name, warn=warn)
    if all(k in cfg for k in _GENERIC_KEYS):
        msg = (f"{name}: model_type {mt!r} is not one llmsize knows; assumed a Llama-style decoder (RMSNorm, "
               f"gated MLP, rotary positions, biases only where attention_bias/mlp_bias say)")
        if warn is not None:
            warn(msg)
        try:
            spec = _llama(cfg, name)
        except (TypeError, ArithmeticError, KeyError, AttributeError, IndexError) as e:
            raise LlmsizeError(f"{name}: a value in this config.json has the wrong type or range "
                               f"({type(e).__name__}: {e})") from None
        return spec.with_(notes=spec.notes + (msg,))
    raise LlmsizeError(f"{name}: unsupported model_type {mt!r}; supported: {', '.join(sorted(ADAPTERS))} "
                       f"(or any config with {', '.join(_GENERIC_KEYS)})")


def parse_config_text(text: str, name: str) -> dict[str, Any]:
    """Parse config.json text, turning JSON errors into one-line messages with line and column; the
    JSON bounds apply (no NaN/Infinity, integers of at most 30 digits, nesting at most 64 deep)."""
    cfg = bounds.loads(text, name)
    if not isinstance(cfg, dict):
        raise LlmsizeError(f"{name}: a config.json must be a JSON object, got {type(cfg).__name__}")
    return cfg
