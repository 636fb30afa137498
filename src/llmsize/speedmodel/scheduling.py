"""How a serving engine schedules a new request's prompt beside the requests already decoding.

Mixed: the prompt's tokens ride in the same forward pass as the running sequences' decode tokens
(TensorRT-LLM's in-flight batching, vLLM with chunked prefill, llama.cpp's server, which puts every
slot's tokens in one batch). The first token comes out of that pass; the others' decodes slow only by
the prompt's extra work.

Separate: the prompt runs as a forward pass of its own, and every running sequence waits through it
(SGLang, whose `--enable-mixed-chunk` is off by default in every release; vLLM's V0 engine without
chunked prefill). A new request waits for the decode step in progress, and a request's time per output
token stretches by the share of time the replica spends on the others' prompt passes.

vLLM: the V0 engine chunked prompts only when asked (`--enable-chunked-prefill`), and from PR 6666
(merged 2024-07-23) by default for models whose context exceeds 32K tokens; the V1 engine, the default
from v0.8.0 (2025-03), always chunks.

Source: vllm-chunked-prefill
"""
from __future__ import annotations

import re
from typing import Any

from llmsize.speedmodel.efficiency import engine_name

# ASSUMES: v0.5.4 (2024-08) is the first release with PR 6666 (merged the day v0.5.3 was tagged)
VLLM_LONG_CONTEXT_CHUNKED = ((0, 5, 4), "2024-08")
VLLM_V1 = ((0, 8, 0), "2025-04")  # ASSUMES: a row dated 2025-03 ran a V0 build (v0.8.0 came out on 03-18)
LONG_CONTEXT = 32 * 1024  # vLLM's use_long_context: max_model_len > 32K

_VERSION = re.compile(r"(\d+)\.(\d+)(?:\.(\d+))?")
_MONTH = re.compile(r"^(\d{4})(?:-(\d{2}))?")


def _at_least(engine_version: str | None, date: str | None, since: tuple[tuple[int, int, int], str]) -> bool:
    """Whether a build (its version, else its month; neither: today's) is `since` or newer."""
    m = _VERSION.search(engine_version or "")
    if m:
        return (int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)) >= since[0]
    d = _MONTH.match(str(date or "").strip())
    if d:
        return f"{d.group(1)}-{d.group(2) or '12'}" >= since[1]
    return True


_FLAG_LEN = re.compile(r"--max[-_]model[-_]len[ =](\d+)")
_FLAG_CHUNK = re.compile(r"--enable[-_]chunked[-_]prefill(?:[ =](\w+))?", re.I)


def mixed_prefill(engine: str, spec: Any, engine_version: str | None = None, date: str | None = None, *,
                  chunked_prefill: bool | None = None, max_model_len: int | None = None) -> bool:
    """Whether `engine` runs a new prompt inside the decode pass of the running requests (True) or as a
    pass of its own that stalls them (False). `chunked_prefill` is the run's own setting where it gave one
    (also read from `--enable-chunked-prefill` in the version text); `max_model_len` its context limit
    (also `--max-model-len N`; else the model's), which decides vLLM V0's default. An engine llmsize has no
    scheduling facts for is timed as mixed.

    Source: vllm-chunked-prefill"""
    e = engine_name(engine)
    text = engine_version or ""
    if chunked_prefill is None and (m := _FLAG_CHUNK.search(text)):
        chunked_prefill = (m.group(1) or "true").lower() not in ("false", "0", "no")
    if e == "sglang":
        return False  # its chunked prefill splits long prompts; the chunks still run as passes of their own
    if e == "vllm":
        if _at_least(engine_version, date, VLLM_V1):
            return True
        if chunked_prefill is not None:
            return chunked_prefill
        if max_model_len is None and (m := _FLAG_LEN.search(text)):
            max_model_len = int(m.group(1))
        long = (max_model_len or spec.max_position_embeddings) > LONG_CONTEXT
        return long and _at_least(engine_version, date, VLLM_LONG_CONTEXT_CHUNKED)
    return True
