"""llama.cpp partial offload: how many layers fit on one GPU (-ngl), the GPU and host bytes split as
llama.cpp splits them, and decode / prefill speed with the CPU part timed from host memory bandwidth.

llama.cpp puts the last `ngl` repeating layers (weights and their KV) on the GPU, the output layer too
when ngl > n_layer, and keeps the token embedding on the host; with mmap the host weights stay mapped.
Decode reads every weight once per token: GPU layers at GPU bandwidth, host layers at host bandwidth,
one after the other. Prefill batches of >= 32 tokens run host-layer matmuls on the GPU too (ggml's
op_offload), streaming those weights over PCIe once per ubatch."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from llmsize.engines.hosts import Host
from llmsize.engines.llamacpp import LlamaParams, WeightTensor, contexts, gpu_layers, kv_bytes, model_buffers
from llmsize.engines.llamacpp_compute import compute_buffer
from llmsize.errors import LlmsizeError
from llmsize.spec import ModelSpec

FIT_MARGIN = 1 << 30  # llama.cpp --fit's default target margin per device (common.h fit_params_target: 1024 MiB)
CUDA_CONTEXT = 300 * (1 << 20)  # ASSUMES: CUDA context + cuBLAS outside llama.cpp's buffers (cuda-context source)
OP_OFFLOAD_MIN_BATCH = 32  # ggml-cuda offload_op: GGML_OP_OFFLOAD_MIN_BATCH default


@dataclass(frozen=True, slots=True, kw_only=True)
class Split:
    """One -ngl: bytes on the GPU and on the host, by llama.cpp buffer, and the speed it gives."""

    ngl: int
    n_layer: int
    gpu_model: int
    gpu_kv: int
    gpu_compute: int
    host_model: int
    host_kv: int
    host_compute: int
    output_buffer: int
    gpu_total: int
    host_total: int
    gpu_budget: int
    fits_gpu: bool
    decode_tokens_per_s: float
    prefill_tokens_per_s: float
    decode_gpu_s: float
    decode_host_s: float

    def row(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def _read_bytes(weights: Sequence[WeightTensor], on_gpu: range, out_gpu: bool) -> tuple[int, int]:
    """Weight bytes one decoded token reads on the GPU and on the host (the token embedding: one row)."""
    g = h = 0
    for t in weights:
        if t.name.startswith(("token_embd", "position_embd")):
            continue
        where_gpu = (t.layer is not None and t.layer in on_gpu) or (t.layer is None and out_gpu)
        if where_gpu:
            g += t.nbytes
        else:
            h += t.nbytes
    return g, h


@dataclass(frozen=True, slots=True, kw_only=True)
class Buffers:
    """llama.cpp's buffers for one -ngl, split as it splits them: on the GPU (CUDA0 model, KV of the GPU
    layers, compute buffer, CUDA context) and on the host (mapped/CPU model, KV of the host layers, host
    compute buffer, logits output buffer)."""

    gpu_model: int
    gpu_kv: int
    gpu_compute: int
    cuda_context: int
    host_model: int
    host_kv: int
    host_compute: int
    output_buffer: int

    @property
    def gpu_total(self) -> int:
        return self.gpu_model + self.gpu_kv + self.gpu_compute + self.cuda_context

    @property
    def host_total(self) -> int:
        return self.host_model + self.host_kv + self.host_compute + self.output_buffer


def buffers_at(spec: ModelSpec, weights: Sequence[WeightTensor], p: LlamaParams, ngl: int) -> Buffers:
    """The bytes of every llama.cpp buffer with -ngl `ngl` (the one model `fit --find ngl`, `export llamacpp`
    and the `infer --runtime llamacpp` device view use).

    GPU = CUDA0 model + KV(GPU layers) + compute buffer + CUDA context;  host = mapped weights + KV(host
    layers) + host compute + output buffer (n_vocab · n_seq_max · 4).

    Source: llamacpp-offload"""
    n = spec.num_layers
    if not 0 <= ngl <= n + 1:
        raise LlmsizeError(f"-ngl must be between 0 and {n + 1} (all {n} layers + output), got {ngl}")
    q = replace(p, n_gpu_layers=ngl)
    on_gpu, _ = gpu_layers(n, ngl)
    mb = model_buffers(weights, n, q, gpu=True)
    host_layers = [i for i in range(n) if i not in on_gpu]
    comp = compute_buffer(spec, q)
    # ASSUMES: the host compute buffer (CUDA_Host) holds the graph inputs and the host splits' activations,
    # at most the CPU-only compute buffer; the full buffer when nothing is offloaded.
    return Buffers(gpu_model=mb.gpu, gpu_kv=kv_bytes(spec, q, list(on_gpu)), gpu_compute=comp.total if ngl else 0,
                   cuda_context=CUDA_CONTEXT if ngl else 0, host_model=mb.host, host_kv=kv_bytes(spec, q, host_layers),
                   host_compute=comp.total if ngl == 0 else comp.inputs,
                   output_buffer=spec.vocab_size * q.n_seq_max * 4)


def split_at(spec: ModelSpec, weights: Sequence[WeightTensor], p: LlamaParams, gpu: Any, host: Host, ngl: int, *,
             prompt: int = 512, context: int | None = None) -> Split:
    """GPU and host bytes and speed for one -ngl.

    GPU = CUDA0 model + KV(GPU layers) + compute buffer + CUDA context;  host = mapped weights + KV(host
    layers) + host compute + output buffer.
    decode s/token = W_gpu/(bw_gpu·MBU) + W_host/(bw_host·eff) (+ each side's KV at the mean context);
    prefill s/ubatch = max(C_fwd(ub)/(X·MFU), W_host_matmul/PCIe one-way)

    Source: llamacpp-offload"""
    from llmsize.perf import DEFAULT_MBU, DEFAULT_PREFILL_MFU, forward_flops

    b = buffers_at(spec, weights, p, ngl)
    q = replace(p, n_gpu_layers=ngl)
    on_gpu, out_gpu = gpu_layers(spec.num_layers, ngl)
    kv_g, kv_h, gpu_total = b.gpu_kv, b.host_kv, b.gpu_total
    budget = gpu.usable - FIT_MARGIN
    c = contexts(spec, q)
    ctx = min(context or c.n_ctx_seq, c.n_ctx_seq)
    w_g, w_h = _read_bytes(weights, on_gpu, out_gpu)
    kv_tok_g, kv_tok_h = kv_g / max(c.kv_size * c.n_stream, 1), kv_h / max(c.kv_size * c.n_stream, 1)
    t_g = (w_g + kv_tok_g * ctx / 2) / (gpu.bandwidth * DEFAULT_MBU) if ngl > 0 else 0.0
    t_h = (w_h + kv_tok_h * ctx / 2) / host.effective_bandwidth
    ub = c.n_ubatch
    flops = forward_flops(spec, ub, ub // 2)
    # llama.cpp's CUDA matmuls of quantized weights run in fp16 (cuBLAS / MMQ int8): the fp16 rate, else bf16
    peak = next((gpu.flops[k] for k in ("fp16", "bf16", "fp32") if gpu.flops.get(k)), 0.0)
    pcie = (gpu.pcie_bw or 32e9) / 2
    t_compute = flops / (peak * DEFAULT_PREFILL_MFU) if peak else 0.0
    t_stream = w_h / pcie if ub >= OP_OFFLOAD_MIN_BATCH else t_h * ub
    t_ub = max(t_compute, t_stream)
    return Split(ngl=ngl, n_layer=spec.num_layers, gpu_model=b.gpu_model, gpu_kv=kv_g, gpu_compute=b.gpu_compute,
                 host_model=b.host_model, host_kv=kv_h, host_compute=b.host_compute, output_buffer=b.output_buffer,
                 gpu_total=gpu_total, host_total=b.host_total, gpu_budget=budget, fits_gpu=gpu_total <= budget,
                 decode_tokens_per_s=1.0 / (t_g + t_h), prefill_tokens_per_s=ub / t_ub if t_ub else 0.0,
                 decode_gpu_s=t_g, decode_host_s=t_h)


def find_ngl(spec: ModelSpec, weights: Sequence[WeightTensor], p: LlamaParams, gpu: Any, host: Host,
             **kw: Any) -> tuple[Split, Split]:
    """The largest -ngl whose GPU bytes fit the GPU (usable memory less llama.cpp's 1 GiB --fit margin), and
    the all-on-GPU split for comparison. GPU bytes grow with ngl, so a binary search finds it.

    Source: llamacpp-offload"""
    n = spec.num_layers
    lo, hi = 0, n + 1
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if split_at(spec, weights, p, gpu, host, mid, **kw).fits_gpu:
            lo = mid
        else:
            hi = mid - 1
    return split_at(spec, weights, p, gpu, host, lo, **kw), split_at(spec, weights, p, gpu, host, n + 1, **kw)


_FTYPE_OF = {"bf16": "BF16", "fp16": "F16", "f16": "F16", "fp32": "F32", "f32": "F32"}


def gguf_weights(spec: ModelSpec, gguf_path: str | None, weights: str) -> tuple[tuple[WeightTensor, ...], str]:
    """The GGUF tensors llama.cpp loads: the file's own when there is one, else the preset quantized with
    `weights` (a llama.cpp preset; bf16 / fp16 / fp32 name BF16 / F16 / F32), and what they are."""
    from llmsize.engines.llamacpp import weights_from_file, weights_from_preset
    from llmsize.quant.gguf_presets import preset

    if gguf_path is not None:
        return weights_from_file(gguf_path), "GGUF file"
    fmt = preset(_FTYPE_OF.get(weights.lower(), weights))
    return weights_from_preset(spec, fmt), fmt


def serve_params(context: int, slots: int, kv_type: str, *, n_ubatch: int = 512, flash_attn: bool = True,
                 cpu_isa: str = "avx2") -> LlamaParams:
    """llama-server as `export llamacpp` writes it: -c = slots x context (context per slot), -np slots, -fa on,
    -ctk/-ctv kv_type, -ub n_ubatch, -b max(2048, ub)."""
    return LlamaParams(n_ctx=context * slots, n_batch=max(2048, n_ubatch), n_ubatch=n_ubatch, n_seq_max=slots,
                       flash_attn=flash_attn, type_k=kv_type, type_v=kv_type,
                       cpu_isa="avx512" if cpu_isa == "avx512" else "avx2")


def ngl_report(spec: ModelSpec, *, gguf_path: str | None, weights: str, gpu_name: str, host_name: str,
               context: int, slots: int = 1, kv_type: str = "f16", n_ubatch: int = 512,
               flash_attn: bool = True) -> dict[str, Any]:
    """`llmsize fit MODEL --gpu GPU --find ngl`: the largest -ngl that fits, its GPU/host split by buffer,
    its speed, and what all layers on the GPU would need. Weights come from the GGUF file when MODEL is
    one, else from the preset quantized with `weights` (a llama.cpp preset: Q4_K_M, Q8_0, F16, ...).

    Source: llamacpp-offload"""
    from llmsize.catalog.hardware import get_gpu
    from llmsize.engines.hosts import get_host
    gpu, host = get_gpu(gpu_name), get_host(host_name)
    ws, fmt = gguf_weights(spec, gguf_path, weights)
    p = serve_params(context, slots, kv_type, n_ubatch=n_ubatch, flash_attn=flash_attn, cpu_isa=host.isa)
    if host.unified:
        raise LlmsizeError(f"{host.name} has unified memory: there is no GPU/host split, every layer runs from the "
                           "same memory; use a discrete-GPU host (e.g. ddr5) for --find ngl")
    best, full = find_ngl(spec, ws, p, gpu, host, context=context)
    n = spec.num_layers
    kind = "all on the GPU" if best.ngl == n + 1 else "nothing fits the GPU" if best.ngl == 0 and not best.fits_gpu \
        else "partial offload"
    return {"model": spec.name, "weights": fmt, "gpu": gpu.name, "host": host.name, "ngl": best.ngl,
            "layers": n + 1, "verdict": kind, "context_per_slot": context, "slots": slots, "kv_type": kv_type,
            "split": best.row(), "all_on_gpu": full.row(), "host_bandwidth_bytes_per_s": host.bandwidth,
            "host_source": host.source, "fit_margin_bytes": FIT_MARGIN}
