"""The reports of `llmsize quant`: the dict it prints with `--json` (the web API returns the same dict),
for the format table (with `--tensors`, one format's tensors) and for `--qlora`."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from llmsize.bounds import check_all
from llmsize.errors import LlmsizeError
from llmsize.load import Loaded
from llmsize.spec import ModelSpec


def qlora_result(spec: ModelSpec, *, rank: int = 64, adapter_dtype: str = "fp32", context: int | None = None,
                 batch: int = 1) -> tuple[Any, Any, int]:
    """QLoRA terms, the training peak and its sequence length (context, else 1024)."""
    from llmsize.quant.qlora import qlora_memory, qlora_peak

    seq = context or 1024
    return (qlora_memory(spec, rank=rank, adapter_dtype=adapter_dtype),
            qlora_peak(spec, rank=rank, seq_len=seq, batch=batch), seq)


def qlora_device(peak: Any, gpu: str) -> tuple[Any, Any]:
    """(device estimate, GPU) of a QLoRA step on `gpu`: the peak plus CUDA context and the caching
    allocator's reserve against the GPU's usable memory, as `llmsize train --gpu` counts them."""
    from llmsize.catalog.hardware import parse_gpu
    from llmsize.memory.device import device_estimate

    g = parse_gpu(gpu)
    return device_estimate(peak, "torch", g.usable), g


def qlora_report(spec: ModelSpec, *, rank: int = 64, adapter_dtype: str = "fp32", context: int | None = None,
                 batch: int = 1, gpu: str | None = None) -> dict[str, Any]:
    """`llmsize quant --qlora --json`; with `gpu`, the device view and fit verdict (`device`), the same
    shape as `llmsize train --gpu --json`'s."""
    check_all("", {"--seq-len": (context, "context"), "--batch": (batch, "batch"), "--lora-r": (rank, "width")})
    q, peak, seq = qlora_result(spec, rank=rank, adapter_dtype=adapter_dtype, context=context, batch=batch)
    d = q.as_dict()
    d["peak"] = dict(seq_len=seq, batch=batch, peak_bytes=peak.peak_bytes, phase=peak.peak_phase,
                     terms=[dict(name=t.name, bytes=t.bytes, category=t.category) for t in peak.terms])
    d["device"] = None
    if gpu is not None:
        from llmsize.memory.report import _dev_dict

        d["device"] = _dev_dict(*qlora_device(peak, gpu))
    return d


def file_vs_prediction(model: Loaded) -> dict[str, Any] | None:
    """The checkpoint file's tensor bytes beside the bytes predicted for its GGUF type (None without a file)."""
    ck = model.checkpoint
    if ck is None:
        return None
    info: dict[str, Any] = dict(path=ck.path, format=ck.format, quantization=ck.quantization, bytes=ck.bytes,
                                params=ck.params, predicted_format=None, predicted_bytes=None)
    if ck.format == "gguf" and ck.quantization:
        from llmsize.quant.formats import weight_plan

        try:
            info["predicted_format"] = ck.quantization
            info["predicted_bytes"] = weight_plan(model.spec, ck.quantization).bytes
        except LlmsizeError:
            pass
    return info


def check_options(*, qlora: bool, gpu: str | None = None, formats: Sequence[str] | None = None,
                  kv: str | None = None, tensors: bool = False, rank: int | None = None,
                  adapter_dtype: str | None = None) -> None:
    """Refuse options that the chosen mode would ignore: the format table's with `qlora`, the QLoRA
    ones without it (None / empty / False = not given)."""
    if qlora:
        given = [n for n, v in (("--format", bool(formats)), ("--kv-cache-dtype", kv is not None),
                                ("--tensors", tensors)) if v]
        if given:
            raise LlmsizeError(f"{', '.join(given)} {'does' if len(given) == 1 else 'do'} not apply with --qlora")
    else:
        given = [n for n, v in (("--lora-r", rank is not None), ("--adapter-dtype", adapter_dtype is not None)) if v]
        if given:
            raise LlmsizeError(f"{' and '.join(given)} {'needs' if len(given) == 1 else 'need'} --qlora")


def unique_formats(formats: Sequence[str] | None) -> list[str] | None:
    """The formats given, each format once (Q4_0 and q4_0 are one), in the order first given."""
    if not formats:
        return None
    from llmsize.quant.formats import get_format

    seen: dict[str, str] = {}
    for f in formats:
        seen.setdefault(get_format(f).key, f)
    return list(seen.values())


def quant_report(model: Loaded, *, gpu: str | None = None, context: int | None = None, kv: str = "bf16",
                 formats: Sequence[str] | None = None, batch: int = 1, tensors: bool = False) -> dict[str, Any]:
    """`llmsize quant --json`: the plan over formats, the checkpoint file beside its prediction when
    there is one, and with `tensors` (exactly one format) every tensor of that format."""
    check_all("", {"--seq-len": (context, "context"), "--batch": (batch, "batch")})
    from llmsize.quant.planner import plan_quant

    formats = unique_formats(formats)
    if tensors and len(formats or ()) != 1:
        raise LlmsizeError("tensors needs exactly one format")
    d = plan_quant(model.spec, gpu=gpu, context=context, kv=kv, formats=formats, batch=batch).as_dict()
    file_info = file_vs_prediction(model)
    if file_info:
        d["file"] = file_info
    if tensors:
        from llmsize.quant.formats import weight_plan

        d["plan"] = weight_plan(model.spec, formats[0]).as_dict(tensors=True)  # type: ignore[index]
    return d


__all__ = ["check_options", "file_vs_prediction", "qlora_device", "qlora_report", "qlora_result", "quant_report", "unique_formats"]
