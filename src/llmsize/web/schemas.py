"""Request bodies of the JSON API, with explicit bounds on every number.

Bounds are wide enough for every published model (and 10x beyond) and tight enough that no request
can make the server loop for long or build huge tuples; a value outside them is a 422 that names the
field and the accepted range.
"""
from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

MAX_LAYERS = 4096
MAX_WIDTH = 1 << 20  # hidden, FFN, head dim
MAX_HEADS = 4096
MAX_VOCAB = 1 << 24
MAX_EXPERTS = 4096
MAX_CONTEXT = 1 << 24  # 16M tokens
MAX_BATCH = 1 << 16
MAX_GPUS = 1 << 16
MAX_CONFIG_CHARS = 512 * 1024


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _dim(hi: int, **kw: Any) -> Any:
    return Field(ge=1, le=hi, **kw)


def _opt(hi: int, **kw: Any) -> Any:
    return Field(None, ge=1, le=hi, **kw)


class Knobs(_Body):
    """Architecture knobs, as `llmsize params --hidden ... --layers ...` takes them."""

    hidden: int = _dim(MAX_WIDTH, description="Hidden size d.")
    layers: int = _dim(MAX_LAYERS, description="Decoder layers L.")
    heads: int = _dim(MAX_HEADS, description="Attention (query) heads.")
    vocab: int = _dim(MAX_VOCAB, description="Vocabulary size V.")
    kv_heads: int | None = _opt(MAX_HEADS, description="Key/value heads (GQA/MQA); default = heads.")
    head_dim: int | None = _opt(MAX_WIDTH, description="Head size; default hidden/heads.")
    ffn: int | None = _opt(MAX_WIDTH, description="FFN (intermediate) width f.")
    gated: bool | None = Field(None, description="Gated 3-matrix MLP (SwiGLU) or plain 2-matrix.")
    tied: bool | None = Field(None, description="Tie the output head to the input embeddings.")
    norm: Literal["rmsnorm", "layernorm"] | None = None
    bias: bool | None = None
    positions: Literal["rope", "learned", "alibi", "none"] | None = None
    max_positions: int | None = _opt(MAX_CONTEXT)
    experts: int | None = _opt(MAX_EXPERTS, description="MoE: experts per layer.")
    top_k: int | None = _opt(MAX_EXPERTS, description="MoE: experts used per token.")
    expert_ffn: int | None = _opt(MAX_WIDTH)
    shared_ffn: int | None = _opt(MAX_WIDTH)
    name: str | None = Field(None, max_length=120)


class WhatIf(_Body):
    """Changes to a loaded model (a preset with fewer layers, a wider FFN, ...)."""

    hidden: int | None = _opt(MAX_WIDTH)
    layers: int | None = _opt(MAX_LAYERS)
    heads: int | None = _opt(MAX_HEADS)
    kv_heads: int | None = _opt(MAX_HEADS)
    head_dim: int | None = _opt(MAX_WIDTH)
    ffn: int | None = _opt(MAX_WIDTH)
    vocab: int | None = _opt(MAX_VOCAB)
    tied: bool | None = None
    max_positions: int | None = _opt(MAX_CONTEXT)


class ModelRef(_Body):
    """Exactly one of: a preset name, a parsed config.json object, config.json text, or knobs."""

    preset: str | None = Field(None, min_length=1, max_length=200, examples=["Llama-3.1-8B"])
    config: dict[str, Any] | None = Field(None, description="A Hugging Face config.json, as a JSON object.")
    config_text: str | None = Field(None, max_length=MAX_CONFIG_CHARS,
                                    description="A config.json file's text (parse errors give line and column).")
    config_name: str | None = Field(None, max_length=200, description="Name to show for an uploaded config.")
    knobs: Knobs | None = None
    whatif: WhatIf | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> ModelRef:
        given = [k for k in ("preset", "config", "config_text", "knobs") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of preset, config, config_text or knobs"
                             + (f" (got {', '.join(given)})" if given else ""))
        return self


class ModelBody(_Body):
    """Just a model: `POST /api/v1/params`."""

    model: ModelRef
