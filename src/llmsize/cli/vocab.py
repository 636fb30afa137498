"""One vocabulary: the flag name, choices and default each idea has in every command (docs/vocabulary.md).

An idea's old spellings stay accepted as hidden aliases: `Opt` parses them but leaves them out of
--help; `AliasChoice` accepts old values (torch, llamacpp, bfloat16) without listing them.
tests/test_vocabulary.py walks every command's options and the API schema against `IDEAS`.
"""
from __future__ import annotations

import re
from typing import Any

import click

from llmsize.errors import LlmsizeError

# idea -> (canonical flag, JSON field, hidden CLI spellings, accepted JSON aliases)
IDEAS: dict[str, tuple[str, str, tuple[str, ...], tuple[str, ...]]] = {
    "tokens per sequence (the prompt when serving, the sequence when training)":
        ("--seq-len", "seq_len", ("--context", "--seq", "--prompt"), ("context", "seq", "prompt")),
    "tokens generated per sequence": ("--new-tokens", "new_tokens", ("--output",), ("output",)),
    "sequences per step (training micro-batch per GPU, requests served at once)":
        ("--batch", "batch", ("--micro-batch", "--concurrency"), ("micro_batch", "concurrency")),
    "KV-cache dtype": ("--kv-cache-dtype", "kv_cache_dtype", ("--kv-dtype", "--kv-cache"), ("kv_dtype", "kv_cache")),
    "weight format for inference and serving": ("--weights", "weights", ("--dtype",), ("dtype",)),
    "training precision": ("--precision", "precision", ("--dtype", "--amp"), ("dtype", "amp")),
    "activation (gradient) checkpointing":
        ("--grad-checkpointing", "grad_checkpointing", ("--recompute",), ("recompute",)),
    "inference engine": ("--engine", "engine", ("--runtime",), ("runtime",)),
    "LoRA rank": ("--lora-r", "lora_r", ("--rank",), ("rank",)),
    "GPU types to consider": ("--gpu", "gpu", (), ("gpus",)),
    "size past the trained context": ("--allow-long-context", "allow_long_context", (), ()),
}

PRECISIONS = ["bf16-mixed", "fp16-mixed", "bf16", "fp16", "fp32"]
PRECISION_HELP = ("Training precision: bf16-mixed = bf16 compute under torch.autocast with fp32 master weights "
                  "and fp32 optimizer states (what pre-training and full fine-tuning run: Megatron-LM, DeepSpeed, "
                  "FSDP2 MixedPrecisionPolicy, Lightning 'bf16-mixed'; pure bf16 weights lose small updates); "
                  "bf16/fp16/fp32 = every tensor in that dtype. LoRA keeps the frozen base in bf16 and its "
                  "adapters in fp32.")
KV_HELP = ("KV-cache dtype: auto (the compute dtype), bf16, fp16, fp32, fp8 (fp8_e4m3, fp8_e5m2), and for "
           "llama.cpp q8_0, q5_1, q5_0, q4_1, q4_0, iq4_nl (vLLM's --kv-cache-dtype, llama.cpp's -ctk/-ctv).")


class Opt(click.Option):
    """A click option with old spellings (`aliases`, e.g. '--seq' or '--recompute/--no-recompute') that
    parse like the canonical one but do not show in --help."""

    def __init__(self, param_decls: Any = None, aliases: tuple[str, ...] = (), **kw: Any) -> None:
        super().__init__(list(param_decls or ()) + list(aliases), **kw)
        self.aliases = tuple(a for d in aliases for a in d.split("/"))

    def get_help_record(self, ctx: click.Context) -> tuple[str, str] | None:
        keep = self.opts, self.secondary_opts
        self.opts = [o for o in self.opts if o not in self.aliases]
        self.secondary_opts = [o for o in self.secondary_opts if o not in self.aliases]
        try:
            return super().get_help_record(ctx)
        finally:
            self.opts, self.secondary_opts = keep

    @property
    def visible_opts(self) -> list[str]:
        return [o for o in self.opts + self.secondary_opts if o not in self.aliases]


def visible_opts(p: click.Parameter) -> list[str]:
    """The spellings --help shows for `p` (an Opt hides its aliases)."""
    return p.visible_opts if isinstance(p, Opt) else list(p.opts) + list(p.secondary_opts)


class AliasChoice(click.Choice):
    """click.Choice listing `choices` only; `hidden` maps old values to them (case-insensitive) and
    `internal` maps a choice to the value the command receives (llama.cpp -> llamacpp)."""

    def __init__(self, choices: list[str], hidden: dict[str, str] | None = None,
                 internal: dict[str, str] | None = None) -> None:
        super().__init__(choices, case_sensitive=False)
        self.hidden = {k.lower(): v for k, v in (hidden or {}).items()}
        self.internal = internal or {}

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str):
            value = self.hidden.get(value.lower(), value)
        v = super().convert(value, param, ctx)
        return self.internal.get(v, v)


class BatchOrMax(click.ParamType):
    """A batch of 1 or more sequences, or "max" (serving: every request queued at once)."""

    name = "N|max"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        from llmsize.bounds import MAX_BATCH

        text = str(value).strip()
        if text.lower() == "max":
            return "max"
        # ASCII digits only (str.isdigit also takes '²' and other scripts' digits), and no more of them than
        # the bound has, before any conversion
        if re.fullmatch(r"[0-9]{1,%d}" % len(str(MAX_BATCH)), text) and 1 <= int(text) <= MAX_BATCH:
            return int(text)
        self.fail(f"{text[:40]!r} is not a whole number from 1 to {MAX_BATCH:,}, or max (serving: every request "
                  "queued at once)", param, ctx)


def option(*decls: str, aliases: tuple[str, ...] = (), **kw: Any) -> Any:
    """click.option with hidden old spellings."""
    return click.option(*decls, cls=Opt, aliases=aliases, **kw)


DTYPE_ALIASES = {"bfloat16": "bf16", "float16": "fp16", "half": "fp16", "float32": "fp32", "float": "fp32"}


def dtype_choice(choices: list[str]) -> AliasChoice:
    """bf16/fp16/fp32 (and what is given), transformers' bfloat16/float16/float32 accepted."""
    return AliasChoice(choices, hidden={k: v for k, v in DTYPE_ALIASES.items() if v in choices})


def precision_options(*, dtypes: tuple[str, ...] = ("bf16", "fp16", "fp32")) -> list[Any]:
    """--precision, with the old --dtype/--amp pair as hidden options (resolve with `precision_dtypes`)."""
    return [
        click.option("--precision", type=click.Choice(PRECISIONS), help=PRECISION_HELP + " [default: bf16-mixed]"),
        click.option("--dtype", "old_dtype", type=dtype_choice(list(dtypes)), hidden=True),
        click.option("--amp", "old_amp", type=click.Choice(["bf16", "fp16"]), hidden=True),
    ]


def with_precision(f: Any) -> Any:
    """Decorate a command with `precision_options()`; it receives precision, old_dtype, old_amp."""
    for o in reversed(precision_options()):
        f = o(f)
    return f


def precision_dtypes(precision: str | None, dtype: str | None, amp: str | None,
                     lora: bool = False) -> tuple[str | None, str | None]:
    """(weights dtype, autocast dtype) of --precision, or of the old --dtype/--amp pair as given.
    bf16-mixed (the default) is fp32 weights under bf16 autocast; with LoRA the frozen base stays bf16
    and only the fp32 adapters train (no master copy), as the planner sizes it."""
    if precision is not None and (dtype is not None or amp is not None):
        raise LlmsizeError("--precision replaces --dtype/--amp: give one of them (bf16-mixed = --dtype fp32 "
                           "--amp bf16)")
    if dtype is not None or amp is not None:
        return dtype, amp
    p = precision or "bf16-mixed"
    if p.endswith("-mixed"):
        half = p.split("-")[0]
        return (half, None) if lora else ("fp32", half)
    return p, None


def precision_of(dtype: str | None, amp: str | None) -> str:
    """The --precision an old --dtype/--amp pair meant (the JSON API's dtype/amp fields)."""
    d = DTYPE_ALIASES.get((dtype or "").lower(), dtype)
    if amp is not None:
        if d not in (None, "fp32"):
            raise LlmsizeError(f"dtype {dtype} with amp {amp}: autocast runs over fp32 master weights; give "
                               f"precision {amp}-mixed")
        return f"{amp}-mixed"
    if d is None:
        return "bf16-mixed"
    if d not in ("bf16", "fp16", "fp32"):
        raise LlmsizeError(f"dtype {dtype}: give precision bf16-mixed, fp16-mixed, bf16, fp16 or fp32")
    return d


def pick(canonical: tuple[str, Any], default: Any, *old: tuple[str, Any]) -> Any:
    """The value of an idea given as (flag, value) under its canonical flag or an old spelling (a hidden
    option of its own); different values under two spellings are refused, not silently dropped."""
    given = [(n, v) for n, v in (canonical, *old) if v is not None]
    if len({v for _, v in given}) > 1:
        raise LlmsizeError(f"{' and '.join(f'{n} {v}' for n, v in given)} set one thing ({canonical[0]}, the others "
                           f"are its old names): give it once")
    return given[0][1] if given else default
