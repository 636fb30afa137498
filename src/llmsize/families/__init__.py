"""Model families as data: one module per family holds its config.json reader(s) and its traits
(`llmsize.spec.Traits`: what the family's Hugging Face code does that the config does not say).

The formulas (parameters, tensor list, memory replay, LoRA, exports) read the spec and its traits
only; this package is the one place that knows model-type names. Adding a family is one module here
(its readers in a `READERS` dict) plus measured truth in tests/data.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from llmsize.errors import LlmsizeError, did_you_mean
from llmsize.families import deepseek, ernie4_5, exaone4, falcon, gemma, gpt2, gpt_neox, gpt_oss, granite, llama, \
    llama_variants, mixtral, olmo, olmo2, opt, phi, phi3, qwen, qwen_moe, smollm3, stablelm, starcoder2
from llmsize.families import mamba2, jamba, granitemoehybrid, falcon_h1, lfm2  # state-space and hybrid (14b)
from llmsize.families import glm4  # 14a
from llmsize.families import nemotron  # 14a
from llmsize.families import gpt_bigcode  # 14a
from llmsize.families import cohere  # 14a
from llmsize.families import bloom  # 14a
from llmsize.families import mpt  # 14a
from llmsize.families import gptj  # 14a
from llmsize.families import bert  # encoders (issue 14c)
from llmsize.families import t5  # encoder-decoder (issue 14c)
from llmsize.families import modernbert  # encoder (issue 14c)
from llmsize.families import deepseek_v2, minicpm  # multi-head latent attention (issue 14l)
from llmsize.families import phimoe, ernie4_5_moe, llama4  # MoE types (issue 14e)
from llmsize.families import qwen3_next  # hybrid Gated DeltaNet + gated attention + MoE (14q)
from llmsize.spec import ModelSpec, Traits

Reader = Callable[[Mapping[str, Any], str], ModelSpec]

READERS: dict[str, Reader] = {}
TRAITS: dict[str, Traits] = {}
for _m in (llama, qwen, olmo2, gemma, mixtral, qwen_moe, deepseek, gpt_oss, phi3, gpt2, gpt_neox, opt, falcon,
           starcoder2, granite, smollm3, exaone4, phi, stablelm, llama_variants, olmo, ernie4_5,
           glm4,  # 14a
           nemotron,  # 14a
           gpt_bigcode,  # 14a
           cohere,  # 14a
           bloom,  # 14a
           mpt,  # 14a
           gptj,  # 14a
           ):
    READERS.update(_m.READERS)
    TRAITS.update(_m.TRAITS)
for _m in (mamba2, jamba, granitemoehybrid, falcon_h1, lfm2):  # state-space and hybrid models
    READERS.update(_m.READERS)
    TRAITS.update(_m.TRAITS)
for _m in (bert, t5, modernbert):  # encoders and encoder-decoders (issue 14c)
    READERS.update(_m.READERS)
    TRAITS.update(_m.TRAITS)
for _m in (deepseek_v2, minicpm, phimoe, ernie4_5_moe, llama4):  # MLA (issue 14l) and MoE (issue 14e) types
    READERS.update(_m.READERS)
    TRAITS.update(_m.TRAITS)
READERS.update(qwen3_next.READERS)  # 14q
TRAITS.update(qwen3_next.TRAITS)  # 14q
assert set(READERS) == set(TRAITS)


def known_types() -> list[str]:
    """The model_type names llmsize reads exactly."""
    return sorted(READERS)


def read(cfg: Mapping[str, Any], name: str, *, assume: str | None = None) -> ModelSpec:
    """The spec of a config.json whose model_type is known, or read as `assume` (another known type)."""
    mt = cfg.get("model_type")
    reader = READERS.get(mt) if isinstance(mt, str) else None
    if reader is None:
        if assume is None:
            what = "has no model_type" if mt is None else f"model_type {mt!r} is not one llmsize knows"
            raise LlmsizeError(f"{name}: {what} (known: "
                               f"{', '.join(known_types())}); pass --assume TYPE to read it as one of them, "
                               f"or measure it exactly with `llmsize trace`")
        if assume not in READERS:
            raise did_you_mean(assume, known_types(), what="--assume model type")
        spec = READERS[assume]({**cfg, "model_type": assume}, name)
        note = (f"{name}: model_type {mt!r} is not one llmsize knows; read as {assume} because of "
                f"--assume {assume} (counts and memory are those of a {assume} with these shapes)")
        return spec.with_(model_type=str(mt), traits=replace(spec.traits, assumed=True),
                          notes=spec.notes + (note,))
    return reader(cfg, name)
