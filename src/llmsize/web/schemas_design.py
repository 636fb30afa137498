"""Request bodies for the design endpoints: the options of `llmsize design/scaling/compare/whatif`."""
from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field, model_validator

from llmsize.web.schemas import MAX_BATCH, MAX_CONTEXT, MAX_HEADS, MAX_LAYERS, MAX_VOCAB, MAX_WIDTH, ModelRef, _Body

# "7B", "1.5T", "1e23", 7000000000: parsed by llmsize.design.units.parse_quantity, as the CLI does
Quantity = Annotated[str, Field(min_length=1, max_length=40)] | Annotated[int, Field(ge=1, le=10**40)]


class Setting(_Body):
    """The workload every design row assumes (`--gpu --weights --seq-len --batch --train-gpus --mfu --price`)."""

    old_names: ClassVar[dict[str, str]] = {"dtype": "weights", "context": "seq_len"}
    gpu: str = Field("H100", min_length=1, max_length=80)
    weights: str = Field("bf16", min_length=1, max_length=40, description="Weights, KV cache and compute dtype.")
    seq_len: int = Field(8192, ge=1, le=MAX_CONTEXT, description="Tokens per sequence served.")
    batch: int = Field(1, ge=1, le=MAX_BATCH)
    train_gpus: int = Field(1024, ge=1, le=1 << 20)
    mfu: float | None = Field(None, gt=0, le=1)
    price: float | None = Field(None, gt=0, le=1e4)


class DesignBody(_Body):
    params: Quantity | None = None
    compute: Quantity | None = None
    gpu_hours: Quantity | None = None
    tokens: Quantity | None = None
    law: Literal["chinchilla", "approach3", "besiroglu", "kaplan"] = "chinchilla"
    vocab: int = Field(128_256, ge=1, le=MAX_VOCAB)
    attention: Literal["gqa", "mha", "mqa"] = "gqa"
    kv_heads: int | None = Field(None, ge=1, le=MAX_HEADS, description="GQA KV heads, exactly (default: 8 where "
                                 "the head count allows, else the largest power of two below 8 dividing it).")
    head_dim: int | None = Field(None, ge=1, le=MAX_WIDTH)
    ffn_mult: float = Field(1.0, gt=0, le=64)
    ffn_multiple: int = Field(256, ge=1, le=MAX_WIDTH)
    plain: bool = False
    tied: bool = False
    hidden: int | None = Field(None, ge=1, le=MAX_WIDTH)
    layers: int | None = Field(None, ge=1, le=MAX_LAYERS)
    min_aspect: float = Field(16.0, gt=0, le=1e6)
    max_aspect: float = Field(256.0, gt=0, le=1e6)
    candidates: int = Field(5, ge=1, le=12)
    setting: Setting = Setting()


class ScalingBody(_Body):
    compute: Quantity | None = None
    params: Quantity | None = None
    tokens: Quantity | None = None
    inference_tokens: Quantity | None = None
    fit: Literal["hoffmann2022", "besiroglu2024"] = "hoffmann2022"


class CompareItem(_Body):
    """A model to compare: a model reference, or `design` = a parameter budget (the recommended shape)."""

    model: ModelRef | None = None
    design: Quantity | None = None

    @model_validator(mode="after")
    def _one(self) -> CompareItem:
        if (self.model is None) == (self.design is None):
            raise ValueError("give exactly one of model or design")
        return self


class CompareBody(_Body):
    models: list[CompareItem] = Field(min_length=2, max_length=8)
    tokens: Quantity | None = None
    setting: Setting = Setting()


class WhatIfBody(_Body):
    what: Literal["attention", "vocab", "shape", "moe", "quant", "prune", "sparse24", "distill"]
    model: ModelRef
    kinds: str | None = Field(None, max_length=200, description="attention: mha, gqa:G, mqa, mla (comma list).")
    sizes: str | None = Field(None, max_length=200, description="vocab: comma list of sizes.")
    moe: str | None = Field(None, max_length=200, description="moe: comma list of EXPERTSxTOPK[+SHARED].")
    format: str = Field("Q4_K_M", min_length=1, max_length=40)
    drop_layers: int = Field(0, ge=0, le=MAX_LAYERS)
    prune_heads: int | None = Field(None, ge=1, le=MAX_HEADS)
    prune_kv_heads: int | None = Field(None, ge=1, le=MAX_HEADS)
    prune_ffn: int | None = Field(None, ge=1, le=MAX_WIDTH)
    prune_hidden: int | None = Field(None, ge=1, le=MAX_WIDTH)
    student: CompareItem | None = None
    distill_tokens: Quantity = "94B"
    setting: Setting = Setting()
