"""`llmsize fit MODEL --gpu GPU --find ngl`: llama.cpp partial offload, printed."""
from __future__ import annotations

from typing import Any

import click

from llmsize.cli.common import console, emit_json
from llmsize.errors import LlmsizeError
from llmsize.load import Loaded


def fit_ngl(model: Loaded, job: dict[str, Any], layout: Any, gpu_name: str, find: tuple[str, ...], host_name: str,
            as_json: bool) -> None:
    """Answer --find ngl; refuse what it cannot use (other questions, layouts, training or vLLM-only flags)."""
    from llmsize.engines.offload import ngl_report

    if set(find) != {"ngl"}:
        raise LlmsizeError("--find ngl is llama.cpp's question; ask it alone (the others plan vLLM/training)")
    if layout.gpus != 1:
        raise LlmsizeError("--find ngl sizes one GPU plus the host; drop --gpus/--tp/--pp (llama.cpp -ts splits "
                           "over several GPUs)")
    wrong = [k for k in ("mfu", "max_days", "goodput", "host_memory", "nvme", "tokens", "target_tps")
             if job.get(k) is not None]
    if job["mode"] == "train" or wrong:
        names = ", ".join("--" + w.replace("_", "-") for w in wrong) or "--train"
        raise LlmsizeError(f"--find ngl is a serving question; {names} do(es) not apply")
    kv = "f16" if job["kv_dtype"] == "auto" else job["kv_dtype"]
    # a .gguf file, or a Hub GGUF repo's file (its header, read into the local cache)
    gguf = model.checkpoint.path if model.origin == "gguf" and model.checkpoint is not None else None
    rep = ngl_report(model.spec, gguf_path=gguf, weights=job["weights"], gpu_name=gpu_name, host_name=host_name,
                     context=job["prompt"] + job["output"], slots=job["concurrency"], kv_type=kv)
    if as_json:
        emit_json(rep)
        return
    gib = 2**30
    s, f = rep["split"], rep["all_on_gpu"]
    c = console()
    c.print(f"[bold]{rep['model']}[/bold] ({rep['weights']}) on {rep['gpu']} + {rep['host']}: {rep['verdict']}, "
            f"-ngl {rep['ngl']} of {rep['layers']} ({rep['layers'] - 1} layers + output)", highlight=False)
    c.print(f"  GPU:  {s['gpu_total'] / gib:,.2f} GiB of {s['gpu_budget'] / gib:,.2f} GiB (usable less llama.cpp's "
            f"1 GiB --fit margin): model {s['gpu_model'] / gib:,.2f}, KV {s['gpu_kv'] / gib:,.2f}, compute "
            f"{s['gpu_compute'] / gib:,.2f}, CUDA context", markup=False, highlight=False)
    c.print(f"  host: {s['host_total'] / gib:,.2f} GiB: model {s['host_model'] / gib:,.2f} (mmap), KV "
            f"{s['host_kv'] / gib:,.2f}, compute {s['host_compute'] / gib:,.2f}, logits {s['output_buffer'] / gib:,.3f}",
            markup=False, highlight=False)
    c.print(f"  speed: decode {s['decode_tokens_per_s']:,.1f} tokens/s (GPU part {s['decode_gpu_s'] * 1e3:,.1f} ms, "
            f"CPU part {s['decode_host_s'] * 1e3:,.1f} ms per token), prefill {s['prefill_tokens_per_s']:,.0f} "
            f"tokens/s", markup=False, highlight=False)
    c.print(f"  all {rep['layers']} on the GPU would need {f['gpu_total'] / gib:,.2f} GiB "
            f"({f['decode_tokens_per_s']:,.1f} tokens/s)", markup=False, highlight=False)
    click.echo(f"  llama-server -m MODEL.gguf -ngl {rep['ngl']} -c {rep['context_per_slot'] * rep['slots']} "
               f"-np {rep['slots']} -fa on -ctk {rep['kv_type']} -ctv {rep['kv_type']}")
