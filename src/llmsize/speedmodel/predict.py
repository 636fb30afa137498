"""Rates of one setup: a roofline time for each phase divided by the achieved efficiency of its engine
on its GPU architecture (``speedmodel.efficiency``).

decode   t_step = max(bytes/(bw·E_dec), C_fwd(B, ctx)/(n·X·E_pre), O_deq/(n·X_fp32)) + L·t_layer,
         bytes = W_read + B·ctx·KV_tok
prefill  t = (C_fwd(B·S, S/2) − 2·N_head·B·(S − 1)) / (n·X·E_pre·d/(d + d½)) + M_scores/(n·bw)
(serving: ``speedmodel.serving``; training: ``speedmodel.train``)

Symbols: W_read the weight bytes a decode step reads (the input embedding is one row per token, not
the table), KV_tok KV-cache bytes per token, n GPUs of one replica, X the peak of the compute path.

Source: pope2022
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from llmsize.errors import LlmsizeError
from llmsize.perf import attention_flops, forward_flops
from llmsize.spec import ModelSpec
from llmsize.speedmodel.builds import llamacpp_graphs
from llmsize.speedmodel.comm import tp_layer_allreduces_s
from llmsize.speedmodel.dequant import dequant_ops
from llmsize.speedmodel.efficiency import (Efficiency, attention_path, decode_shape, efficiency, engine_name,
                                           host_layer_s, is_gguf_quant, prefill_shape, serve_path)

_LOOKUPS = ("token_embd", "pos_embd")


@lru_cache(maxsize=256)
def weight_read_bytes(spec: ModelSpec, weights: str) -> int:
    """Bytes of weights one decode step reads: every stored tensor, except that the input embedding
    (and a learned position table) is a lookup of one row per token. A tied embedding is read whole,
    as the output head.

    W_read = Σ bytes − E_in + E_in / V

    Source: pope2022"""
    from llmsize.quant.formats import weight_plan

    plan = weight_plan(spec, weights)
    total = plan.bytes
    for t in plan.tensors:
        if t.role in _LOOKUPS and not (t.role == "token_embd" and spec.tie_word_embeddings):
            total -= t.bytes - t.bytes // max(t.shape[0], 1)
    return total


@lru_cache(maxsize=256)
def _read_split(spec: ModelSpec, weights: str) -> tuple[int, int]:
    """(bytes every decode step reads, routed-expert bytes of which only the routed share is read)."""
    from llmsize.quant.formats import weight_plan

    if spec.moe is None:
        return weight_read_bytes(spec, weights), 0
    experts = sum(t.bytes for t in weight_plan(spec, weights).tensors if t.role.split(".")[0].endswith("_exps"))
    return weight_read_bytes(spec, weights) - experts, experts


def decode_read_bytes(spec: ModelSpec, weights: str, batch: int, ep: int = 1) -> float:
    """Weight bytes a decode step of `batch` tokens reads on one GPU: the dense part once, and of each
    layer's E routed experts those at least one token routes to (top-k of E each, independently). Under
    expert parallelism over `ep` data-parallel ranks (attention data parallel: TensorRT-LLM's DEP, SGLang's
    --enable-dp-attention) a GPU holds E/ep of the experts and the tokens of all ep ranks route to them:

    W_read(B) = W_dense + W_experts · (1 − (1 − k/E)^(ep·B)) / ep

    Source: kaplan2020"""
    # ASSUMES: tokens route uniformly and independently (a trained router balances load; DeepSeek's
    #          and gpt-oss's auxiliary losses aim at it), so B tokens touch 1 − (1 − k/E)^B of the experts.
    dense, experts = _read_split(spec, weights)
    if not experts:
        return float(dense)
    k, e = spec.moe.top_k, spec.moe.num_experts  # type: ignore[union-attr]
    return dense + experts * (1 - (1 - k / e) ** (ep * batch)) / ep


def expert_bytes(spec: ModelSpec, weights: str) -> int:
    """Stored bytes of the routed experts (0 for a dense model): what expert parallelism splits."""
    return _read_split(spec, weights)[1]


@lru_cache(maxsize=256)
def weight_bytes(spec: ModelSpec, weights: str) -> int:
    """All stored weight bytes in `weights` (what a replica must hold)."""
    from llmsize.quant.formats import weight_plan

    return weight_plan(spec, weights).bytes


def kv_bytes_per_token(spec: ModelSpec, kv_dtype: str) -> int:
    """KV-cache bytes one token of one sequence holds, all attention layers (state-space layers hold a
    fixed state per sequence instead: `state_bytes`)."""
    from llmsize.quant.kv import attention_kv_bytes

    return attention_kv_bytes(spec, 1, _kv(kv_dtype))


def kv_bytes_attended(spec: ModelSpec, context: float, kv_dtype: str | None) -> float:
    """KV-cache bytes one sequence holds, and a decode step reads, at `context` tokens: a sliding-window
    layer (and a chunked one, Llama 4's) keeps and attends at most its window; a full layer all of them.

    KV(c) = Σ_l min(c, w_l)·KV_layer,  w_l = ∞ for a full-attention layer

    Source: llama-kv-cache"""
    per = kv_bytes_per_token(spec, kv_dtype or "bf16")
    layers = sum(1 for i in range(spec.num_layers) if spec.has_attention(i))
    if not layers or not per:
        return 0.0
    return per / layers * attended_positions(spec, context)


def attended_positions(spec: ModelSpec, context: float) -> float:
    """Cached positions one new token attends to, summed over the attention layers: Σ_l min(c, w_l)."""
    w = spec.sliding_window
    return float(sum(min(context, w) if w is not None and spec.layer_type(i) == "sliding" else context
                     for i in range(spec.num_layers) if spec.has_attention(i)))


def decode_attention_flops(spec: ModelSpec, context: float) -> float:
    """FLOPs of one decode token's attention over `context` cached tokens (a sliding layer its window):
    scores and the weighted sum, 2·n_h·(d_qk + d_v) per attended position and layer; multi-head latent
    attention as serving engines decode it, absorbed into the cached latent (FlashMLA; DeepSeek-V2 sec.
    2.1.2): 2·n_h·(2·d_c + d_r), three times the expanded form's work for DeepSeek-V3 (d_c 512, d_r 64).

    C_attn = Σ_l min(c, w_l) · 2·n_h·(d_qk + d_v)   (MLA: d_qk + d_v → 2·d_c + d_r)

    Source: deepseek-v2"""
    a = spec.attention
    if a.mla and not spec.traits.mla_expanded_serving:
        assert a.kv_lora_rank is not None
        width = 2 * a.kv_lora_rank + a.qk_rope_head_dim
    else:
        width = a.head_dim + a.v_dim
    return 2.0 * a.num_heads * width * attended_positions(spec, context)


def state_bytes(spec: ModelSpec) -> int:
    """Recurrent (conv + SSM) state of one sequence, read and written at every decode step."""
    from llmsize.recurrent import recurrent_state

    return recurrent_state(spec).total


def _kv(kv_dtype: str | None) -> str:
    k = (kv_dtype or "bf16").lower()
    return {"f16": "fp16", "q8_0": "q8_0", "auto": "bf16"}.get(k, k)


def _peak(gpu: Any, path: str) -> float:
    if not gpu.has(path):
        raise LlmsizeError(f"{gpu.name} has no {path} rate in the catalogue to time this on")
    return gpu.peak_flops(path)


def _bw(gpu: Any) -> float:
    if not gpu.bandwidth:
        raise LlmsizeError(f"{gpu.name}: no memory bandwidth in the catalogue, so no decode speed")
    return float(gpu.bandwidth)


@dataclass(frozen=True, slots=True, kw_only=True)
class Rate:
    """One predicted rate with the terms that made it."""

    value: float
    unit: str
    efficiencies: tuple[Efficiency, ...]
    terms: dict[str, Any] = field(default_factory=dict)


def unfused_attention(spec: ModelSpec, flash_attn: bool | None) -> bool:
    """Whether attention runs as separate K^T·Q, softmax and ·V products (scores through memory, KV heads
    read per query head) rather than one fused flash kernel: only where a case turns flash attention off
    and the model has standard (not MLA) attention layers."""
    # ASSUMES: flash attention is on unless a case says otherwise (llama.cpp's -fa auto, vLLM and SGLang's
    #          FlashAttention/FlashInfer backends)
    return flash_attn is False and spec.attention is not None and not spec.attention.mla and spec.attention_layers > 0


def kv_cache_copy_bytes(spec: ModelSpec, engine: str, context: float, kv_dtype: str | None) -> float:
    """Bytes a decode step moves to grow one sequence's KV cache beyond what attention reads: transformers'
    DynamicCache appends each layer's new K and V with torch.cat, which allocates the grown tensors and
    copies the whole cache into them every step (reads and writes it); engines with paged or preallocated
    caches write one token's K and V in place (counted as nothing).

    copy = 2 · ctx · KV_tok  (transformers),  0 (the others)

    Source: hf-dynamic-cache"""
    if engine_name(engine) != "transformers" or spec.attention is None:
        return 0.0
    return 2 * context * kv_bytes_per_token(spec, kv_dtype or "bf16")


def kv_read_factor(spec: ModelSpec, flash_attn: bool | None) -> int:
    """How many times a decode step reads each cached K/V head: once with a fused (flash) attention kernel;
    without one, llama.cpp multiplies K^T·q and V·softmax per query head, reading each KV head once for each
    of the g = n_heads / n_kv_heads query heads sharing it (GQA broadcast).

    f = 1 (flash attention),  f = g = n_h / n_kv (separate KQ and KQV matrix products)

    Source: pope2022"""
    # a llama-bench tg4096 without it (XiongjieDai, Llama 3 8B, g = 4) reads its KV cache at a quarter of the
    # weights' bandwidth on an RTX 3090
    return spec.attention.group_size if unfused_attention(spec, flash_attn) else 1  # type: ignore[union-attr]


def decode(spec: ModelSpec, gpu: Any, *, engine: str, weights: str, kv_dtype: str | None, batch: int,
           context: int, tokens: int, tp: int = 1, mbu: float | None = None,
           prefill_efficiency: float | None = None, flash_attn: bool | None = None,
           cuda_graphs: bool | None = None, mmq: bool = True) -> Rate:
    """Decode tokens/s of `batch` sequences together (llama-bench's tg: batch × per-sequence rate),
    at the mean context of the generated span.

    t_step = max((W_read + (f + k)·B·ctx·KV_tok)/(t·bw·E_dec), (2N·B/X + C_attn(B, ctx)/X_attn)/(t·E_pre), t_deq)
             + t_TP + L·t_layer + L_moe·t_moe,
    ctx = c + n/2; f the KV read factor (`kv_read_factor`: 1 with flash attention, the GQA group size
    without); k = 2 where transformers' dynamic cache copies itself to grow (`kv_cache_copy_bytes`), else 0;
    t_deq the unpacking of quantized blocks (`dequant_s`); t_layer the fitted fixed cost of a
    layer's kernels per step on the GPU's architecture, less the launch cost CUDA graphs save where
    llama.cpp replays them (`cuda_graphs`: None is today's build, `builds.llamacpp_graphs`); t_moe what
    each of the L_moe mixture-of-experts layers adds (fitted, one for every architecture); none of these
    with a given --mbu, which is the whole step's bandwidth utilisation

    Source: pope2022"""
    if batch < 1 or tokens < 1 or context < 0 or tp < 1:
        raise LlmsizeError("decode needs batch >= 1, tokens >= 1, context >= 0 and tp >= 1")
    path = serve_path(engine, weights, gpu, mmq)
    e_dec = efficiency(engine, gpu, "decode", mbu, path, weights)
    e_pre = efficiency(engine, gpu, "prefill", prefill_efficiency, path, weights)
    ctx = context + tokens / 2
    kv_read = batch * kv_bytes_attended(spec, ctx, kv_dtype) * kv_read_factor(spec, flash_attn)
    # transformers' dynamic cache: torch.cat copies the cache to grow it every step (`kv_cache_copy_bytes`)
    kv_read += batch * kv_cache_copy_bytes(spec, engine, ctx, kv_dtype)
    read = decode_read_bytes(spec, weights, batch) + kv_read + batch * state_bytes(spec)
    t_mem = read / (tp * _bw(gpu) * e_dec.value)
    # attention's products run on their own path (`attention_path`: 16 bits beside quantized GEMMs)
    x_att = _peak(gpu, attention_path(engine, path, kv_dtype, gpu))
    t_comp = (forward_flops(spec, batch, 0) / _peak(gpu, path) + attention_flops(spec, batch, int(ctx)) / x_att) \
        / (tp * e_pre.value)
    t_comm = tp_layer_allreduces_s(spec, gpu, tp, batch)
    # ASSUMES: one fixed cost per layer and step per GPU architecture, for every engine (fitted on
    #          llama.cpp's rows: a 3B model at 236 tokens/s on an RTX 4090 is launch-bound, not bandwidth-bound)
    t_fixed = 0.0 if mbu is not None else spec.num_layers * layer_overhead_s(gpu, engine, cuda_graphs) \
        + spec.num_moe_layers * decode_shape(gpu)["moe_layer_s"]
    t_deq = 0.0 if mbu is not None else dequant_s(spec, gpu, weights, batch, tp)
    t_gpu = max(t_mem, t_comp, t_deq) + t_comm + t_fixed
    t_host = 0.0 if mbu is not None else host_floor_s(spec, engine, weights)
    t = max(t_gpu, t_host)
    bound = "host" if t_host > t_gpu else "memory" if t_mem >= max(t_comp, t_deq) else \
        "compute" if t_comp >= t_deq else "dequantisation"
    return Rate(value=batch / t, unit="tokens/s", efficiencies=(e_dec, e_pre),
                terms={"step_s": t, "bytes_per_step": read, "kv_bytes_per_step": kv_read, "memory_s": t_mem,
                       "compute_s": t_comp, "dequant_s": t_deq, "comm_s": t_comm, "fixed_s": t_fixed,
                       "host_s": t_host, "bound": bound, "path": path})


def host_floor_s(spec: ModelSpec, engine: str, weights: str) -> float:
    """The least time a pass takes where the engine issues every layer's kernels one by one from Python
    (transformers' eager generate(): each module's Python, hooks and kernel launches on the CPU): the GPU
    waits for the host, however fast it is, so the pass takes the longer of the two. t_h per kind of linear
    kernels (16-bit, bitsandbytes 4-bit / LLM.int8(), GPTQ/AWQ), fitted on the engine's rows; 0 for
    engines that replay CUDA graphs or loop in C++.

    t_pass = max(t_GPU, L · t_h)

    Source: pytorch2023fast"""
    # ASSUMES: one host cost per layer and kind of linear kernels for every GPU and host CPU (the rows' hosts
    #          differ: the H100's 0.76 ms per 16-bit layer against the T4's 1.08 ms)
    return spec.num_layers * host_layer_s(engine, weights)


def head_params(spec: ModelSpec) -> int:
    """Parameters of the output projection to the vocabulary (d · V per head; 0 for an encoder without one).

    N_head = d · V

    Source: kaplan2020"""
    return spec.hidden_size * spec.vocab_size if spec.vocab_size else 0


def layer_overhead_s(gpu: Any, engine: str, cuda_graphs: bool | None = None) -> float:
    """The fixed time one layer adds to a decode step on `gpu` (`decode_shape`), less what CUDA graphs
    save when llama.cpp replays them (`cuda_graphs` None: today's llama.cpp on this GPU).

    t_layer = t_layer(arch) − [graphs] · Δ_graphs  (never below 0)

    Source: llamacpp-graphs"""
    shape = decode_shape(gpu)
    t = shape["layer_overhead_s"]
    if engine_name(engine) == "llama.cpp":
        graphs = llamacpp_graphs(gpu) if cuda_graphs is None else cuda_graphs and llamacpp_graphs(gpu)
        if graphs:
            t = max(0.0, t - shape["graphs_saving_s"])
    return t


def dequant_s(spec: ModelSpec, gpu: Any, weights: str, batch: int, tp: int = 1) -> float:
    """Seconds a decode step's mat-vec kernels spend unpacking quantized blocks on the vector ALUs
    (`speedmodel.dequant`), the share of the weights the step reads (a mixture's routed experts):

    t_deq = O · (W_read(B) / W_read(∞)) / (t · X_fp32)

    Source: llamacpp-dequant"""
    # ASSUMES: the unpacking runs at the GPU's fp32 (vector ALU) peak and once per weight and step for a
    #          batch of up to a few sequences (mmvq unpacks a block once for all its columns)
    backend = "metal" if getattr(gpu, "arch", "") == "apple" else "cuda"
    ops = dequant_ops(spec, weights, backend) if is_gguf_quant(weights) else 0.0
    if not ops or not gpu.has("fp32"):
        return 0.0
    share = decode_read_bytes(spec, weights, batch) / max(decode_read_bytes(spec, weights, 1 << 30), 1.0)
    return ops * share / (tp * gpu.peak_flops("fp32"))


def prefill(spec: ModelSpec, gpu: Any, *, engine: str, weights: str, batch: int, tokens: int, tp: int = 1,
            prefill_efficiency: float | None = None, mmq: bool = True, flash_attn: bool | None = None,
            ubatch: int | None = None, kv_dtype: str | None = None) -> Rate:
    """Prompt tokens/s of `batch` prompts of `tokens` tokens (llama-bench's pp); `mmq` False: an older
    llama.cpp build that dequantises quantized weights to fp16 for cuBLAS (`builds.llamacpp_mmq`). Only
    the last token of a prompt is projected to the vocabulary; the GEMMs of a narrow model run further
    below the peak (the width term d/(d + d½), fitted like training's). The prompt runs in micro-batches
    of u tokens (llama.cpp's n_ubatch, `ubatch`, 512 by default), each of which reads the weights it
    multiplies by: all of a dense model's, and of a mixture of experts every expert one of its u tokens
    routes to (`decode_read_bytes`), which for a MoE can take longer than the math.

    t = max((C/X + C_attn/X_attn)/(t·E_pre·d/(d + d½)), ⌈B·S/u⌉·W_read(u)/(t·bw·E_dec))
        + M_scores/(t·bw) + t_TP
    C = 2N·B·S − 2·N_head·B·(S − 1),  C_attn = C_attn(B·S, S/2) on attention's path (`attention_path`)

    Source: kaplan2020"""
    if batch < 1 or tokens < 1 or tp < 1 or (ubatch is not None and ubatch < 1):
        raise LlmsizeError("prefill needs batch >= 1, tokens >= 1, tp >= 1 and ubatch >= 1")
    path = serve_path(engine, weights, gpu, mmq)
    # a mixture of experts' prompt runs its routed experts as grouped GEMMs of u·k/E rows each (llama.cpp's
    # mul_mat_id), other kernels than a dense layer's: its efficiency is looked up under prefill-moe first
    e = efficiency(engine, gpu, "prefill", prefill_efficiency, path, weights, moe=spec.moe is not None)
    d = spec.hidden_size
    # only a prompt's last token goes through the output head (its logits start the decode)
    gemm = forward_flops(spec, batch * tokens, 0) - 2.0 * head_params(spec) * batch * (tokens - 1)
    attn = attention_flops(spec, batch * tokens, tokens // 2)
    sat = 1.0 if prefill_efficiency is not None else d / (d + prefill_shape()["d_half"])
    x_att = _peak(gpu, attention_path(engine, path, kv_dtype, gpu))
    t_comp = (gemm / _peak(gpu, path) + attn / x_att) / (tp * e.value * sat)
    # each micro-batch reads its weights at the bandwidth share a decode step reaches; transformers runs the
    # whole batch of prompts as one forward pass
    u = min(batch * tokens, ubatch or (batch * tokens if engine_name(engine) == "transformers" else UBATCH))
    e_read = efficiency(engine, gpu, "decode", None, path, weights)
    t_read = -(-batch * tokens // u) * decode_read_bytes(spec, weights, u) / (tp * _bw(gpu) * e_read.value)
    t_scores = score_bytes(spec, batch, tokens, flash_attn, ubatch) / (tp * _bw(gpu))
    t_gpu = max(t_comp, t_read) + t_scores + tp_layer_allreduces_s(spec, gpu, tp, batch * tokens)
    t_host = 0.0 if prefill_efficiency is not None else host_floor_s(spec, engine, weights)
    t = max(t_gpu, t_host)
    return Rate(value=batch * tokens / t, unit="tokens/s", efficiencies=(e,),
                terms={"seconds": t, "compute_s": t_comp, "read_s": t_read, "scores_s": t_scores, "host_s": t_host,
                       "path": path,
                       "bound": "host" if t_host > t_gpu else "memory" if t_read > t_comp else "compute"})


# ASSUMES: llama.cpp's prompt batches (ubatch) hold 512 tokens (llama-bench's and the server's default)
UBATCH = 512
# ASSUMES: without flash attention each score moves 16 bytes through memory: K^T·Q written in f32, read and
#          written by the masked softmax, read by the product with V
SCORE_BYTES = 16


def score_bytes(spec: ModelSpec, batch: int, tokens: int, flash_attn: bool | None,
                ubatch: int | None = None) -> float:
    """Bytes a prompt's attention scores move through memory when they are materialised (no flash
    attention): each micro-batch of u tokens scores every cached position, so a prompt of S tokens makes
    S·(S + u)/2 scores per query head and layer. 0 with flash attention (scores stay on chip), the default.

    M = L_attn · n_h · B · S·(S + u)/2 · 16 B,  u = min(S, n_ubatch)  (512 by default)

    Source: dao2022"""
    if not unfused_attention(spec, flash_attn):
        return 0.0
    u = min(tokens, ubatch or UBATCH)
    heads = spec.attention.num_heads  # type: ignore[union-attr]
    return float(spec.attention_layers * heads * batch * tokens * (tokens + u) // 2 * SCORE_BYTES)
