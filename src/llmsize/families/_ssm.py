"""Shared readers of the state-space and hybrid families: per-layer mixers from config layer_types,
and the Mamba-2 mixer block three of them share (Mamba2, Granite 4 hybrid, Falcon-H1).

Source: hf-mamba2
"""
from __future__ import annotations

from llmsize.errors import LlmsizeError
from llmsize.families._config import Config, get, integer
from llmsize.spec import SSM

# transformers' layer_types names (configuration_utils.ALLOWED_ATTN_LAYER_TYPES and its legacy remap)
_ATTENTION = {"attention", "full_attention"}
_STATE = {"mamba", "linear_attention", "conv"}


def mixers(cfg: Config, n: int, default: str) -> tuple[str, ...]:
    """Per layer: "attention" or "ssm" from config.json's layer_types (all `default` when absent)."""
    lt = cfg.get("layer_types")
    if lt is None:
        return (default,) * n
    if not isinstance(lt, list) or len(lt) != n:
        raise LlmsizeError(f"config.json: layer_types must list one layer kind per layer ({n}), got {lt!r:.80}")
    out = []
    for t in lt:
        if t in _ATTENTION:
            out.append("attention")
        elif t in _STATE:
            out.append("ssm")
        else:
            raise LlmsizeError(f"config.json: layer kind {t!r:.40} is not one of "
                               f"{', '.join(sorted(_ATTENTION | _STATE))}")
    return tuple(out)


def mamba2(cfg: Config, hidden: int, *, prefix: str = "mamba_", inner: int | None = None,
           gated_norm: bool = True, out_bias_key: str = "mamba_proj_bias") -> SSM:
    """A Mamba-2 mixer from `{prefix}n_heads`, `{prefix}d_state`, ... (Granite / Falcon-H1 key names)."""
    expand = integer(cfg, f"{prefix}expand", default=2)
    d_in = inner if inner is not None else expand * hidden
    heads = integer(cfg, f"{prefix}n_heads", default=128)
    hd = get(cfg, f"{prefix}d_head", default="auto")
    if hd != "auto" and (isinstance(hd, bool) or not isinstance(hd, int) or hd * heads != d_in):
        raise LlmsizeError(f"config.json: {prefix}d_head ({hd!r:.20}) x {prefix}n_heads ({heads}) must equal the "
                           f"Mamba inner width ({d_in})")
    return SSM(kind="mamba2", inner=d_in, state_size=integer(cfg, f"{prefix}d_state", default=256),
               conv_kernel=integer(cfg, f"{prefix}d_conv", default=4), num_heads=heads,
               n_groups=integer(cfg, f"{prefix}n_groups", default=1),
               conv_bias=bool(get(cfg, f"{prefix}conv_bias", default=True)),
               in_bias=bool(get(cfg, f"{prefix}proj_bias", default=False)),
               out_bias=bool(get(cfg, out_bias_key, default=False)), gated_norm=gated_norm,
               chunk_size=integer(cfg, f"{prefix}chunk_size", default=256))
