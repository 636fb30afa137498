"""`llmsize trace`: PyTorch's own peak for MODEL and a workload (the optional `trace` extra)."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from llmsize.cli.common import console, emit_json, fmt_bytes, fmt_count, json_option, table, units_option
from llmsize.cli.vocab import option, precision_dtypes, with_precision
from llmsize.errors import LlmsizeError


def raw_config(ref: str) -> tuple[dict[str, Any], Path | None]:
    """MODEL as a config dict, whatever its model_type: a preset, '-' (stdin), a config.json or a folder
    holding one. Returns the folder too (for --trust-remote-code)."""
    from llmsize.adapters.hf_config import parse_config_text
    from llmsize.catalog.presets import find_preset, get_preset, preset_config

    if ref == "-":
        return parse_config_text(sys.stdin.read(), "stdin"), None
    from llmsize.load import existing_path

    path, exists = existing_path(ref)
    if exists and path.is_dir():
        path = path / "config.json"
    if exists and path.is_file():
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise LlmsizeError(f"{path}: cannot read ({e.__class__.__name__})") from None
        return parse_config_text(text, str(path)), path.parent
    p = find_preset(ref)
    if p is None:
        get_preset(ref)  # raises with "did you mean"
    assert p is not None
    return preset_config(p), None


@click.command("trace")
@click.argument("model_ref", metavar="MODEL")
@click.option("--mode", type=click.Choice(["train", "forward", "generate"]), default="train", show_default=True,
              help="What runs: a training step, one forward with full logits, or prefill + decode.")
@click.option("--batch", type=click.IntRange(min=1), default=1, show_default=True, help="Sequences at once.")
@option("--seq-len", "seq_len", aliases=("--context",), type=click.IntRange(min=1, max=1 << 20), default=1024,
        show_default=True, help="Tokens per sequence (the prompt in generate).")
@click.option("--new-tokens", type=click.IntRange(min=0, max=1 << 16), default=0, show_default=True,
              help="generate: tokens generated per sequence.")
@with_precision
@click.option("--optimizer", type=click.Choice(["adamw", "adam", "sgd", "sgd-momentum"]), default="adamw",
              show_default=True, help="train: the torch optimizer.")
@click.option("--grad-checkpointing", is_flag=True, help="train: recompute each decoder layer in backward.")
@click.option("--lora-r", type=click.IntRange(min=1), help="train: peft LoRA adapters of this rank (needs peft).")
@click.option("--lora-targets", help="With --lora-r: comma-separated leaf names or all-linear [default: as train's, "
                                     "the query and value projections or the family's fused one, q_proj,v_proj for a "
                                     "model_type llmsize does not know].")
@click.option("--attn", type=click.Choice(["sdpa", "eager"]), default="sdpa", show_default=True,
              help="Attention implementation.")
@click.option("--trust-remote-code", is_flag=True,
              help="Run the model folder's own modeling code (only for code you trust).")
@json_option
@units_option
def trace_cmd(model_ref: str, mode: str, batch: int, seq_len: int, new_tokens: int, precision: str | None,
              old_dtype: str | None, old_amp: str | None, optimizer: str, grad_checkpointing: bool, lora_r: int | None, lora_targets: str | None,
              attn: str, trust_remote_code: bool, as_json: bool, units: str) -> None:
    """Exact mode: build MODEL from its config with the installed transformers on fake tensors (no weights,
    no GPU), run the workload under PyTorch's memory tracker and report PyTorch's own peak, with the
    tracker's breakdown. Works for any model_type transformers can build, known to llmsize or not.
    Needs: pip install 'llmsize[trace]' (torch + transformers).

    \b
    Examples:
      llmsize trace Llama-3.1-8B --mode train --seq-len 2048 --grad-checkpointing
      llmsize trace ./starcoder2-3b/config.json --mode generate --batch 4 --seq-len 1024 --new-tokens 64
    """
    from llmsize.memory.report import train_workload
    from llmsize.memory.workload import Workload
    from llmsize.trace import trace

    if mode != "train" and (old_amp or grad_checkpointing or lora_r or lora_targets or optimizer != "adamw"
                            or (precision or "").endswith("-mixed")):
        raise LlmsizeError("mixed --precision, --optimizer, --grad-checkpointing and --lora-* apply to --mode train")
    dtype, amp = precision_dtypes(precision, old_dtype, old_amp, lora=lora_r is not None)
    if mode != "generate" and new_tokens:
        raise LlmsizeError("--new-tokens applies to --mode generate")
    cfg, folder = raw_config(model_ref)
    if mode == "train":
        wl = train_workload(batch=batch, seq_len=seq_len, dtype=dtype, amp=amp, optimizer=optimizer,
                            grad_checkpointing=grad_checkpointing, lora_r=lora_r, lora_targets=lora_targets, attn=attn,
                            spec=_spec_or_none(cfg) if lora_r is not None and lora_targets is None else None)
    else:
        wl = Workload(mode=mode, batch=batch, seq_len=seq_len, new_tokens=new_tokens,  # type: ignore[arg-type]
                      weights_dtype=old_dtype or precision or "bf16", attn_impl=attn)
    try:
        r = trace(cfg, wl, folder=folder, trust_remote_code=trust_remote_code)
    except RuntimeError as e:
        if "Expected inputs of BF16" not in str(e):
            raise
        raise LlmsizeError("this model's MoE kernel (torch grouped_mm) runs bf16 only, so fp32 master weights under "
                           "autocast (--precision bf16-mixed, the default) cannot be traced: give --precision bf16 "
                           "(llmsize train sizes bf16-mixed)") from None
    if as_json:
        emit_json({"model": model_ref, "model_type": r.model_type, "mode": mode, "peak_bytes": r.peak_bytes,
                   "breakdown": r.breakdown, "params": r.params, "trainable_params": r.trainable_params,
                   "wall_s": r.wall_s, "method": "torch MemTracker under FakeTensorMode", **r.versions})
        return
    c = console()
    c.print(f"{model_ref} ({r.model_type}) — {mode}, batch {batch}, sequence {seq_len}"
            + (f" + {new_tokens} new" if new_tokens else "") + f", {wl.weights_dtype}, attention {attn}")
    c.print(f"PyTorch peak: [bold]{fmt_bytes(r.peak_bytes, units)}[/bold] ({r.peak_bytes:,} B); "
            f"parameters {fmt_count(r.params)}")
    rows = [(k, fmt_bytes(v, units), f"{100 * v / r.peak_bytes:.1f}%" if r.peak_bytes else "-")
            for k, v in r.breakdown.items() if v]
    c.print(table("Live at the peak (MemTracker's labels)", ["category", ("bytes", "right"), ("share", "right")],
                  rows))
    c.print(f"Measured by torch {r.versions['torch']} MemTracker on fake tensors, transformers "
            f"{r.versions['transformers']}, in {r.wall_s:.1f} s. Excludes CUDA context and allocator reserve.")


COMMANDS = [trace_cmd]


def _spec_or_none(cfg: Any) -> Any:
    """llmsize's own reading of the config, for the family's default LoRA targets (GPT-2's c_attn, T5's q,v),
    as `train` takes them; None for a model_type llmsize does not know (trace builds those all the same)."""
    from llmsize.adapters.hf_config import spec_from_config

    try:
        return spec_from_config(cfg, warn=lambda m: None)
    except LlmsizeError:
        return None
