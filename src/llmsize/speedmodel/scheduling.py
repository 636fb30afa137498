"""How a serving engine schedules a new request's prompt beside the requests already decoding.

Mixed: the prompt's tokens ride in the same forward pass as the running sequences' decode tokens
(TensorRT-LLM's in-flight batching, vLLM with chunked prefill, llama.cpp's server, which puts every
slot's tokens in one batch). The first token comes out of that pass; the others' decodes slow only by
the prompt's extra work.

Separate: the prompt runs as a forward pass of its own, and every running sequence waits through it
(SGLang, whose `--enable-mixed-chunk` is off by default in every release; vLLM's V0 engine without
chunked prefill). Timed by `speedmodel.prompt_passes`.

vLLM: the V0 engine chunked prompts only when asked (`--enable-chunked-prefill`), and from PR 6666
(merged 2024-07-23) by default for models whose context exceeds 32K tokens, unless the model has a
sliding window; in v0.6.0-0.6.1 not with multi-step scheduling (`--num-scheduler-steps` > 1, vllm#8274,
lifted by PR 8378). The V1 engine, the default from v0.8.0 (PR 15064, 2025-03-18; `VLLM_USE_V1=0`
switched back until V0 was removed), always chunks.

Source: vllm-chunked-prefill
"""
from __future__ import annotations

import re
from typing import Any

from llmsize.speedmodel.efficiency import engine_name

Version = tuple[int, int, int]
# ASSUMES: v0.5.4 (2024-08) is the first release with PR 6666 (merged the day v0.5.3 was tagged)
VLLM_LONG_CONTEXT_CHUNKED: tuple[Version, str] = ((0, 5, 4), "2024-08")
VLLM_MULTISTEP_CHUNKED: tuple[Version, str] = ((0, 6, 2), "2024-10")  # PR 8378 (2024-09), in v0.6.2
VLLM_V1: tuple[Version, str] = ((0, 8, 0), "2025-04")  # ASSUMES: a row dated 2025-03 ran a V0 build
LONG_CONTEXT = 32 * 1024  # vLLM's use_long_context: max_model_len > 32K

# a version is read only where it is vLLM's: after "vllm", at the start, or written "v0.6.3"
_VERSIONS = (re.compile(r"vllm[\s:=_/-]*v?(\d+)\.(\d+)(?:\.(\d+))?", re.I),
             re.compile(r"^\s*v?(\d+)\.(\d+)(?:\.(\d+))?"),
             re.compile(r"(?<![\w.])v(\d+)\.(\d+)(?:\.(\d+))?"))
MONTH = re.compile(r"(?<![\d.])(202\d)(?:-(\d\d))?(?![\d.])")  # a year of the 2020s (not a 2048-token length)
_LEN = re.compile(r"--max[-_]model[-_]len[ =](\d+)([kKmM]?)(?![\w.])")
_CHUNK = re.compile(r"--(no-)?enable[-_]chunked[-_]prefill(?:[ =](true|false|1|0))?(?![\w-])", re.I)
_USE_V1 = re.compile(r"VLLM_USE_V1=([01])")
_UNIT = {"": 1, "k": 1000, "K": 1024, "m": 10**6, "M": 2**20}  # vLLM's human-readable lengths


def version_in(text: str | None, patterns: tuple[re.Pattern[str], ...]) -> Version | None:
    """(major, minor, patch) of the first of `patterns` (groups: major, minor, optional patch) found in
    `text`, else None."""
    for pat in patterns:
        m = pat.search(text or "")
        if m:
            return int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)
    return None


def version_of(text: str | None) -> Version | None:
    """The vLLM version a version text names (``vLLM v0.6.0 (...)``, ``0.10.2``), else None."""
    return version_in(text, _VERSIONS)


def build_month(engine_version: str | None, date: str | None) -> str | None:
    """YYYY-MM of the build: a date in the version text, else the source's date; a bare year reads as its
    December (the latest build that year could be, as `builds` reads llama.cpp's)."""
    for text in (engine_version, date):
        m = MONTH.search(str(text or ""))
        if m:
            return f"{m.group(1)}-{m.group(2) or '12'}"
    return None


def built_since(version: Version | None, month: str | None, since: tuple[Version, str]) -> bool:
    """Whether a build (its version, else its month; neither: today's) is `since` or newer."""
    if version is not None:
        return version >= since[0]
    return month >= since[1] if month is not None else True


def vllm_v1(engine_version: str | None = None, date: str | None = None) -> bool:
    """Whether a vLLM run used its V1 engine: VLLM_USE_V1 where the version text sets it, else a build of
    0.8.0 (V1 by default) or later, else today's.

    Source: vllm-chunked-prefill"""
    v1 = _USE_V1.search(engine_version or "")
    if v1:
        return v1.group(1) == "1"
    return built_since(version_of(engine_version), build_month(engine_version, date), VLLM_V1)


def prompt_scheduling(engine: str, spec: Any, engine_version: str | None = None, date: str | None = None, *,
                      chunked_prefill: bool | None = None, max_model_len: int | None = None,
                      scheduler_steps: int = 1) -> tuple[bool, str]:
    """(mixed, why): whether `engine` runs a new prompt inside the running decodes' pass (True) or as a pass
    of its own that stalls them (False), and the rule that decided. `chunked_prefill` is the run's own
    setting where it gave one (also read from `--[no-]enable-chunked-prefill` in the version text);
    `max_model_len` its context limit (also `--max-model-len N`; else the model's), which decides vLLM V0's
    default; `scheduler_steps` vLLM's `--num-scheduler-steps`. An engine llmsize has no scheduling facts
    for is timed as mixed.

    Source: vllm-chunked-prefill"""
    e = engine_name(engine)
    text = engine_version or ""
    if e == "sglang":
        return False, "SGLang runs new prompts as batches of their own (enable_mixed_chunk off by default)"
    if e != "vllm":
        return True, f"{e} puts new prompts in the running decodes' pass"
    if chunked_prefill is None and (m := _CHUNK.search(text)):
        chunked_prefill = not m.group(1) and (m.group(2) or "true").lower() in ("true", "1")
    version, month = version_of(text), build_month(engine_version, date)
    if vllm_v1(engine_version, date):
        return True, "vLLM's V1 engine always chunks prompts into the decode pass"
    if chunked_prefill is not None:
        return chunked_prefill, f"vLLM V0 with chunked prefill {'on' if chunked_prefill else 'off'} as the run set it"
    if scheduler_steps > 1 and not built_since(version, month, VLLM_MULTISTEP_CHUNKED):
        return False, "vLLM V0 before 0.6.2 does not chunk prompts under multi-step scheduling"
    if max_model_len is None and (m := _LEN.search(text)):
        max_model_len = int(m.group(1)) * _UNIT[m.group(2)]
    context = max_model_len or spec.max_position_embeddings
    if context <= LONG_CONTEXT or spec.sliding_window:
        return False, f"vLLM V0 chunks prompts by default only past a 32K context without a sliding window " \
                      f"(here {context:,})"
    if not built_since(version, month, VLLM_LONG_CONTEXT_CHUNKED):
        return False, "vLLM V0 before 0.5.4 chunks prompts only when asked"
    return True, f"vLLM V0 chunks prompts by default for a {context:,}-token context"


def static_batch(engine: str) -> bool:
    """Whether `engine` serves a fixed batch (transformers' generate(): every prompt of the batch in one pass,
    then its decode steps, no request joining until all end) rather than batching continuously.

    Source: hf-generate"""
    return engine_name(engine) == "transformers"


def mixed_prefill(engine: str, spec: Any, engine_version: str | None = None, date: str | None = None, *,
                  chunked_prefill: bool | None = None, max_model_len: int | None = None,
                  scheduler_steps: int = 1) -> bool:
    """`prompt_scheduling`'s answer alone."""
    return prompt_scheduling(engine, spec, engine_version, date, chunked_prefill=chunked_prefill,
                             max_model_len=max_model_len, scheduler_steps=scheduler_steps)[0]
