"""`llmsize quant` (which weight format fits, how fast, at what quality) and `llmsize inspect`
(what a .safetensors / .gguf file really holds, from its headers)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from llmsize.cli.common import (check_context, console, default_context, emit_json, fmt_bytes, json_option, long_context_option,
                                model_header, model_options, table, units_option)
from llmsize.cli.present import fmt_size
from llmsize.cli.vocab import KV_HELP, option
from llmsize.errors import LlmsizeError
from llmsize.load import Loaded


@click.command("quant")
@model_options
@click.option("--gpu", help="GPU name (H100, 'RTX 4090', ...) or memory size (24GiB, 80GB); with --qlora, "
                            "whether the training step fits.")
@option("--seq-len", "context", aliases=("--context",), type=click.IntRange(min=1),
        help="Tokens per sequence (KV cache and activations) [default: 1024, less where the model's context is "
             "shorter].")
@click.option("--batch", type=click.IntRange(min=1), default=1, show_default=True, help="Sequences decoded together.")
@option("--kv-cache-dtype", "kv", aliases=("--kv-cache", "--kv-dtype"), help=KV_HELP + " [default: auto]")
@click.option("--format", "formats", multiple=True,
              help="Only these formats (repeatable): bf16, fp8, fp8-block, int8, nf4, nf4-dq, gptq-int4-g128, "
                   "awq-int4-g128, mxfp4, nvfp4, Q4_K_M, Q8_0, IQ4_XS, ...")
@click.option("--tensors", "show_tensors", is_flag=True, help="With one --format: list every tensor's type and bytes.")
@click.option("--qlora", is_flag=True, help="QLoRA fine-tuning terms (4-bit base, adapters, optimizer) instead.")
@option("--lora-r", "rank", aliases=("--rank",), type=click.IntRange(min=1), help="LoRA rank for --qlora [default: 64].")
@click.option("--adapter-dtype", type=click.Choice(["fp32", "bf16", "fp16"]),
              help="LoRA adapter dtype for --qlora (peft keeps fp32; the QLoRA paper uses bf16) [default: fp32].")
@long_context_option
@json_option
@units_option
def quant_cmd(model: Loaded, gpu: str | None, context: int | None, batch: int, kv: str | None,
              formats: tuple[str, ...], show_tensors: bool, qlora: bool, rank: int | None, adapter_dtype: str | None,
              allow_long: bool, as_json: bool, units: str) -> None:
    """Weight formats for MODEL: exact weight bytes, memory at the context, whether it fits the GPU,
    the largest context that fits, decode speed bound and the published quality cost.

    \b
    Examples:
      llmsize quant Llama-3.1-8B --gpu "RTX 4090" --seq-len 8192
      llmsize quant Mixtral-8x7B-v0.1 --format Q4_0 --tensors
      llmsize quant Llama-2-7b-hf --qlora --lora-r 64 --gpu A10G
    """
    from llmsize.quant.report import check_options, unique_formats

    check_options(qlora=qlora, gpu=gpu, formats=formats, kv=kv, tensors=show_tensors, rank=rank,
                  adapter_dtype=adapter_dtype)
    if context is not None:
        check_context(model, context, allow_long, f"--seq-len {context:,}")
    elif not qlora:
        context = default_context(model, 1024, 0, "--seq-len")
    spec = model.spec
    if qlora:
        from llmsize.quant.report import qlora_report, qlora_result

        rank = 64 if rank is None else rank
        adapter_dtype = "fp32" if adapter_dtype is None else adapter_dtype

        if as_json:
            emit_json(qlora_report(spec, rank=rank, adapter_dtype=adapter_dtype, context=context, batch=batch,
                                   gpu=gpu))
            return
        q, peak, seq = qlora_result(spec, rank=rank, adapter_dtype=adapter_dtype, context=context, batch=batch)
        c = console()
        c.print(f"[bold]{model_header(model)}[/bold] — QLoRA, rank {rank}, LoRA params {q.lora_params:,}")
        c.print(table(None, ["term", ("bytes", "right"), ("", "right"), "formula", "source"],
                      [(t.name, f"{t.value:,}", fmt_bytes(t.value, units), t.formula, t.source) for t in q.terms]))
        c.print(f"Total without activations: [bold]{fmt_bytes(q.total, units)}[/bold]")
        c.print(f"Training peak (llmsize.memory, batch {batch} x {seq:,} tokens, gradient checkpointing, "
                f"paged AdamW, fp32 adapters as peft keeps them): [bold]{fmt_bytes(peak.peak_bytes, units)}"
                f"[/bold] in {peak.peak_phase}")
        c.print(table(None, ["term", ("bytes", "right"), ("", "right")],
                      [(t.name, f"{t.bytes:,}", fmt_bytes(t.bytes, units)) for t in peak.terms]))
        if gpu is not None:
            from llmsize.quant.report import qlora_device

            dev, g = qlora_device(peak, gpu)
            verdict = "[green]fits[/green]" if dev.fits else "[red]does not fit[/red]"
            c.print(f"On {g.name} ({fmt_bytes(g.usable, units)} usable): [bold]{fmt_bytes(dev.total_bytes, units)}"
                    f"[/bold] with CUDA context + allocator")
            c.print(f"{verdict}: headroom {fmt_bytes(dev.headroom_bytes, units)}")
        for n in q.notes[1:]:
            c.print(f"note: {n}")
        return
    kv = "bf16" if kv is None else kv
    formats = tuple(unique_formats(formats) or ())  # Q4_0 and q4_0 are one format
    if show_tensors and len(formats) != 1:
        raise LlmsizeError("--tensors needs exactly one --format")
    if as_json:
        from llmsize.quant.report import quant_report

        emit_json(quant_report(model, gpu=gpu, context=context, kv=kv, formats=formats, batch=batch,
                               tensors=show_tensors))
        return
    from llmsize.quant.planner import plan_quant
    from llmsize.quant.report import file_vs_prediction

    rep = plan_quant(spec, gpu=gpu, context=context, kv=kv, formats=list(formats) or None, batch=batch)
    file_info = file_vs_prediction(model)
    _print_report(model, rep, units, file_info)
    if len(formats) == 1:
        from llmsize.quant.formats import weight_plan

        _print_plan(weight_plan(spec, formats[0]), units, show_tensors)


def _print_report(model: Loaded, rep: Any, units: str, file_info: dict[str, Any] | None) -> None:
    c = console()
    where = f" on {rep.gpu} ({fmt_bytes(rep.gpu_bytes, units)} usable)" if rep.gpu else ""
    c.print(f"[bold]{model_header(model)}[/bold]")
    kvb = rep.rows[0].kv_bytes if rep.rows else 0
    c.print(f"Context {rep.context:,} x batch {rep.batch}{where}; KV cache {rep.kv_dtype}: {fmt_bytes(kvb, units)}")
    cols: list[Any] = ["format", ("weights", "right"), ("bpw", "right"), ("total", "right")]
    if rep.gpu:
        cols += ["fits", ("max ctx", "right"), ("tok/s<=", "right")]
    cols += [("quality", "right")]
    rows = []
    for r in rep.rows:
        row = [r.format + (" !" if r.below_floor else ""), fmt_size(r.weight_bytes, units),
               f"{r.bits_per_weight:.2f}", fmt_size(r.total_bytes, units)]
        if rep.gpu:
            row += ["yes" if r.fits else "no", "-" if r.max_context is None else f"{r.max_context:,}",
                    "-" if r.decode_tokens_per_s is None else f"{r.decode_tokens_per_s:,.0f}"]
        row.append(f"{r.quality.value:+.2g} {r.quality.metric}" if r.quality else "-")
        rows.append(row)
    c.print(table(None, cols, rows))
    refs = sorted({(r.quality.metric, r.quality.reference, r.quality.source) for r in rep.rows if r.quality})
    for metric, ref, src in refs:
        what = "perplexity increase" if metric == "ppl" else "accuracy points lost"
        c.print(f"quality {metric}: {what} against 16-bit @ {ref} (source: {src}); '-' = no published figure cited")
    fl = rep.floor
    if fl is not None and any(r.below_floor for r in rep.rows):
        c.print(f"! below the quality floor for this size ({fl.min_bits_per_weight:g} bits per weight): {fl.reason} "
                f"(source: {fl.source})")
    best, low = rep.best, rep.best_below_floor
    if rep.gpu:
        if best:
            c.print(f"Best that fits: [bold]{best.format}[/bold] ({best.label})")
        elif low:
            c.print(f"[bold]Warning:[/bold] only formats below the quality floor fit; the best is [bold]{low.format}"
                    f"[/bold] ({low.body_bits:.2f} bits per weight in its layers). For {fl.min_bits_per_weight:g}+ bits use "
                    f"a bigger --gpu, more GPUs (llmsize plan) or a shorter --seq-len")
        else:
            c.print("Nothing fits at this context: try a smaller --seq-len, a quantized --kv-cache-dtype or a bigger --gpu")
    for f, why in rep.skipped:
        c.print(f"skipped {f}: {why}")
    for n in rep.notes:
        c.print(f"note: {n}")
    if file_info:
        c.print(f"File: {file_info['bytes']:,} bytes of tensors ({file_info['quantization'] or 'unquantized'})"
                + (f"; predicted for {file_info['predicted_format']}: {file_info['predicted_bytes']:,} "
                   f"({'exact' if file_info['predicted_bytes'] == file_info['bytes'] else 'differs'})"
                   if file_info.get("predicted_bytes") is not None else ""))


def _print_plan(plan: Any, units: str, show_tensors: bool) -> None:
    c = console()
    rows = [(f, f"{d['tensors']:,}", f"{d['params']:,}", f"{d['bytes']:,}", fmt_bytes(d["bytes"], units))
            for f, d in plan.by_format().items()]
    c.print(table(f"{plan.format}: tensors by stored type", ["type", ("tensors", "right"), ("params", "right"),
                                                               ("bytes", "right"), ("", "right")], rows))
    c.print(f"Weights: [bold]{plan.bytes:,} bytes[/bold] ({fmt_bytes(plan.bytes, units)}, "
            f"{float(plan.bits_per_weight):.4f} bits per weight); source: {plan.source}")
    for n in plan.notes:
        c.print(f"note: {n}")
    if show_tensors:
        c.print(table(None, ["tensor", "shape", "type", ("bytes", "right")],
                      [(t.name, "x".join(map(str, t.shape)), t.format, f"{t.bytes:,}") for t in plan.tensors]))


@click.command("inspect")
@click.argument("path")
@click.option("--tensors", "show_tensors", is_flag=True, help="List every tensor.")
@json_option
@units_option
def inspect_cmd(path: str, show_tensors: bool, as_json: bool, units: str) -> None:
    """What a .safetensors file, sharded folder, .gguf file or Hugging Face repo holds, read from its
    headers only: per-tensor dtype or ggml type, exact bytes, unpacked parameter counts, quantization, notes.

    \b
    Examples:
      llmsize inspect ./Qwen3-0.6B/
      llmsize inspect model-Q4_K_M.gguf --tensors
      llmsize inspect Qwen/Qwen3-8B                    # safetensors headers by HTTP range requests
      llmsize inspect unsloth/Qwen3-8B-GGUF:Q4_K_M
    """
    from llmsize.load import checkpoint_of

    ck = checkpoint_of(path)
    if as_json:
        emit_json(ck.as_dict(tensors=show_tensors))
        return
    c = console()
    c.print(f"[bold]{ck.path}[/bold] ({ck.format}{', ' + ck.quantization if ck.quantization else ''})")
    c.print(f"Parameters: [bold]{ck.params:,}[/bold] (stored values {ck.stored_values:,}); tensor data "
            f"{ck.bytes:,} bytes ({fmt_bytes(ck.bytes, units)}, {ck.bits_per_weight:.4f} bits per weight); "
            f"files {fmt_bytes(ck.file_bytes, units)}")
    rows = [(f, f"{ck.params_by_dtype.get(f, 0):,}", f"{b:,}", fmt_bytes(b, units)) for f, b in ck.bytes_by_format.items()]
    c.print(table(None, ["format", ("params", "right"), ("bytes", "right"), ("", "right")], rows))
    if ck.spec is not None:
        c.print(f"Model spec: {ck.spec.name} ({ck.spec.model_type}, {ck.spec.num_layers} layers, d={ck.spec.hidden_size})")
        if ck.format == "gguf" and ck.quantization:
            from llmsize.quant.formats import weight_plan

            try:
                want = weight_plan(ck.spec, ck.quantization).bytes
                verdict = "exact" if want == ck.bytes else f"{ck.bytes - want:+,} bytes"
                c.print(f"Predicted from the spec with llama.cpp's {ck.quantization} rules: {want:,} bytes ({verdict})")
            except LlmsizeError as e:
                c.print(f"No prediction: {e}")
    for n in ck.notes:
        c.print(f"note: {n}")
    if show_tensors:
        c.print(table(None, ["tensor", "dtype", "shape", ("bytes", "right"), ("params", "right"), "format", "part"],
                      [(t.name, t.dtype, "x".join(map(str, t.shape)), f"{t.bytes:,}", f"{t.params:,}", t.format,
                        t.part) for t in ck.tensors]))


COMMANDS = [quant_cmd, inspect_cmd]
