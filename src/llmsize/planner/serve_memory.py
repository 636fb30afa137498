"""Per-GPU memory of one serving replica as its engine allocates it, and the budget it is held to.

vLLM (and SGLang and TensorRT-LLM, which llmsize sizes as vLLM) take the whole-model breakdown of
`jobs.serve_breakdown` split by the layout (`parallel.per_gpu`), held to gpu_memory_utilization of each
GPU less vLLM's non-torch memory and CUDA graphs. transformers' generate() takes what PyTorch allocates
for it (the memory model's generate peak, `infer --runtime torch`: CUDA context and allocator reserve
included), split the same way, held to the whole GPU. llama.cpp allocates only its own buffers: the
model, KV and compute buffers of its layer split (`engines.llamacpp_split`) and the CUDA context, held
to the GPU less the 1 GiB margin of llama.cpp's own --fit."""
from __future__ import annotations

from functools import lru_cache
from typing import Any

from llmsize.errors import LlmsizeError
from llmsize.params import Term
from llmsize.parallel import Breakdown, GpuMemory, Layout, per_gpu
from llmsize.planner.jobs import ServeJob, serve_breakdown
from llmsize.spec import ModelSpec

LLAMACPP = "llama.cpp"
TRANSFORMERS = "transformers"


def share(job: ServeJob, gpu: Any, layout: Layout | None = None) -> tuple[float, str]:
    """(u, whose): the share of each GPU a paged-KV engine takes. The one given (--gpu-memory-utilization);
    else SGLang's own --mem-fraction-static default for this GPU and layout (`engines.sglang`: it grows with
    the GPU's memory, 0.83 on an H100 at TP 1, 0.86 on a B200); else vLLM's and TensorRT-LLM's 0.9.

    Source: sglang-mem-fraction"""
    if job.gpu_memory_utilization is not None or job.engine != "sglang":
        return job.utilization, "given" if job.gpu_memory_utilization is not None else "default"
    from llmsize.engines.sglang import default_mem_fraction

    lay = layout or Layout()
    # SGLang's DEP: --tp N --dp N --enable-dp-attention over the N ranks the experts are split over
    s = default_mem_fraction(gpu.usable, lay.tp * lay.ep, lay.pp, dp_attention=lay.ep > 1, dp=lay.ep)
    return s.fraction, "SGLang's default"


def _budget(job: ServeJob, gpu: Any, layout: Layout | None = None) -> tuple[int, str]:
    """(bytes one GPU of the replica may hold, how they were reached): usable · u (`share`: the one given,
    SGLang's own default, else vLLM's 0.9); with no share given, llama.cpp usable − 1 GiB (llama.cpp --fit's
    default margin per device) and transformers all of it (PyTorch reserves nothing ahead).

    Source: llamacpp-offload"""
    usable = f"{gpu.name} {gpu.usable / 2**30:.1f} GiB"
    if job.gpu_memory_utilization is None and job.engine == LLAMACPP:
        from llmsize.engines.offload import FIT_MARGIN

        return gpu.usable - FIT_MARGIN, f"{usable} less llama.cpp's 1 GiB --fit margin"
    if job.gpu_memory_utilization is None and job.engine == TRANSFORMERS:
        return gpu.usable, f"{usable} usable"
    u, whose = share(job, gpu, layout)
    text = f"{u:g} × {gpu.name} = {gpu.usable * u / 2**30:.1f} GiB"
    if job.engine == "sglang":  # its static share: weights and KV, the rest of the GPU for activations and runtime
        mine = "SGLang's default " if whose == "SGLang's default" else ""
        text += f" for weights and KV ({mine}--mem-fraction-static), activations and runtime in the rest of its {usable}"
    return int(gpu.usable * u), text


def budget(job: ServeJob, gpu: Any, layout: Layout | None = None, mem: GpuMemory | None = None,
           dev: int = 0) -> int:
    """Bytes one GPU of the replica may hold, runtime `dev` included (`_budget`). SGLang's share holds only
    the weights and the KV pool (its activations and CUDA graphs live in the rest of the GPU), so for the
    memory `mem` of a setup it is that share plus what lies outside it, at most the whole GPU:

      B = min(u·usable + (A + dev), usable),  A = mem − (weights + KV): fits when mem + dev ≤ B

    Source: sglang-mem-fraction"""
    b = _budget(job, gpu, layout)[0]
    if job.engine != "sglang" or mem is None:
        return b
    static = sum(t.value for t in mem.terms if t.name in ("weights", "device", "kv_cache"))
    return min(b + (mem.peak_bytes - static) + dev, gpu.usable)


def budget_text(job: ServeJob, gpu: Any, layout: Layout | None = None) -> str:
    """How `budget` was reached, for a rejection: '0.9 × H100-SXM = 71.3 GiB' or llama.cpp's margin."""
    return _budget(job, gpu, layout)[1]


def serve_memory(spec: ModelSpec, job: ServeJob, layout: Layout, concurrency: int | None = None,
                 context: int | None = None, breakdown: Breakdown | None = None, gpu: Any = None) -> GpuMemory:
    """The most loaded GPU of one TP × PP replica serving `concurrency` sequences of `context` tokens (the
    job's by default): llama.cpp's own buffers for llama.cpp, else `breakdown` (or the job's on `gpu`, whose
    kind sizes vLLM's profile run) split by the layout."""
    if job.engine == LLAMACPP:
        return _llamacpp(spec, job.weights, job.kv_dtype, layout.tp, layout.pp, layout.cp, layout.ep,
                         concurrency or job.sequences, context or job.context, layout)
    bd = breakdown or serve_breakdown(spec, job, concurrency, context, gpu)
    return per_gpu(spec, bd, layout)


def engine_breakdown(spec: ModelSpec, job: ServeJob, concurrency: int | None = None,
                     context: int | None = None) -> Breakdown:
    """What llama.cpp or transformers allocates on one GPU, as a whole-model breakdown.

    llama.cpp: the GPU's weights (the token embedding stays on the host), KV cache, compute buffer and CUDA
    context. transformers: the memory model's generate() peak for `concurrency` prompts of context − output
    tokens generating up to `context` (weights, KV cache, the activations and working set live at the
    peak) plus the caching allocator's reserve, and the CUDA context (`memory.device_estimate`'s torch view,
    as `infer --runtime torch`)."""
    from llmsize.params import count

    n, ctx = concurrency or job.sequences, context or job.context
    if job.engine == LLAMACPP:
        (b,) = _buffers(spec, job.weights, _cache_type(job.kv_dtype), n, ctx, 1)
        return Breakdown(weights=b.model, transient=b.compute, kv_cache=b.kv, device=b.cuda_context,
                         weight_bytes_per_param=b.model / max(count(spec).total, 1))
    w, a, t, kv, dev = _generate_bytes(spec, job.weights, job.kv_dtype, n, ctx, job.output_len)
    return Breakdown(weights=w, activations=a, transient=t, kv_cache=kv, device=dev,
                     weight_bytes_per_param=w / max(count(spec).total, 1))


@lru_cache(maxsize=256)
def _generate_bytes(spec: ModelSpec, weights: str, kv_dtype: str, batch: int, context: int,
                    output: int) -> tuple[int, int, int, int, int]:
    """(weights, activations, transient + allocator reserve, KV cache, CUDA context) of transformers'
    generate() over `batch` prompts of context − output tokens (at least one) with context − prompt new.

    Source: pytorch-cuda-alloc"""
    from llmsize.memory import device_estimate, estimate
    from llmsize.memory.workload import Workload
    from llmsize.planner.jobs import by_category, compute_dtype, weight_override

    c = compute_dtype(spec, weights)
    override, bits = weight_override(spec, weights)
    prompt = max(context - output, 1)
    wl = Workload(mode="generate", batch=batch, seq_len=prompt, new_tokens=max(context - prompt, 1), weights_dtype=c,
                  kv_cache_dtype="fp8" if kv_dtype.startswith("fp8") else c)
    est = estimate(spec, wl, weights_bytes_override=override, weight_bits=bits)
    cat = by_category(est)
    d = device_estimate(est, "torch")
    ctx_bytes = sum(t.bytes for t in d.terms if t.source == "cuda-context")
    reserve = d.total_bytes - est.peak_bytes - ctx_bytes  # the caching allocator's fragmentation reserve
    return cat["weights"], cat["activations"], cat["transient"] + reserve, cat["kv_cache"], ctx_bytes


def _cache_type(kv: str) -> str:
    from llmsize.memory.device import LLAMA_KV

    return LLAMA_KV.get(kv, kv)  # "auto": llama.cpp's default -ctk/-ctv, f16


@lru_cache(maxsize=256)
def _buffers(spec: ModelSpec, weights: str, kv: str, slots: int, context: int, k: int) -> tuple[Any, ...]:
    from llmsize.engines.llamacpp_split import split_buffers
    from llmsize.engines.offload import CUDA_CONTEXT, gguf_weights, serve_params

    ws, _ = gguf_weights(spec, None, weights)
    return split_buffers(spec, ws, serve_params(context, slots, kv), k, CUDA_CONTEXT)


def _llamacpp(spec: ModelSpec, weights: str, kv_dtype: str, tp: int, pp: int, cp: int, ep: int, slots: int,
              context: int, layout: Layout) -> GpuMemory:
    """GpuMemory of the most loaded GPU of llama.cpp's layer split over `pp` GPUs.

    Source: llamacpp-split"""
    if tp > 1 or cp > 1 or ep > 1:
        raise LlmsizeError(f"llama.cpp: layout {layout.label()} is not one llmsize sizes; llama.cpp's per-GPU "
                           "buffers are modelled for its default layer split (-sm layer, as --pp N), not for "
                           "-sm row/tensor")
    if spec.ssm is not None:
        raise LlmsizeError(f"{spec.name}: llama.cpp's recurrent-state buffers of state-space layers are not "
                           "modelled by llmsize")
    kv = _cache_type(kv_dtype)
    bufs = _buffers(spec, weights, kv, slots, context, pp)
    g = max(bufs, key=lambda b: (b.total, -b.device))
    where = f"GPU {g.device} of {pp} (layers {g.layers[0]}-{g.layers[-1]}" if g.layers else f"GPU {g.device} ("
    where += ", output layer)" if g.output else ")"
    terms = [Term(name="weights", value=g.model, formula=f"{weights} tensors of its {len(g.layers)} layer(s)"
                  + (" + output" if g.output else "") + ", CUDA-padded (token_embd on the host)",
                  source="llamacpp-split"),
             Term(name="kv_cache", value=g.kv, formula=f"{slots} slot(s) × pad({context}, 256) cells × "
                  f"{len(g.layers)} layer(s) × (K + V rows of {kv})", source="llamacpp-kv"),
             Term(name="compute buffer", value=g.compute, formula="ggml graph allocator peak over one 512-token "
                  "ubatch" + (", output phase included" if g.output else ""), source="llamacpp-compute")]
    if g.input_copies:
        terms.append(Term(name="pipeline input copies", value=g.input_copies,
                          formula="3 more copies of the split's inputs (GGML_SCHED_MAX_COPIES = 4)",
                          source="llamacpp-split"))
    terms.append(Term(name="CUDA context", value=g.cuda_context, formula="≈ 300 MiB outside llama.cpp's buffers",
                      source="cuda-context"))
    return GpuMemory(layout=layout, peak_bytes=g.total, stage=g.device, terms=tuple(terms),
                     per_stage=tuple(b.total for b in bufs), notes=(f"most loaded: {where}",))
