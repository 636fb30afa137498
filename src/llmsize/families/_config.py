"""Shared config.json readers for the family modules: typed key access with the transformers defaults,
head shapes, layer patterns, and the Llama-style decoder most families start from.

Source: hf-llama
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from llmsize import bounds
from llmsize.errors import LlmsizeError
from llmsize.spec import MLP, Attention, Norms

Config = Mapping[str, Any]


def get(cfg: Config, *keys: str, default: Any = LlmsizeError) -> Any:
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


def integer(cfg: Config, *keys: str, default: Any = LlmsizeError) -> Any:
    v = get(cfg, *keys, default=default)
    if v is not None and (isinstance(v, bool) or not isinstance(v, int)):
        raise LlmsizeError(f"config.json: {keys[0]!r} must be an integer, got {v!r:.60}")
    name = next((_KEY_BOUNDS[k] for k in keys if k in _KEY_BOUNDS), None)
    if v is not None and name is not None:
        bounds.check(f"config.json: {keys[0]!r}", v, name, low=0)
    return v


def number(cfg: Config, *keys: str, default: float | None) -> float | None:
    v = get(cfg, *keys, default=default)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise LlmsizeError(f"config.json: {keys[0]!r} must be a number, got {v!r}")
    return float(v)


def rate(cfg: Config, *keys: str, default: float = 0.0) -> float:
    """A dropout probability; an explicit null reads as the default."""
    v = number(cfg, *keys, default=default)
    return default if v is None else v


def heads(cfg: Config, hidden: int, n_heads: int, kv: int | None = None) -> tuple[int, int, int]:
    kv = integer(cfg, "num_key_value_heads", default=n_heads) if kv is None else kv
    hd = integer(cfg, "head_dim", default=None)
    if hd is None:
        if hidden % n_heads:
            raise LlmsizeError(f"config.json: num_attention_heads ({n_heads}) must divide hidden_size ({hidden}) "
                               f"when no head_dim is given")
        hd = hidden // n_heads
    return n_heads, kv, hd


def layer_types(cfg: Config, n: int, default: Callable[[int], str] | None = None) -> tuple[str, ...]:
    lt = cfg.get("layer_types")
    if lt is not None and not isinstance(lt, list):
        raise LlmsizeError(f"config.json: layer_types must be a list of layer kinds, got {lt!r}")
    if lt:
        if len(lt) != n:
            raise LlmsizeError(f"config.json: layer_types has {len(lt)} entries for {n} layers")
        return tuple("sliding" if "sliding" in str(t) else "full" for t in lt)
    return tuple(default(i) for i in range(n)) if default else ()


def common(cfg: Config, name: str, *, tie_default: bool) -> dict[str, Any]:
    dtype = get(cfg, "dtype", "torch_dtype", default=None)
    if dtype is not None and not isinstance(dtype, str):
        raise LlmsizeError(f"config.json: torch_dtype must be a dtype name such as 'bfloat16', got {dtype!r:.60}")
    return dict(name=name, model_type=str(cfg.get("model_type") or "unknown"), hidden_size=integer(cfg, "hidden_size"),
                num_layers=integer(cfg, "num_hidden_layers"), vocab_size=integer(cfg, "vocab_size"),
                max_position_embeddings=integer(cfg, "max_position_embeddings", default=2048),
                tie_word_embeddings=bool(get(cfg, "tie_word_embeddings", default=tie_default)), dtype=dtype)


def llama_like(cfg: Config, name: str, *, tie: bool = False, qkv_bias: bool | None = None,
               o_bias: bool | None = None, qk_norm: str = "none", norms: int = 2, act: str = "silu",
               types: Callable[[int], str] | None = None) -> dict[str, Any]:
    """The keyword arguments of a Llama-style ModelSpec (RMSNorm, gated MLP, rotary positions)."""
    c = common(cfg, name, tie_default=tie)
    nh, kv, hd = heads(cfg, c["hidden_size"], integer(cfg, "num_attention_heads"))
    ab = bool(cfg.get("attention_bias", False))
    c["attention"] = Attention(num_heads=nh, num_kv_heads=kv, head_dim=hd,
                               qkv_bias=ab if qkv_bias is None else qkv_bias,
                               o_bias=ab if o_bias is None else o_bias, qk_norm=qk_norm)  # type: ignore[arg-type]
    c["mlp"] = MLP(kind="gated", intermediate_size=integer(cfg, "intermediate_size"),
                   bias=bool(cfg.get("mlp_bias", False)),
                   activation=str(get(cfg, "hidden_act", "hidden_activation", default=act)))
    c["norms"] = Norms(kind="rmsnorm", per_layer=norms)
    c["layer_types"] = layer_types(cfg, c["num_layers"], types)
    sw = cfg.get("sliding_window")
    if "sliding" in c["layer_types"] or (sw and types is None and not c["layer_types"] and
                                        cfg.get("use_sliding_window", True)):
        c["sliding_window"] = integer(cfg, "sliding_window")
        if not c["layer_types"]:
            c["layer_types"] = ("sliding",) * c["num_layers"]
    c["attention_dropout"] = rate(cfg, "attention_dropout")
    return c


def sparse_layers(cfg: Config, n: int, *, step_key: str = "decoder_sparse_step") -> tuple[bool, ...]:
    step = integer(cfg, step_key, default=1)
    if step < 1:
        raise LlmsizeError(f"config.json: {step_key} must be at least 1, got {step}")
    only = cfg.get("mlp_only_layers") or []
    if not isinstance(only, list):
        raise LlmsizeError(f"config.json: mlp_only_layers must be a list of layer indices, got {only!r}")
    dense = set(only)
    return tuple(i not in dense and (i + 1) % step == 0 for i in range(n))
