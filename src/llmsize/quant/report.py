"""The reports of `llmsize quant`: the dict it prints with `--json` (the web API returns the same dict),
for the format table (with `--tensors`, one format's tensors) and for `--qlora`."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

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


def qlora_report(spec: ModelSpec, *, rank: int = 64, adapter_dtype: str = "fp32", context: int | None = None,
                 batch: int = 1) -> dict[str, Any]:
    """`llmsize quant --qlora --json`."""
    q, peak, seq = qlora_result(spec, rank=rank, adapter_dtype=adapter_dtype, context=context, batch=batch)
    d = q.as_dict()
    d["peak"] = dict(seq_len=seq, batch=batch, peak_bytes=peak.peak_bytes, phase=peak.peak_phase,
                     terms=[dict(name=t.name, bytes=t.bytes, category=t.category) for t in peak.terms])
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


def quant_report(model: Loaded, *, gpu: str | None = None, context: int | None = None, kv: str = "bf16",
                 formats: Sequence[str] | None = None, batch: int = 1, tensors: bool = False) -> dict[str, Any]:
    """`llmsize quant --json`: the plan over formats, the checkpoint file beside its prediction when
    there is one, and with `tensors` (exactly one format) every tensor of that format."""
    from llmsize.quant.planner import plan_quant

    if tensors and len(formats or ()) != 1:
        raise LlmsizeError("tensors needs exactly one format")
    d = plan_quant(model.spec, gpu=gpu, context=context, kv=kv, formats=list(formats) if formats else None,
                   batch=batch).as_dict()
    file_info = file_vs_prediction(model)
    if file_info:
        d["file"] = file_info
    if tensors:
        from llmsize.quant.formats import weight_plan

        d["plan"] = weight_plan(model.spec, formats[0]).as_dict(tensors=True)  # type: ignore[index]
    return d


__all__ = ["file_vs_prediction", "qlora_report", "qlora_result", "quant_report"]
