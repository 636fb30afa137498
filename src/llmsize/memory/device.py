"""Device-level view: what the GPU must hold beyond PyTorch's live tensors, per runtime.

torch:    peak tensors + CUDA context + caching-allocator reserve (fragmentation)
vLLM:     the whole gpu_memory_utilization budget is taken; KV blocks get
          budget - weights (+ rotary cos/sin cache) - non-torch memory - profiled activation peak - CUDA graphs
llama.cpp: weights + KV cache (n_ctx) + compute buffer (one ubatch) + CUDA context, from
          llmsize.engines (the one model of llama.cpp's buffers, measured on llama.cpp)

Source: pytorch-cuda-alloc
"""
from __future__ import annotations

from dataclasses import dataclass

from llmsize.errors import LlmsizeError
from llmsize.memory.terms import MemoryEstimate, MemTerm
from llmsize.recurrent import recurrent_state
from llmsize.spec import ModelSpec

GIB = 1 << 30
MIB = 1 << 20
# Each constant is a measurement, cited in llmsize.sources:
CUDA_CONTEXT = 500 * MIB  # cuda-context: 300-700 MiB with lazy module loading (CUDA >= 11.7)
# pytorch-cuda-alloc: reserved exceeds allocated by 11% in a training loop of many small tensors
# (16726 / 15006 MB, pytorch#40989) and by at most 6.4% of (peak - weights) for Llama-3.1-8B AdamW on an
# 80 GB H100, which ran at 74.85 GiB allocated (truth README); large optimizer tensors fragment little.
FRAGMENTATION = 0.05
VLLM_NON_TORCH = int(1.79 * GIB)  # kwon2023-vllm: "non_torch_memory 1.79GiB", Llama-3-8B, H100, TP1 (vllm#10511)
VLLM_CUDA_GRAPHS = int(0.5 * GIB)  # kwon2023-vllm: "Estimated CUDA graph memory: 0.36 / 0.73 GiB" (vLLM logs)
VLLM_BLOCK = 16  # tokens per KV block


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceEstimate:
    runtime: str
    total_bytes: int  # bytes the process holds on the GPU at the peak
    terms: tuple[MemTerm, ...]  # sums to total_bytes
    gpu_memory_bytes: int | None
    fits: bool | None
    headroom_bytes: int | None
    kv_cache_tokens: int | None = None  # vLLM: tokens the KV budget holds
    max_sequences: int | None = None  # vLLM: sequences of the requested length served at once
    notes: tuple[str, ...] = ()


def _t(name: str, nb: int, formula: str, source: str, cat: str = "device") -> MemTerm:
    return MemTerm(name=name, bytes=max(0, int(nb)), category=cat, formula=formula, source=source, phase="device")


def kv_bytes_per_token(spec: ModelSpec, kv_bytes: int) -> int:
    """Σ_attention layers n_kv (d_h + d_v) bytes per token (MLA: the latent r_kv + d_rope).

    Source: hf-cache"""
    a, n = spec.attention, spec.attention_layers  # state-space layers keep a fixed state, not per token
    if a.mla and spec.traits.mla_expanded_serving:  # vLLM's MiniCPM3: expanded k, v padded to the q/k head size
        return n * a.num_heads * 2 * a.head_dim * kv_bytes
    if a.mla:
        return n * (a.kv_lora_rank + a.qk_rope_head_dim) * kv_bytes  # type: ignore[operator]
    return n * a.num_kv_heads * (a.head_dim + a.v_dim) * kv_bytes


def vllm_activation_peak(spec: ModelSpec, max_batched_tokens: int, max_seqs: int, c: int) -> int:
    """vLLM's profile run: one forward over max_num_batched_tokens with fused kernels, plus the sampler
    on max_num_seqs rows of fp32 logits (logits, probabilities, log-probabilities).

    A = max(T (2f + f + 2d) c, T ((n_h + 2 n_kv) d_h + n_h d_h + 2d) c) + 3 n_seq V 4

    Source: kwon2023-vllm"""
    a, d, T = spec.attention, spec.hidden_size, max_batched_tokens
    f = spec.mlp.intermediate_size
    if spec.moe is not None:
        f = max(f if not all(spec.moe_layers) else 0, spec.moe.expert_intermediate_size * spec.moe.top_k,
                spec.moe.shared_intermediate_size)
    mlp = T * (3 * f + 2 * d) * c
    attn = T * ((a.num_heads + 2 * a.num_kv_heads) * a.head_dim + a.num_heads * a.v_dim + 2 * d) * c
    return max(mlp, attn) + 3 * max_seqs * spec.vocab_size * 4


def device_estimate(est: MemoryEstimate, runtime: str = "torch", gpu_memory_bytes: int | None = None, *,
                    spec: ModelSpec | None = None, gpu_memory_utilization: float = 0.9,
                    max_num_batched_tokens: int = 16384, max_num_seqs: int = 256, seq_tokens: int | None = None,
                    batch: int = 1, kv_bytes: int = 2, compute_bytes: int = 2, n_ctx: int | None = None,
                    n_ubatch: int = 512, flash_attn: bool = True, kv_type: str | None = None,
                    llamacpp_weights: str | None = None, gguf_path: str | None = None) -> DeviceEstimate:
    """Device bytes for `est` under `runtime` ("torch", "vllm", "llamacpp"); with gpu_memory_bytes,
    whether it fits and the headroom. vLLM and llama.cpp need `spec` (their KV layout and buffers); llama.cpp
    runs `slots` = batch sequences of n_ctx (or seq_tokens) tokens each, with the KV `kv_type` and the GGUF
    `gguf_path` (else the preset `llamacpp_weights`, e.g. Q4_K_M or bf16).

    Source: pytorch-cuda-alloc"""
    if runtime not in ("torch", "vllm", "llamacpp"):
        raise LlmsizeError(f"--runtime must be torch, vllm or llamacpp, got {runtime!r}")
    if gpu_memory_bytes is not None and gpu_memory_bytes <= 0:
        raise LlmsizeError("GPU memory must be positive")
    if runtime == "torch":
        dyn = est.peak_bytes - est.weights_bytes
        terms = [_t(t.name, t.bytes, t.formula, t.source, t.category) for t in est.terms]
        terms.append(_t("CUDA context (driver, kernels, cuBLAS workspace)", CUDA_CONTEXT, "≈ 500 MiB", "cuda-context"))
        terms.append(_t("caching-allocator reserve (fragmentation)", FRAGMENTATION * max(0, dyn),
                        f"{FRAGMENTATION:.2f} × (peak − weights)", "pytorch-cuda-alloc"))
        return _finish(runtime, terms, gpu_memory_bytes)
    if spec is None:
        raise LlmsizeError(f"the {runtime} view needs the model spec")
    per_tok = kv_bytes_per_token(spec, kv_bytes)
    if runtime == "vllm":
        if gpu_memory_bytes is None:
            raise LlmsizeError("the vLLM view needs a GPU (--gpu): vLLM sizes its KV cache from the GPU's memory")
        if not 0 < gpu_memory_utilization <= 1:
            raise LlmsizeError("gpu_memory_utilization must be in (0, 1]")
        budget = int(gpu_memory_bytes * gpu_memory_utilization)
        rot = int(spec.attention.head_dim * spec.rotary_fraction) if spec.position == "rope" else 0
        cos_sin = spec.max_position_embeddings * rot * compute_bytes
        act = vllm_activation_peak(spec, max_num_batched_tokens, max_num_seqs, compute_bytes)
        terms = [_t("weights", est.weights_bytes, "P·w", "rajbhandari2020", "weights"),
                 _t("rotary cos/sin cache", cos_sin, "max_position · d_rot · c", "kwon2023-vllm", "weights"),
                 _t("non-torch memory (CUDA context, NCCL, cuBLAS)", VLLM_NON_TORCH, "1.79 GiB measured (TP1)",
                    "kwon2023-vllm"),
                 _t("profiled activation peak", act, f"max(MLP, attention) working set over max_num_batched_tokens "
                    f"T = {max_num_batched_tokens:,} + sampler 3·n_seq·V·4, n_seq = {max_num_seqs:,}",
                    "kwon2023-vllm", "activations"),
                 _t("CUDA graphs", VLLM_CUDA_GRAPHS, "≈ 0.5 GiB", "kwon2023-vllm")]
        used = sum(t.bytes for t in terms)
        kv = budget - used
        notes = []
        if kv <= 0:
            notes.append(f"no memory left for KV blocks: {budget:,} B budget < {used:,} B of weights and buffers")
            kv = 0
        tokens = kv // per_tok // VLLM_BLOCK * VLLM_BLOCK if per_tok else 0
        terms.append(_t("KV cache blocks (rest of the budget)", kv, "util·M − weights − non-torch − activations − "
                        "graphs", "kwon2023-vllm", "kv_cache"))
        need = seq_tokens if seq_tokens else None
        max_seqs = tokens // need if need else None
        # ASSUMES: state-space layers hold their transformers-sized state (conv in the compute dtype, SSM fp32)
        state = recurrent_state(spec, 1, compute_bytes).total
        if state:  # each sequence also holds a fixed recurrent state
            max_seqs = kv // ((need or 0) * per_tok + state)
            notes.append(f"each sequence also holds a {state:,} B recurrent state (state-space layers); "
                         f"KV tokens count attention layers only")
        d = _finish(runtime, terms, gpu_memory_bytes)
        fits = kv > 0 and (need is None or tokens >= need * batch) if not state else max_seqs >= batch
        return DeviceEstimate(runtime=runtime, total_bytes=d.total_bytes, terms=d.terms,
                              gpu_memory_bytes=gpu_memory_bytes, fits=fits, headroom_bytes=d.headroom_bytes,
                              kv_cache_tokens=tokens, max_sequences=max_seqs, notes=tuple(notes))
    if spec.ssm is not None:
        raise LlmsizeError(f"{spec.name}: llama.cpp's recurrent-state (r/s) buffers of state-space layers are not "
                           f"modelled by llmsize; the llama.cpp view covers attention-only models")
    return _llamacpp(spec, gpu_memory_bytes, context=n_ctx or seq_tokens or spec.max_position_embeddings,
                     slots=batch, kv_type=kv_type, n_ubatch=n_ubatch, flash_attn=flash_attn,
                     weights=llamacpp_weights, gguf_path=gguf_path)


# a workload's KV dtype -> llama.cpp's cache type (-ctk/-ctv); absent: llama.cpp's default f16
LLAMA_KV = {None: "f16", "auto": "f16", "fp16": "f16", "float16": "f16", "bf16": "bf16", "bfloat16": "bf16",
             "fp32": "f32", "float32": "f32"}


def _llamacpp(spec: ModelSpec, gpu: int | None, *, context: int, slots: int, kv_type: str | None, n_ubatch: int,
              flash_attn: bool, weights: str | None, gguf_path: str | None) -> DeviceEstimate:
    """llama.cpp with every layer on the GPU (-ngl all): its CUDA0 model buffer, the KV cache of `slots` slots
    of `context` tokens, the compute buffer of one ubatch and the CUDA context, from the one model of
    llama.cpp's buffers that `fit --find ngl` uses (`engines.offload.buffers_at`). The token embedding and
    the logits buffer stay on the host.

    Source: llamacpp-compute"""
    from llmsize.engines.llamacpp import _KV_TYPES
    from llmsize.engines.offload import buffers_at, gguf_weights, serve_params

    kv = LLAMA_KV.get(kv_type, kv_type)
    if kv not in _KV_TYPES:
        raise LlmsizeError(f"llama.cpp's KV cache types are {', '.join(_KV_TYPES)}; {kv_type!r} is not one")
    ws, fmt = gguf_weights(spec, gguf_path, weights or "bf16")
    b = buffers_at(spec, ws, serve_params(context, slots, kv, n_ubatch=n_ubatch, flash_attn=flash_attn),
                   spec.num_layers + 1)
    fa = "on" if flash_attn else "off"
    terms = [_t("weights on the GPU (CUDA0 model buffer)", b.gpu_model, f"{fmt} tensors but token_embd, padded to "
                "CUDA's 128 B (+ a 512-value row per quantized tensor)", "llamacpp-compute", "weights"),
             _t("KV cache (n_ctx)", b.gpu_kv, f"{slots} slot(s) x pad({context}, 256) cells x L x (K + V rows of "
                f"{kv})", "llamacpp-kv", "kv_cache"),
             _t("compute buffer (one ubatch)", b.gpu_compute, f"ggml graph allocator peak over ubatch "
                f"{min(n_ubatch, context * slots)} (flash attention {fa})", "llamacpp-compute"),
             _t("CUDA context", b.cuda_context, "≈ 300 MiB outside llama.cpp's buffers", "cuda-context")]
    notes = (f"host: {b.host_total:,} B (token embedding {b.host_model:,} B mapped, logits buffer "
             f"{b.output_buffer:,} B, graph inputs {b.host_compute:,} B); -ngl all = {spec.num_layers + 1}",)
    d = _finish("llamacpp", terms, gpu)
    return DeviceEstimate(runtime="llamacpp", total_bytes=d.total_bytes, terms=d.terms, gpu_memory_bytes=gpu,
                          fits=d.fits, headroom_bytes=d.headroom_bytes, notes=notes)


def _finish(runtime: str, terms: list[MemTerm], gpu: int | None) -> DeviceEstimate:
    total = sum(t.bytes for t in terms)
    return DeviceEstimate(runtime=runtime, total_bytes=total, terms=tuple(terms), gpu_memory_bytes=gpu,
                          fits=None if gpu is None else total <= gpu,
                          headroom_bytes=None if gpu is None else gpu - total)
