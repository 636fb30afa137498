"""Rates of one setup: a roofline time for each phase divided by the achieved efficiency of its engine
on its GPU architecture (``speedmodel.efficiency``).

decode   t_step = max(bytes/(bw·E_dec), C_fwd(B, ctx)/(n·X·E_pre), O_deq/(n·X_fp32)),  bytes = W_read + B·ctx·KV_tok
prefill  t = C_fwd(B·S, S/2) / (n·X·E_pre)
serve    tokens/s = dp · B / t_it,  t_it one iteration of B decode + B·S_in/S_out prompt tokens,
         B = min(max_seqs, KV capacity / (S_in + S_out))
train    tokens/s/GPU = X·E_train·bubble / C_hw,  C_hw = 6N + 12·L·s·d_attn (+ recomputation)

Symbols: W_read the weight bytes a decode step reads (the input embedding is one row per token, not
the table), KV_tok KV-cache bytes per token, n GPUs of one replica, X the peak of the compute path.

Source: pope2022
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from llmsize.errors import LlmsizeError
from llmsize.perf import forward_flops
from llmsize.spec import ModelSpec
from llmsize.speedmodel.builds import llamacpp_graphs
from llmsize.speedmodel.comm import tp_layer_allreduces_s
from llmsize.speedmodel.dequant import dequant_ops
from llmsize.speedmodel.efficiency import (Efficiency, decode_shape, efficiency, engine_default, engine_name,
                                           is_gguf_quant, prefill_shape, serve_path, serve_shape)

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


def decode_read_bytes(spec: ModelSpec, weights: str, batch: int) -> float:
    """Weight bytes a decode step of `batch` tokens reads: the dense part once, and of each layer's E
    routed experts those at least one of the B tokens routes to (top-k of E each, independently):

    W_read(B) = W_dense + W_experts · (1 − (1 − k/E)^B)

    Source: kaplan2020"""
    # ASSUMES: tokens route uniformly and independently (a trained router balances load; DeepSeek's
    #          and gpt-oss's auxiliary losses aim at it), so B tokens touch 1 − (1 − k/E)^B of the experts.
    dense, experts = _read_split(spec, weights)
    if not experts:
        return float(dense)
    k, e = spec.moe.top_k, spec.moe.num_experts  # type: ignore[union-attr]
    return dense + experts * (1 - (1 - k / e) ** batch)


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


def kv_read_factor(spec: ModelSpec, flash_attn: bool | None) -> int:
    """How many times a decode step reads each cached K/V head: once with a fused (flash) attention kernel;
    without one, llama.cpp multiplies K^T·q and V·softmax per query head, reading each KV head once for each
    of the g = n_heads / n_kv_heads query heads sharing it (GQA broadcast).

    f = 1 (flash attention),  f = g = n_h / n_kv (separate KQ and KQV matrix products)

    Source: pope2022"""
    # ASSUMES: flash attention is on unless a case says otherwise (llama.cpp's -fa auto, vLLM and SGLang's
    #          FlashAttention/FlashInfer backends); a llama-bench tg4096 without it (XiongjieDai, Llama 3 8B,
    #          g = 4) reads its KV cache at a quarter of the weights' bandwidth on an RTX 3090
    if flash_attn is None or flash_attn or spec.attention is None or spec.attention.mla or not spec.attention_layers:
        return 1
    return spec.attention.group_size


def decode(spec: ModelSpec, gpu: Any, *, engine: str, weights: str, kv_dtype: str | None, batch: int,
           context: int, tokens: int, tp: int = 1, mbu: float | None = None,
           prefill_efficiency: float | None = None, flash_attn: bool | None = None,
           cuda_graphs: bool | None = None, mmq: bool = True) -> Rate:
    """Decode tokens/s of `batch` sequences together (llama-bench's tg: batch × per-sequence rate),
    at the mean context of the generated span.

    t_step = max((W_read + f·B·ctx·KV_tok)/(t·bw·E_dec), C_fwd(B, ctx)/(t·X·E_pre), t_deq) + t_TP + L·t_layer,
    ctx = c + n/2; f the KV read factor (`kv_read_factor`: 1 with flash attention, the GQA group size
    without); t_deq the unpacking of quantized blocks (`dequant_s`); t_layer the fitted fixed cost of a
    layer's kernels per step on the GPU's architecture, less the launch cost CUDA graphs save where
    llama.cpp replays them (`cuda_graphs`: None is today's build, `builds.llamacpp_graphs`); none
    with a given --mbu, which is the whole step's bandwidth utilisation

    Source: pope2022"""
    if batch < 1 or tokens < 1 or context < 0 or tp < 1:
        raise LlmsizeError("decode needs batch >= 1, tokens >= 1, context >= 0 and tp >= 1")
    path = serve_path(engine, weights, gpu, mmq)
    e_dec = efficiency(engine, gpu, "decode", mbu, path, weights)
    e_pre = efficiency(engine, gpu, "prefill", prefill_efficiency, path, weights)
    ctx = context + tokens / 2
    kv_read = batch * ctx * kv_bytes_per_token(spec, kv_dtype or "bf16") * kv_read_factor(spec, flash_attn)
    read = decode_read_bytes(spec, weights, batch) + kv_read + batch * state_bytes(spec)
    t_mem = read / (tp * _bw(gpu) * e_dec.value)
    t_comp = forward_flops(spec, batch, int(ctx)) / (tp * _peak(gpu, path) * e_pre.value)
    t_comm = tp_layer_allreduces_s(spec, gpu, tp, batch)
    # ASSUMES: one fixed cost per layer and step per GPU architecture, for every engine (fitted on
    #          llama.cpp's rows: a 3B model at 236 tokens/s on an RTX 4090 is launch-bound, not bandwidth-bound)
    t_fixed = 0.0 if mbu is not None else spec.num_layers * layer_overhead_s(gpu, engine, cuda_graphs)
    t_deq = 0.0 if mbu is not None else dequant_s(spec, gpu, weights, batch, tp)
    t = max(t_mem, t_comp, t_deq) + t_comm + t_fixed
    bound = "memory" if t_mem >= max(t_comp, t_deq) else "compute" if t_comp >= t_deq else "dequantisation"
    return Rate(value=batch / t, unit="tokens/s", efficiencies=(e_dec, e_pre),
                terms={"step_s": t, "bytes_per_step": read, "kv_bytes_per_step": kv_read, "memory_s": t_mem, "compute_s": t_comp,
                       "dequant_s": t_deq, "comm_s": t_comm, "bound": bound, "path": path})


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
            prefill_efficiency: float | None = None, mmq: bool = True, flash_attn: bool | None = None) -> Rate:
    """Prompt tokens/s of `batch` prompts of `tokens` tokens (llama-bench's pp); `mmq` False: an older
    llama.cpp build that dequantises quantized weights to fp16 for cuBLAS (`builds.llamacpp_mmq`). Only
    the last token of a prompt is projected to the vocabulary; the GEMMs of a narrow model run further
    below the peak (the width term d/(d + d½), fitted like training's).

    t = (C_fwd(B·S, S/2) − 2·N_head·B·(S − 1)) / (t·X·E_pre·d/(d + d½)) + M_scores/(t·bw)

    Source: kaplan2020"""
    if batch < 1 or tokens < 1 or tp < 1:
        raise LlmsizeError("prefill needs batch >= 1, tokens >= 1 and tp >= 1")
    path = serve_path(engine, weights, gpu, mmq)
    e = efficiency(engine, gpu, "prefill", prefill_efficiency, path, weights)
    d = spec.hidden_size
    # only a prompt's last token goes through the output head (its logits start the decode)
    flops = forward_flops(spec, batch * tokens, tokens // 2) - 2.0 * head_params(spec) * batch * (tokens - 1)
    sat = 1.0 if prefill_efficiency is not None else d / (d + prefill_shape()["d_half"])
    t_comp = flops / (tp * _peak(gpu, path) * e.value * sat)
    t_scores = score_bytes(spec, batch, tokens, flash_attn) / (tp * _bw(gpu))
    t = t_comp + t_scores + tp_layer_allreduces_s(spec, gpu, tp, batch * tokens)
    return Rate(value=batch * tokens / t, unit="tokens/s", efficiencies=(e,),
                terms={"seconds": t, "compute_s": t_comp, "scores_s": t_scores, "path": path})


# ASSUMES: llama.cpp's prompt batches (ubatch) hold 512 tokens (llama-bench's and the server's default)
UBATCH = 512
# ASSUMES: without flash attention each score moves 16 bytes through memory: K^T·Q written in f32, read and
#          written by the masked softmax, read by the product with V
SCORE_BYTES = 16


def score_bytes(spec: ModelSpec, batch: int, tokens: int, flash_attn: bool | None) -> float:
    """Bytes a prompt's attention scores move through memory when they are materialised (no flash
    attention): each micro-batch of u tokens scores every cached position, so a prompt of S tokens makes
    S·(S + u)/2 scores per query head and layer. 0 with flash attention (scores stay on chip), the default.

    M = L_attn · n_h · B · S·(S + u)/2 · 16 B,  u = min(S, 512)

    Source: dao2022"""
    a = spec.attention
    if flash_attn is None or flash_attn or a is None or a.mla or not spec.attention_layers:
        return 0.0
    u = min(tokens, UBATCH)
    return float(spec.attention_layers * a.num_heads * batch * tokens * (tokens + u) // 2 * SCORE_BYTES)


@dataclass(frozen=True, slots=True, kw_only=True)
class Serving:
    """Continuous batching of one deployment (dp replicas of tp × pp GPUs)."""

    output_tokens_per_s: float  # whole deployment, prefill time included
    input_tokens_per_s: float  # prompts processed per second alongside
    batch: int  # sequences in flight per replica
    batch_limit: str  # what sets it: concurrency, max_seqs, kv or request_rate
    ttft_s: float  # median time to first token of a request
    tpot_s: float  # median time per output token of a request
    ttft_p90_s: float
    tpot_p90_s: float
    prefill_s: float  # one request's prefill on its replica
    step_s: float  # one decode step of the whole batch
    kv_capacity_tokens: int
    efficiency: Efficiency
    path: str
    bound: str  # what bounds a decode step: memory or compute
    step_bytes: float  # bytes one GPU reads in a decode step

    @property
    def e2e_s(self) -> float:
        return self.ttft_s + self.tpot_s * max(self.output - 1, 0)

    output: int = 1


def serve(spec: ModelSpec, gpu: Any, *, engine: str, weights: str, kv_dtype: str | None, prompt: int, output: int,
          concurrency: int | str, request_rate: float | None = None, tp: int = 1, pp: int = 1, dp: int = 1,
          gpu_memory_utilization: float = 0.9, serve_efficiency: float | None = None, mbu: float | None = None,
          prefill_efficiency: float | None = None, scheduler_steps: int = 1) -> Serving:
    """Throughput and latency under continuous batching with chunked prefill: one iteration carries the
    batch's decode tokens and the prompts of the requests that replace the finishing ones, so throughput
    counts prefill time.

    B = min(C, max_seqs, K/(S_in + S_out));  one iteration: B decode tokens and P = B·S_in/S_out prompt tokens
    t_it = [max(W_read(B)/n/(bw·E), 2N·(B + P)/(n·X·E·c)) + B·S̄·KV/n/(bw·E)
            + C_attn(P)/(n·X·E·c)]·p/min(p, B) + t_TP(B + P)/l + t_0 + B·t_s,  S̄ = S_in + S_out/2
    (t_d the same with P = 0; c: GEMM efficiency relative to E; l: share of the link's rate all-reduces
    reach, NVLink or PCIe; t_0, t_s: the host's work per iteration and per running sequence)
    out tokens/s = dp·B/t_it;  TPOT = t_it
    t_p = max(W_read/n/(bw·E), C_fwd(S_in, S_in/2)/(n·X·E·c)) + t_TP(S_in)/l  (the request's prompt pass)
    TTFT = t_p + (B − 1)·(S̄·KV/n/(bw·E) + 2N/(n·X·E·c)) + t_0 + B·t_s + (k − 1)/2·t_d
           + ρ_p/(2(1 − ρ_p))·t_p (+ the wait for a batch slot at a request rate)
    (k: decode steps an engine runs per scheduling round, vLLM's --num-scheduler-steps; an arriving request
    waits on average for half of the round in progress before its prefill is scheduled; ρ_p = λ_o·t_p
    the share of time the replica spends on the other requests' prefills)

    `mbu` / `prefill_efficiency` replace E in the memory / compute terms (the user's overrides).

    Source: agrawal2024"""
    if prompt < 1 or output < 1 or tp < 1 or pp < 1 or dp < 1:
        raise LlmsizeError("serving needs prompt, output, tp, pp and dp >= 1")
    if isinstance(scheduler_steps, bool) or not isinstance(scheduler_steps, int) or not 1 <= scheduler_steps <= 1024:
        raise LlmsizeError(f"scheduler steps must be an integer in 1..1024, got {scheduler_steps!r}")
    n = tp * pp
    path = serve_path(engine, weights, gpu)
    e = efficiency(engine, gpu, "serve", serve_efficiency, path)
    e_mem_d, e_cmp_d = e.value, e.value
    if serve_efficiency is None and e.key.startswith("*/"):
        # no serving rows for this engine: its own decode and prefill efficiencies, where it has them
        ed, ep = efficiency(engine, gpu, "decode", None, path), efficiency(engine, gpu, "prefill", None, path)
        if not ed.key.startswith("*/"):
            e, e_mem_d, e_cmp_d = ed, ed.value, ep.value
    x, bw = _peak(gpu, path), _bw(gpu)
    e_mem = mbu if mbu is not None else e_mem_d
    shape = serve_shape()
    # ASSUMES: an engine's GEMMs reach compute_rel times the efficiency its memory-bound steps reach on
    #          bandwidth (compute_rel_fp8 on the FP8 path, whose doubled peak GEMMs reach less of); one ratio
    #          per path for every engine and GPU, fitted (scripts/fit_speed.py)
    rel = shape["compute_rel_fp8"] if path == "fp8" else shape["compute_rel"]
    e_cmp = prefill_efficiency if prefill_efficiency is not None else min(e_cmp_d * rel, 1.0)
    w_gpu = weight_bytes(spec, weights) / n
    kv_gpu = kv_bytes_per_token(spec, kv_dtype or "bf16") / n
    st_gpu = state_bytes(spec) / n  # fixed per sequence (state-space layers)
    free = gpu.usable * gpu_memory_utilization - w_gpu
    cap = int(free // kv_gpu) if free > 0 and kv_gpu else 0
    per_req = (prompt + output) * kv_gpu + st_gpu
    fits = cap // (prompt + output) if not st_gpu else int(free // per_req) if free > 0 else 0
    if fits < 1:
        room = f"room for {max(cap, 0):,} KV tokens" if not st_gpu else f"{max(free, 0):,.0f} B for KV cache and state"
        need = f"{prompt + output:,}" if not st_gpu else f"{per_req:,.0f} B ({st_gpu:,.0f} B of it recurrent state)"
        wb, kvt, st = weight_bytes(spec, weights), kv_bytes_per_token(spec, kv_dtype or "bf16"), state_bytes(spec)
        more = next((m for m in (2, 4, 8) if gpu.usable * gpu_memory_utilization - wb / (n * m)
                     >= ((prompt + output) * kvt + st) / (n * m)), None)  # the smallest wider TP that holds it
        hint = (f"--tp {tp * more} holds one request" if more else f"not even --tp {tp * 8}") + \
            " (or a smaller --weights format)"
        raise LlmsizeError(f"does not fit: {gpu.name} × {n} leaves {room}, one request needs {need}; {hint}")
    limits = {"max_seqs": engine_default(engine, "max_seqs"), "kv": fits}
    if concurrency != "max":
        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
            raise LlmsizeError(f"concurrency must be a positive integer or 'max', got {concurrency!r}")
        limits["concurrency"] = math.ceil(concurrency / dp)
    limit = min(limits, key=lambda k: (limits[k], k != "concurrency"))
    b_max = max(1, limits[limit])
    mean_ctx = prompt + output / 2
    # TP all-reduces per layer are added to each phase (not overlapped); PP stages pass activations only

    # ASSUMES: NCCL / custom all-reduce kernels reach link_efficiency of the link's rate on the message
    #          sizes of serving (a few MB) over NVLink / Infinity Fabric, and pcie_efficiency of it between
    #          cards with no such link (peer traffic through PCIe switches and the CPU's root complex);
    #          one fraction per link kind for every engine and GPU (fitted)
    share = shape["link_efficiency"] if gpu.interconnect_bw or n > 8 else shape["pcie_efficiency"]

    def comm(tokens: float) -> float:  # TP all-reduces of one pass over `tokens` tokens
        return tp_layer_allreduces_s(spec, gpu, tp, tokens) / share

    # one request's prompt alone: a pass that reads the weights once and does the prompt's FLOPs
    t_p = max(weight_read_bytes(spec, weights) / n / (bw * e_mem),
              forward_flops(spec, prompt, prompt // 2) / (n * x * e_cmp)) + comm(prompt)

    def stages(b: int) -> float:  # PP stages work at once only with as many sequences in flight
        return pp / min(pp, b)

    lin_tok = forward_flops(spec, 1, 0)  # GEMM FLOPs of one token (2N)
    # attention FLOPs of one request's prompt (its GEMM FLOPs are counted with the iteration's tokens)
    attn_p = forward_flops(spec, prompt, prompt // 2) - lin_tok * prompt

    def step(b: int, prefill: bool = True) -> float:
        # one iteration of continuous batching: b decode tokens and, at steady state, the prompts of the
        # b/S_out requests that replace those finishing: b·S_in/S_out prefill tokens ride in the same pass
        p = b * prompt / output if prefill else 0.0
        gemm = max(decode_read_bytes(spec, weights, b) / n / (bw * e_mem), lin_tok * (b + p) / (n * x * e_cmp))
        kv = b * (mean_ctx * kv_gpu + st_gpu) / (bw * e_mem)
        att = attn_p * p / prompt / (n * x * e_cmp)
        # ASSUMES: the engine's host work per iteration (scheduling, sampling, detokenising) is a fixed part
        #          and a part per running sequence, the same for every engine (fitted)
        host = shape["step_overhead_s"] + b * shape["seq_overhead_s"]
        return (gemm + kv + att) * stages(b) + comm(b + p) + host

    def rate(b: int) -> float:  # requests/s of one replica at b in flight
        return b / (output * step(b))

    b = b_max
    wait = 0.0
    if request_rate is not None:
        if not (isinstance(request_rate, (int, float)) and request_rate > 0):
            raise LlmsizeError(f"request rate must be a positive number of requests/s, got {request_rate!r}")
        lam = request_rate / dp
        mu = rate(b_max)
        if lam >= mu:
            raise LlmsizeError(f"overloaded: {request_rate:g} requests/s exceeds the {mu * dp:.3g} this deployment "
                               "serves; the queue grows without bound")
        # Little's law: in flight = arrival rate x time in system; the smallest batch that keeps up
        b = next((k for k in range(1, b_max + 1) if rate(k) >= lam and k >= lam * (t_p + output * step(k))), b_max)
        limit = "request_rate"
        rho = lam / mu
        # ASSUMES: waiting for a batch slot as an M/D/1 queue on the replica's request service time
        wait = rho / (2 * (1 - rho)) / mu
    t_d = step(b, prefill=False)
    read = decode_read_bytes(spec, weights, b) / n + b * mean_ctx * kv_gpu
    mem_bound = read / (bw * e_mem) >= forward_flops(spec, b, int(mean_ctx)) / (n * x * e_cmp)
    tpot = step(b)
    # ASSUMES: arrivals are uniform over a multi-step round, so a request waits (k − 1)/2 decode steps for it
    # (its p90: 0.9·(k − 1) steps)
    round_wait = (scheduler_steps - 1) / 2 * t_d
    # the replica runs one prefill at a time: an arrival waits for the prefills of the others ahead of it,
    # an M/D/1 queue on t_p loaded by the others' arrivals (a request rate: all of them; a fixed
    # concurrency of b: the other b − 1 requests, each returning once its previous request ends)
    # ASSUMES: arrivals as random as Poisson ones (closed-loop clients are less bursty: an upper bound)
    others = request_rate / dp if request_rate is not None else (b - 1) / (output * step(b))
    rho_p = min(others * t_p, 0.99)
    prefill_wait = rho_p / (2 * (1 - rho_p)) * t_p
    # the first token comes out of the iteration that carries the request's prompt: that pass, the other
    # b − 1 requests' decode tokens riding in it (their KV reads and GEMM rows) and the host's work
    ride = (mean_ctx * kv_gpu + st_gpu) / (bw * e_mem) + lin_tok / (n * x * e_cmp)
    first = t_p + (b - 1) * ride + shape["step_overhead_s"] + b * shape["seq_overhead_s"]
    ttft = first + wait + round_wait + prefill_wait
    out = dp * b / step(b)
    if request_rate is not None:  # a stable queue serves what arrives: λ requests/s of S_out tokens each
        out = request_rate * output
    # ASSUMES: the p90 of a request's TTFT adds ln(10) times the mean wait (an exponential tail), and its
    # TPOT the prefill of one more arrival inside its span
    return Serving(output_tokens_per_s=out, input_tokens_per_s=out * prompt / output, batch=b, batch_limit=limit,
                   ttft_s=ttft, tpot_s=tpot, ttft_p90_s=first + math.log(10) * (wait + prefill_wait) + round_wait * 1.8,
                   tpot_p90_s=tpot + t_p / output, prefill_s=t_p, step_s=t_d, kv_capacity_tokens=cap,
                   efficiency=e, path=path, bound="memory" if mem_bound else "compute", step_bytes=read,
                   output=output)
