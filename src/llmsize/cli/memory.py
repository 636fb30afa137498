"""`llmsize infer`, `llmsize train` (peak memory as named terms, the phase of the peak, whether it fits
a GPU, rules of thumb beside it) and `llmsize validate` (predictions against measured cases)."""
from __future__ import annotations

from typing import Any

import click

from llmsize.cli.common import (check_context, console, default_context, emit_json, fmt_bytes, json_option,
                                long_context_option, model_header, model_options, table, units_option)
from llmsize.cli.layout import train_layout_options
from llmsize.cli.present import closed_form_lines
from llmsize.cli.vocab import AliasChoice, option, precision_dtypes, with_precision
from llmsize.errors import LlmsizeError
from llmsize.load import Loaded

ENGINE_CHOICE = AliasChoice(["transformers", "vllm", "llama.cpp"], hidden={"torch": "transformers",
                                                                           "llamacpp": "llama.cpp"},
                            internal={"transformers": "torch", "llama.cpp": "llamacpp"})
_INFER_KV = ("bf16", "fp16", "fp32", "fp8", "int8")
_ATTN = click.Choice(["sdpa", "eager", "flash"])


def _report(model: Loaded, wl: Any, gpu_name: str | None, runtime: str, as_json: bool, units: str,
            weights: Any = None) -> None:
    from llmsize.memory.report import memory_result, result_dict

    spec = model.spec
    gguf = model.checkpoint.path if model.origin == "gguf" and model.checkpoint is not None else None
    r = memory_result(spec, wl, gpu_name, runtime, weights, gguf_path=gguf if runtime == "llamacpp" else None,
                      closed_forms=True)
    if as_json:
        emit_json(result_dict(spec, r))
        return
    est, dev, gpu, rules = r.estimate, r.device, r.gpu, r.rules
    c = console()
    c.print(f"[bold]{model_header(model)}[/bold] — {_wl_line(wl, spec)}")
    if weights is not None:
        c.print(f"Weights: [bold]{weights.key}[/bold] ({weights.origin}), {fmt_bytes(est.weights_bytes, units)}"
                + (f"; {weights.note}" if weights.note else ""))
    c.print(f"Peak: [bold]{fmt_bytes(est.peak_bytes, units)}[/bold] ({est.peak_bytes:,} B) during "
            f"[bold]{est.peak_phase}[/bold]")
    for n in est.notes:
        c.print(f"[dim]{n}[/dim]")
    rows = [(t.name, fmt_bytes(t.bytes, units), f"{100 * t.bytes / est.peak_bytes:.1f}%", t.category, t.formula,
             t.source) for t in est.terms]
    c.print(table("Live at the peak", ["term", ("bytes", "right"), ("share", "right"), "category", "formula",
                                        "source"], rows))
    closed_form_lines(c, est.terms)
    c.print(table("Peak of each phase", ["phase", ("bytes", "right")],
                  [(k + (" ◀ peak" if k == est.peak_phase else ""), fmt_bytes(v, units))
                   for k, v in est.phases.items()]))
    if dev is not None:
        rows = [(t.name, fmt_bytes(t.bytes, units), t.formula, t.source) for t in dev.terms if t.category in
                ("device", "kv_cache") or runtime != "torch"]
        title = f"On the device ({runtime})" + (f", {gpu.name} ({fmt_bytes(gpu.usable, units)} usable)" if gpu else "")
        c.print(table(title, ["term", ("bytes", "right"), "formula", "source"], rows))
        c.print(f"Device total: [bold]{fmt_bytes(dev.total_bytes, units)}[/bold]")
        if dev.kv_cache_tokens is not None:
            c.print(f"KV cache holds {dev.kv_cache_tokens:,} tokens"
                    + (f" = {dev.max_sequences:,} sequences of {wl.seq_len + wl.new_tokens:,}" if dev.max_sequences
                       is not None else ""))
        if dev.fits is not None:
            verdict = "[green]fits[/green]" if dev.fits else "[red]does not fit[/red]"
            c.print(f"{verdict}: headroom {fmt_bytes(dev.headroom_bytes, units)}" if runtime != "vllm" else verdict)
        for n in dev.notes:
            c.print(f"note: {n}")
    c.print(table("Rules of thumb beside this estimate", ["rule", ("bytes", "right"), ("error", "right")],
                  [(x["rule"], fmt_bytes(x["bytes"], units), f"{100 * x['error']:+.1f}%") for x in rules]))


def _wl_line(wl: Any, spec: Any = None) -> str:
    if spec is not None and spec.traits.encoder_decoder:  # T5: the encoder reads the sequence
        s = f"{wl.mode}, batch {wl.batch}, encoder {wl.seq_len:,} tokens" + (
            f", decoder {wl.new_tokens:,} new tokens" if wl.mode == "generate" else f", decoder {wl.seq_len:,} tokens")
    else:
        s = f"{wl.mode}, batch {wl.batch}, {'prompt' if wl.mode == 'generate' else 'sequence'} {wl.seq_len:,}"
    if wl.mode == "generate" and not (spec is not None and spec.traits.encoder_decoder):
        s += f" + {wl.new_tokens:,} new tokens"
    s += f", {wl.weights_dtype}" + (f" + autocast {wl.autocast}" if wl.autocast else "")
    if wl.mode == "train":
        s += f", {wl.opt}" + (", checkpointing" if wl.grad_checkpointing else "")
        if wl.lora:
            s += f", LoRA r={wl.lora.r} on {','.join(wl.lora.target_modules)}"
    return s + f", attention {wl.attn_impl}"


@click.command("infer")
@model_options
@click.option("--batch", type=click.IntRange(min=1), default=1, show_default=True, help="Sequences at once.")
@option("--seq-len", "seq_len", aliases=("--context",), type=click.IntRange(min=1),
        help="Tokens per sequence: the prompt [default: 1024, less where the model's context is shorter].")
@click.option("--new-tokens", type=click.IntRange(min=0),
              help="Tokens generated per sequence (KV cache grows to seq-len + new - 1) [default: 256].")
@click.option("--forward", "plain_forward", is_flag=True,
              help="One forward pass with full logits and no KV cache (scoring), instead of generation.")
@option("--weights", "weights", aliases=("--dtype",),
        help="Weight format: bf16, fp16, fp32 or any format `llmsize quant` knows (fp8, fp8-block, mxfp4, "
             "gptq-int4-g128, awq-int4-g128, nf4, Q4_K_M, ...) [default: the checkpoint's own: its file "
             "headers, its quantization_config, else its dtype].")
@option("--kv-cache-dtype", "kv_dtype", aliases=("--kv-dtype", "--kv-cache"), default="auto", show_default=True,
        help="KV-cache dtype (vLLM's --kv-cache-dtype): auto (the compute dtype), bf16, fp16, fp32, fp8, int8 "
             "(llama.cpp's q8_0, q4_0, ...: llmsize quant).")
@click.option("--attn", type=_ATTN, default="sdpa", show_default=True, help="Attention implementation.")
@option("--engine", "runtime", aliases=("--runtime",), type=ENGINE_CHOICE, default="transformers", show_default=True,
        help="Engine for the device view: transformers (PyTorch), vllm (needs --gpu), llama.cpp.")
@click.option("--gpu", help="GPU name (H100, 'RTX 4090', A100-40GB, ...) or size (24GiB): does it fit?")
@click.option("--tp", type=click.IntRange(min=1), default=1, show_default=True,
              help="Tensor-parallel GPUs: report memory per GPU of the TP × PP replica.")
@click.option("--pp", type=click.IntRange(min=1), default=1, show_default=True, help="Pipeline stages.")
@long_context_option
@json_option
@units_option
def infer_cmd(model: Loaded, batch: int, seq_len: int | None, new_tokens: int | None, plain_forward: bool,
              weights: str | None, kv_dtype: str | None, attn: str, runtime: str, gpu: str | None, tp: int, pp: int,
              allow_long: bool, as_json: bool,
              units: str) -> None:
    """Peak memory of inference with MODEL: weights, KV cache, activations, as terms; the phase of the
    peak (prefill or decode); with --gpu whether it fits.

    \b
    Examples:
      llmsize infer Llama-3.1-8B --batch 8 --seq-len 4096 --new-tokens 512 --gpu H100
      llmsize infer Qwen2.5-7B --engine vllm --gpu H100 --seq-len 8192
      llmsize infer Mistral-7B-v0.1 --forward --batch 4 --seq-len 2048 --json
      llmsize infer Llama-3.1-70B --tp 4 --seq-len 8192 --batch 8
      llmsize infer gpt-oss-120b --gpu H100          # MXFP4 experts, as the checkpoint stores them
    """
    from llmsize.memory.report import infer_workload
    from llmsize.quant.native import choose_weights

    w = choose_weights(model, weights)
    dtype = None if w.quantized else w.key
    kv_dtype = _infer_kv(kv_dtype)
    if seq_len is None:
        new = 0 if plain_forward or model.spec.traits.encoder else 256 if new_tokens is None else new_tokens
        seq_len = default_context(model, 1024, max(new - 1, 0), "--seq-len")
    wl = infer_workload(model.spec, batch=batch, seq_len=seq_len, new_tokens=new_tokens, forward=plain_forward,
                        dtype=dtype, kv_dtype=kv_dtype, attn=attn, runtime=runtime)
    from llmsize.context import positions, positions_what  # the prompt, then each new token but the last
    check_context(model, positions(model.spec, wl.seq_len, wl.new_tokens), allow_long,
                  positions_what(model.spec, "--seq-len", wl.seq_len, wl.new_tokens))
    if tp > 1 or pp > 1:
        from llmsize.cli.layout import report_infer

        if gpu is not None or runtime != "torch":
            raise LlmsizeError("--tp/--pp report the per-GPU torch view; drop --gpu and --engine (plan --serve "
                               "sizes vLLM replicas)")
        if w.quantized:
            raise LlmsizeError(f"--tp/--pp size bf16/fp16/fp32 weights; {w.key} ({w.origin}) is not split per "
                               f"GPU yet: give --weights bf16, or drop --tp/--pp")
        report_infer(model, wl, tp, pp, as_json, units)
        return
    _report(model, wl, gpu, runtime, as_json, units, w)


def _infer_kv(name: str) -> str | None:
    """--kv-cache-dtype for infer: auto (None: the compute dtype) or one it sizes."""
    from llmsize.cli.vocab import DTYPE_ALIASES

    n = name.strip().lower()
    n = DTYPE_ALIASES.get(n, "fp8" if n in ("fp8_e4m3", "fp8_e5m2") else n)
    if n == "auto":
        return None
    if n not in _INFER_KV:
        raise LlmsizeError(f"--kv-cache-dtype {name}: infer sizes auto, {', '.join(_INFER_KV)} (llama.cpp's quantized "
                           f"KV types: llmsize quant --kv-cache-dtype)")
    return n


@click.command("train")
@model_options
@click.option("--batch", type=click.IntRange(min=1), default=1, show_default=True, help="Micro-batch size per GPU.")
@option("--seq-len", "seq_len", aliases=("--context",), type=click.IntRange(min=1),
        help="Tokens per sequence [default: 1024, or the model's context where shorter].")
@with_precision
@click.option("--optimizer", default="adamw", show_default=True,
              help="adamw, adam, sgd, sgd-momentum, adafactor, lion, adamw-8bit, paged-adamw, paged-adamw-8bit.")
@click.option("--grad-checkpointing", is_flag=True, help="Recompute each decoder layer in backward.")
@click.option("--grad-accum", type=click.IntRange(min=1), default=1, show_default=True,
              help="Micro-batches per optimizer step (gradients stay allocated between them).")
@click.option("--lora-r", type=click.IntRange(min=1), help="Train LoRA adapters of this rank (peft, fp32).")
@click.option("--lora-alpha", type=click.IntRange(min=1), help="LoRA alpha [default: 2 r].")
@click.option("--lora-targets",
              help="Comma-separated leaf module names, or all-linear, with --lora-r [default: the query and value "
                   "projections: q_proj,v_proj; T5 q,v; BERT query,value; a fused one where the family has it, "
                   "GPT-2's c_attn, GPT-NeoX's query_key_value, as peft; in_proj for Mamba-2].")
@click.option("--attn", type=_ATTN, default="sdpa", show_default=True, help="Attention implementation.")
@click.option("--gpu", help="GPU name or size: does it fit, with CUDA context and allocator reserve?")
@train_layout_options
@long_context_option
@json_option
@units_option
def train_cmd(model: Loaded, batch: int, seq_len: int | None, precision: str | None, old_dtype: str | None,
              old_amp: str | None, optimizer: str,
              grad_checkpointing: bool, grad_accum: int, lora_r: int | None, lora_alpha: int | None,
              lora_targets: str | None, attn: str, gpu: str | None, layout_kw: dict, allow_long: bool, as_json: bool,
              units: str) -> None:
    """Peak memory of one training step of MODEL: weights, gradients, optimizer states, saved
    activations and working sets, as terms; the phase of the peak; with --gpu whether it fits.

    \b
    Examples:
      llmsize train Llama-3.1-8B --batch 1 --seq-len 2048 --grad-checkpointing --gpu H100
      llmsize train Qwen2.5-7B --lora-r 16 --lora-targets all-linear --batch 4
      llmsize train gpt2 --precision fp32 --optimizer sgd-momentum --json
      llmsize train Llama-3.1-8B --gpus 8 --fsdp full_shard --grad-checkpointing
      llmsize train Llama-3.1-8B --gpus 16 --fsdp hybrid_shard --shard-group 8
      llmsize train Llama-3.1-8B --gpus 8 --zero 3 --offload-optimizer

    With --gpus the report is per GPU (one rank: its shards, FSDP's all-gather and reduce-scatter
    buffers, the phase and rank of the peak); bf16-mixed with --fsdp is FSDP2's MixedPrecisionPolicy
    (fp32 master, bf16 compute, fp32 reduce-scatter).
    """
    from llmsize.cli.layout import report_train, train_layout
    from llmsize.memory.report import train_workload

    if seq_len is None:
        seq_len = default_context(model, 1024, 0, "--seq-len")
    check_context(model, seq_len, allow_long, f"--seq-len {seq_len:,}")
    dtype, amp = precision_dtypes(precision, old_dtype, old_amp, lora=lora_r is not None)
    wl = train_workload(batch=batch, seq_len=seq_len, dtype=dtype, amp=amp, optimizer=optimizer,
                        grad_checkpointing=grad_checkpointing, grad_accum=grad_accum, lora_r=lora_r,
                        lora_alpha=lora_alpha, lora_targets=lora_targets, attn=attn, spec=model.spec)
    layout = train_layout(layout_kw, wl)
    if layout is not None:
        if gpu is not None:
            raise LlmsizeError("--gpu with --gpus: the per-GPU report does not add the device view yet; "
                               "drop --gpu")
        report_train(model, wl, layout, layout_kw["rank"], as_json, units)
        return
    _report(model, wl, gpu, "torch", as_json, units)


@click.command("validate")
@click.argument("cases", type=click.Path(dir_okay=False))
@json_option
def validate_cmd(cases: str, as_json: bool) -> None:
    """Predict every case of a JSON-lines file and compare with its measurement. Memory cases (the truth
    schema): the peak, median/p95/max |error| per mode; a case with a `parallel` object (fsdp2, tp,
    fsdp2+tp) is predicted for its named rank, and for `measured.last_rank` when present. Speed cases
    ("kind": "speed"): exactly the named metric, median/max |error| and the share within ±25% per
    category. A file may mix both.

    \b
    Examples:
      llmsize validate tests/data/calib.jsonl
      llmsize validate tests/data/dist_calib.jsonl
      llmsize validate tests/data/speed_calib.jsonl
    """
    from llmsize.validate import validate
    from llmsize.validate_speed import validate_speed

    results, summ = validate(cases)
    sres, ssum = validate_speed(cases)
    if as_json:
        from llmsize.validate_speed import result_row

        out = {"cases": [{"id": r.case.id, "predicted_peak_bytes": r.predicted_peak,
                          "predicted_params": r.predicted_params, "measured_peak_bytes": r.case.measured_peak,
                          "rel_error": r.rel_error, "error": r.error} for r in results]
               + [result_row(r) for r in sres], "summary": summ}
        if sres:
            out["speed_summary"] = ssum  # by category (the cases' "category" field)
        emit_json(out)
        return
    c = console()
    c.print(f"[bold]{len(results) + len(sres)} cases[/bold] from {cases}")
    if results:
        _memory_tables(c, results, summ)
    if sres:
        from llmsize.cli.speed_tables import speed_validation_tables

        for t in speed_validation_tables(sres, ssum):
            c.print(t)


def _memory_tables(c: Any, results: Any, summ: Any) -> None:
    def pct(x: float | None) -> str:
        return "-" if x is None else f"{100 * x:.3f}%"

    rows = [(k, str(v["n"]), str(v["unpredicted"]), pct(v["median"]), pct(v["p95"]), pct(v["max"]))
            for k, v in summ.items()]
    c.print(table("Absolute relative error of the peak", ["mode", ("n", "right"), ("not predicted", "right"),
                                                           ("median", "right"), ("p95", "right"), ("max", "right")],
                  rows))
    failed = [r for r in results if r.error is not None]
    if failed:
        c.print(table("Cases not predicted", ["case", "error"], [(r.case.id, r.error) for r in failed]))
    worst = sorted((r for r in results if r.rel_error is not None), key=lambda r: -abs(r.rel_error or 0))[:10]
    if worst:
        c.print(table("Largest errors", ["case", ("predicted", "right"), ("measured", "right"), ("error", "right"),
                                         "peak phase"],
                      [(r.case.id, fmt_bytes(r.predicted_peak), fmt_bytes(r.case.measured_peak or 0),
                        f"{100 * (r.rel_error or 0):+.3f}%", r.peak_phase) for r in worst]))


COMMANDS = [infer_cmd, train_cmd, validate_cmd]
