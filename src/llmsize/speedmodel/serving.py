"""Continuous-batching serving of one deployment: iterations of decode tokens with the prompts that ride
along (or, for an engine that runs prompts as passes of their own, decode steps stalled by those passes:
``speedmodel.prompt_passes``), batch bounded by concurrency, the engine's max sequences and KV capacity,
and the request-rate queue (split from ``speedmodel.predict``, whose byte and rate helpers it uses).

serve    tokens/s = dp · B / t_it,  t_it one iteration of B decode + B·S_in/S_out prompt tokens,
         B = min(max_seqs, KV capacity / (S_in + S_out))
GEMMs    max(t_read, t_math) + u·min(t_read, t_math)  (u of the shorter is not hidden under the longer:
         `kernels.gemm_s`); a request's wait for a batch slot: `queueing.slot_wait_s`

Source: agrawal2024
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from llmsize.errors import DoesNotFit, LlmsizeError, Overloaded
from llmsize.perf import attention_flops, forward_flops
from llmsize.parallel import kv_fraction
from llmsize.spec import ModelSpec
from llmsize.speedmodel.comm import ep_serve_alltoalls_s, tp_serve_allreduces_s
from llmsize.speedmodel.efficiency import (Efficiency, attention_path, efficiency, engine_default, engine_name,
                                           recorded, seen, serve_path, serve_shape)
from llmsize.speedmodel.kernels import gemm_s, kv_read_factor
from llmsize.speedmodel.prompt_passes import separate_passes, static_batch_timing
from llmsize.speedmodel.queueing import slot_wait_s
from llmsize.speedmodel.predict import (UBATCH, _bw, _peak, decode_attention_flops, decode_read_bytes, expert_bytes,
                                        host_floor_s, kv_cache_copy_bytes,
                                        kv_bytes_attended,
                                        kv_bytes_per_token,
                                        layer_overhead_s, state_bytes, weight_bytes, weight_read_bytes)


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
    prompt_compute_s: float  # the compute of one prompt in it (each further prompt of a pass adds this)
    step_s: float  # one decode step of the whole batch
    kv_capacity_tokens: int
    efficiency: Efficiency
    path: str  # the GEMMs' tensor-core path
    bound: str  # what bounds a decode step: memory, compute, or host (an engine issuing kernels from Python)
    step_bytes: float  # bytes one GPU reads in a decode step

    @property
    def e2e_s(self) -> float:
        return self.ttft_s + self.tpot_s * max(self.output - 1, 0)

    output: int = 1
    attention_path: str = ""  # the path attention's products run on (`efficiency.attention_path`)
    mixed_prefill: bool = True  # new prompts ride in the running decodes' pass (False: a pass of their own)
    static_batch: bool = False  # a fixed batch: its prompts in one pass, then its decode steps (generate())


def serve(spec: ModelSpec, gpu: Any, *, engine: str, weights: str, kv_dtype: str | None, prompt: int, output: int,
          concurrency: int | str, request_rate: float | None = None, tp: int = 1, pp: int = 1, dp: int = 1,
          ep: int = 1,
          gpu_memory_utilization: float = 0.9, serve_efficiency: float | None = None, mbu: float | None = None,
          prefill_efficiency: float | None = None, scheduler_steps: int = 1, max_seqs: int | None = None,
          mixed_prefill: bool = True, grouped_attention: bool = True, kv_bound: bool = True,
          compiled_prompt: bool = False, kv_free_bytes: int | None = None, static_batch: bool = False) -> Serving:
    """Throughput and latency under continuous batching with chunked prefill: one iteration carries the
    batch's decode tokens and the prompts of the requests that replace the finishing ones, so throughput
    counts prefill time.

    B = min(C, max_seqs, K/(S_in + S_out));  one iteration: B decode tokens and P = B·S_in/S_out prompt tokens
    t_it = p·[ov(W_read(m)/n/(bw·E), 2N·(m + P_m)/(n·X·E·c)) + m·S̄·KV/n/(bw·E)
            + C_attn(P_m)/(n·X_a·E·c_a)] + t_TP(B + P) + p'·t_0 + B·t_s + L·t_l,  S̄ = S_in + S_out/2
    (m = max(B/p, 1) the sequences of each of the p micro-batches a PP stage runs in turn, reading its
    layers' weights for each, P_m = P·m/B; t_d the same with P = 0; c: GEMM efficiency relative to E;
    X_a, c_a: the peak and relative efficiency of attention's path, `efficiency.attention_path`;
    ov(a, b) = max(a, b) + u·min(a, b), `gemm_s`;
    t_TP the all-reduces, `comm.tp_serve_allreduces_s`, and under expert parallelism over ep data-parallel
    ranks the MoE layers' all-to-alls, `comm.ep_serve_alltoalls_s`, with each GPU holding and reading E/ep
    of the routed experts for the tokens of all ep ranks, `predict.decode_read_bytes`;
    t_0, t_s, t_l: fixed work per micro-batch, per running sequence and per layer; p' = min(p, B) micro-batches
    an iteration schedules under PP, 1 without it and for llama.cpp's layer split)
    out tokens/s = min(dp·B, C)/t_it (C requests over dp replicas of at most B = ⌈C/dp⌉ each);
    TPOT = t_it with the prompts of the B − 1 other clients riding, (B − 1)·S_in/S_out (at a request rate all
    B: arrivals do not wait for the request to end)
    t_p = max(W_read/n/(bw·E), 2N·S_in/(n·X·E·c) + C_attn(S_in, S_in/2)/(n·X_a·E·c_a))·(k + p − 1)/k
          + t_TP(S_in) + L·t_pl  (the prompt's own pass through the p pipeline stages; k = 1, or llama.cpp's
          ⌈S_in/n_ubatch⌉ ubatches it pipelines; t_pl that of a compiled engine's pass with `compiled_prompt`);
    an engine that issues its kernels from Python (transformers) takes at least L·t_h for either pass
    (`predict.host_floor_s`)
    TTFT = t_p + (B − 1)·(S̄·KV/n/(bw·E) + 2N/(n·X·E·c)) + p'·t_0 + B·t_s + L·t_l + (k − 1)/2·t_d
           + ρ_p/(2(1 − ρ_p))·t_1 + P_busy·t_it/(2p_s) (+ the wait for a batch slot at a request rate, `slot_wait_s`)
    (P_busy: that an arrival finds an iteration running, whose end it waits for: 1 with B − 1 > 0 closed-loop
    clients, 1 − exp(−λ·(t_p + S_out·t_it)) at a request rate λ)
    (k: decode steps an engine runs per scheduling round, vLLM's --num-scheduler-steps; an arriving request
    waits on average for half of the round in progress before its prefill is scheduled; ρ_p = λ_o·t_1
    the share of time the replica's first pipeline stage spends on the other requests' prefills, each
    holding it t_1 = t_p/p_s, and a micro-batch entering it every t_it/p_s: p_s = p, or 1 for llama.cpp,
    which takes the next batch only once a pass has left its last GPU)
    An engine that runs each prompt as a pass of its own (`mixed_prefill` False: SGLang, vLLM's V0 engine
    without chunked prefill, `speedmodel.scheduling`): TTFT, TPOT and (for B clients) throughput from
    `prompt_passes.separate_passes` (TPOT = t_d/(1 − ρ), ρ the share of time the decodes stall for prompt
    passes of k prompts each); t_it adds the iteration's prompt FLOPs to its decode time instead of
    overlapping them (the Little's-law batch at a request rate)

    `mbu` / `prefill_efficiency` replace E in the memory / compute terms (the user's overrides); `max_seqs`
    the engine's cap on sequences batched at once where the run set it (vLLM's --max-num-seqs), else the
    engine's default; `kv_bound` False times the batch asked for whatever the KV capacity computed here
    (a measured run's batch, which did fit its memory).

    Source: agrawal2024"""
    if prompt < 1 or output < 1 or tp < 1 or pp < 1 or dp < 1:
        raise LlmsizeError("serving needs prompt, output, tp, pp and dp >= 1")
    if isinstance(ep, bool) or not isinstance(ep, int) or ep < 1:
        raise LlmsizeError(f"expert parallelism must be a whole number >= 1, got {ep!r}")
    if ep > 1 and (spec.moe is None or ep > spec.moe.num_experts):
        raise LlmsizeError(f"expert parallelism {ep} needs a mixture-of-experts model with at least {ep} routed "
                           f"experts; {spec.name} has {spec.moe.num_experts if spec.moe else 'none'}")
    if isinstance(scheduler_steps, bool) or not isinstance(scheduler_steps, int) or not 1 <= scheduler_steps <= 1024:
        raise LlmsizeError(f"scheduler steps must be an integer in 1..1024, got {scheduler_steps!r}")
    n = tp * pp
    path = serve_path(engine, weights, gpu)
    with recorded():  # what is looked up here is reported (`recorded`) only where it is used
        e = efficiency(engine, gpu, "serve", serve_efficiency, path)
        used = [e]
        e_mem_d, e_cmp_d = e.value, e.value
        if serve_efficiency is None and e.key.startswith("*/"):
            # no serving rows for this engine: its own decode and prefill efficiencies, where it has them
            ed, epf = efficiency(engine, gpu, "decode", None, path), efficiency(engine, gpu, "prefill", None, path)
            if not ed.key.startswith("*/"):
                e, e_mem_d, e_cmp_d = ed, ed.value, epf.value
                used = [ed, epf]
    for u in used:
        seen(u)
    x, bw = _peak(gpu, path), _bw(gpu)
    e_mem = mbu if mbu is not None else e_mem_d
    shape = serve_shape()
    # ASSUMES: an engine's GEMMs reach compute_rel times the efficiency its memory-bound steps reach on
    #          bandwidth (compute_rel_fp8 / compute_rel_fp4 on the FP8 / FP4 paths, whose GEMMs reach less of
    #          their doubled peaks); one ratio per path for every engine and GPU, fitted (scripts/fit_speed.py)
    rel = shape.get(f"compute_rel_{path}", shape["compute_rel"])
    e_cmp = prefill_efficiency if prefill_efficiency is not None else min(e_cmp_d * rel, 1.0)
    # attention's products run on their own path (`attention_path`: 16 bits beside FP8/FP4 GEMMs unless the
    # engine attends an FP8 cache in FP8), at that path's share of the efficiency
    a_path = attention_path(engine, path, kv_dtype, gpu)
    x_a = _peak(gpu, a_path)
    e_att = prefill_efficiency if prefill_efficiency is not None else \
        min(e_cmp_d * shape.get(f"compute_rel_{a_path}", shape["compute_rel"]), 1.0)
    # expert parallelism over ep data-parallel ranks: each holds its E/ep share of the routed experts and
    # all of the rest (attention, dense layers, shared experts, embeddings): W − W_exp·(1 − 1/ep)
    ep_saved = expert_bytes(spec, weights) * (1 - 1 / ep)
    w_gpu = (weight_bytes(spec, weights) - ep_saved) / n
    # a GPU holds 1/p of the layers and its TP share of each layer's KV: its KV heads, at least one, or the
    # whole latent under MLA, which every TP rank keeps (`parallel.kv_fraction`)
    kv_share = kv_fraction(spec, tp) / pp
    kv_gpu = kv_bytes_per_token(spec, kv_dtype or "bf16") * kv_share
    mean_ctx = prompt + output / 2
    # the KV bytes a decode step reads for one sequence at the mean context (a sliding-window layer attends
    # its window only: `predict.kv_bytes_attended`; more than stored under a kernel that does not group
    # query heads: `kernels.kv_read_factor`)
    seq_read = kv_bytes_attended(spec, mean_ctx, kv_dtype) * kv_share \
        * kv_read_factor(spec, grouped_attention, shape["ungrouped_kv_miss"]) \
        + kv_cache_copy_bytes(spec, engine, mean_ctx, kv_dtype) * kv_share  # transformers' cache grows by copy
    st_gpu = state_bytes(spec) / n  # fixed per sequence (state-space layers)
    # one sequence's decode attention: its KV reads or, where longer, its math (absorbed MLA reaches ~480
    # FLOP per cached byte, past every GPU's ridge point; grouped-query attention 4·group per element)
    seq_attn = decode_attention_flops(spec, mean_ctx) / n
    # the bytes a GPU has for KV cache and state: what the engine's own memory rule leaves
    # (`planner.fit.kv_free_bytes`: vLLM's, TensorRT-LLM's or SGLang's), else u·usable less the weights
    free = gpu.usable * gpu_memory_utilization - w_gpu if kv_free_bytes is None else kv_free_bytes
    cap = int(free // kv_gpu) if free > 0 and kv_gpu else 0
    # one request's KV at its full length (a sliding-window layer holds its window) and recurrent state
    seq_kv = kv_bytes_attended(spec, prompt + output, kv_dtype) * kv_share
    per_req = seq_kv + st_gpu
    fits = int(free // per_req) if free > 0 and per_req else 0
    if fits < 1 and kv_bound:
        windowed = seq_kv < (prompt + output) * kv_gpu
        room = f"room for {max(cap, 0):,} KV tokens" if not st_gpu and not windowed \
            else f"{max(free, 0):,.0f} B for KV cache and state"
        need = f"{prompt + output:,}" if not st_gpu and not windowed \
            else f"{per_req:,.0f} B ({st_gpu:,.0f} B of it recurrent state)"
        wb = weight_bytes(spec, weights) - ep_saved
        if engine_name(engine) == "llama.cpp":  # it splits layers, weights and KV alike, over its GPUs
            more = next((m for m in (2, 4, 8) if gpu.usable * gpu_memory_utilization - wb / (n * m)
                         >= (seq_kv + st_gpu) / m), None)
            hint = f"--gpus {n * more} --pp {pp * more} (llama.cpp's layer split) holds one request" if more \
                else f"not even {n * 8} GPUs"
        else:
            more = next((m for m in (2, 4, 8) if gpu.usable * gpu_memory_utilization - wb / (n * m)
                         >= seq_kv / kv_share * kv_fraction(spec, tp * m) / pp + st_gpu / m),
                        None)  # the smallest wider TP that holds it
            hint = f"--tp {tp * more} holds one request" if more else f"not even --tp {tp * 8}"
        hint += " (or a smaller --weights format)"
        raise DoesNotFit(f"does not fit: {gpu.name} × {n} leaves {room}, one request needs {need}; {hint}")
    if max_seqs is not None and (isinstance(max_seqs, bool) or not isinstance(max_seqs, int) or max_seqs < 1):
        raise LlmsizeError(f"max sequences must be a positive integer, got {max_seqs!r}")
    seq_cap = max_seqs or engine_default(engine, "max_seqs", gpu)
    limits = {**({"kv": fits} if kv_bound else {}), **({"max_seqs": seq_cap} if seq_cap else {})}
    if concurrency != "max":
        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
            raise LlmsizeError(f"concurrency must be a positive integer or 'max', got {concurrency!r}")
        limits["concurrency"] = math.ceil(concurrency / dp)
    if not limits:
        raise LlmsizeError("a batch not bounded by the KV cache needs a concurrency or max sequences")
    limit = min(limits, key=lambda k: (limits[k], k != "concurrency"))
    b_max = max(1, limits[limit])
    # TP all-reduces per layer are added to each phase (not overlapped); PP stages pass activations only

    # ASSUMES: NCCL / custom all-reduce kernels reach link_efficiency of the link's rate on the message
    #          sizes of serving (a few MB) over NVLink / Infinity Fabric, and pcie_efficiency of it between
    #          cards with no such link (peer traffic through PCIe switches and the CPU's root complex);
    #          one fraction per link kind for every engine and GPU (fitted)
    share = shape["link_efficiency"] if gpu.interconnect_bw or n > 8 else shape["pcie_efficiency"]

    def comm(tokens: float) -> float:  # TP all-reduces (and EP all-to-alls) of one pass over `tokens` tokens
        return tp_serve_allreduces_s(spec, gpu, tp, tokens, latency_s=shape["allreduce_latency_s"], share=share) \
            + ep_serve_alltoalls_s(spec, gpu, ep, tokens / tp, latency_s=shape["allreduce_latency_s"], share=share)

    # one request's prompt alone: a pass that reads the weights once and does the prompt's FLOPs; under PP
    # its stages run one after another, each on 1/pp of the layers (the wait in a pipeline of one sequence),
    # except where the engine pipelines the prompt's own micro-batches over the stages: llama.cpp splits a
    # batch into ubatches of n_ubatch tokens (`predict.UBATCH`) and, over a layer split with every layer on
    # the GPUs, its scheduler overlaps them (pipeline_parallel in src/llama-context.cpp): k ubatches take
    # (k + p − 1) stage steps of 1/k of the prompt each
    # ASSUMES: each ubatch's stage step is compute-bound (512 tokens reuse every weight 512 times)
    llamacpp = engine_name(engine) == "llama.cpp"
    k_ub = math.ceil(prompt / UBATCH) if llamacpp else 1
    # ASSUMES: a prompt's pass runs outside the engine's CUDA graphs (vLLM and SGLang capture decode batches
    #          only), so each layer pays its kernel launches and collectives' setup on the host, a fixed cost
    #          per layer the same for every engine that issues them so and every GPU (fitted)
    lin_tok = forward_flops(spec, 1, 0)  # GEMM FLOPs of one token (2N)
    attn_p = attention_flops(spec, prompt, prompt // 2)  # attention FLOPs of one request's prompt
    t_c = lin_tok * prompt / (n * x * e_cmp) + attn_p / (n * x_a * e_att)  # the prompt's compute
    # an engine that issues each layer's kernels from Python (transformers' eager generate()) cannot run a
    # pass faster than its host issues them (`predict.host_floor_s`; 0 for the others)
    floor = host_floor_s(spec, engine, weights)
    # ASSUMES: under expert parallelism a prompt's expert GEMMs run on the ranks holding them, but its pass is
    #          charged all of its FLOPs on its own rank (an upper bound for TTFT; throughput splits them evenly)
    t_read = (weight_read_bytes(spec, weights) - ep_saved) / n / (bw * e_mem)
    # ASSUMES: a prompt's pass run as one compiled engine (TensorRT-LLM's TensorRT backend, `compiled_prompt`)
    #          pays its own fixed cost per layer, fitted apart from the engines that issue each layer's
    #          kernels from the host
    t_pl = shape["prompt_layer_overhead_compiled_s" if compiled_prompt else "prompt_layer_overhead_s"]
    t_p = max(max(t_read, t_c) * (k_ub + pp - 1) / k_ub + comm(prompt) + spec.num_layers * t_pl, floor)

    # ASSUMES: an iteration's GEMMs (the batch's decode rows and the prompt rows riding along) overlap their
    #          weight loads with their math only in part: a share u of the shorter of the two stays exposed,
    #          the same for every engine and GPU (fitted). A prompt's own pass keeps the roofline: charged
    #          there too, the fit's 128-token TTFTs (TensorRT-LLM v0.5 on L40S and A100, SGLang's ShareGPT)
    #          came out 13-24 points slower than measured (docs/speed.md)
    unhidden = shape["gemm_unhidden"]
    # ASSUMES: each layer of a pass costs a fixed time beyond its roofline (kernel launches and the tail of
    #          small GEMMs), the same for every serving engine and GPU (fitted); llama.cpp's server steps are
    #          its decode steps, which pay the decode fit's cost per layer for the GPU's class, less what its
    #          CUDA graphs save (`predict.layer_overhead_s`: today's build)
    layer_fixed = spec.num_layers * (layer_overhead_s(gpu, engine) if llamacpp
                                     else shape["layer_overhead_s"])
    # ASSUMES: the engine's host work per iteration (scheduling, sampling, detokenising) is a fixed part per
    #          micro-batch and a part per running sequence, the same for every engine (fitted). Under PP each
    #          of the p micro-batches in flight (of the b, with fewer sequences than stages) is scheduled as an
    #          iteration of its own (vLLM's and TensorRT-LLM's PP executors, SGLang's PP loop), so a cycle
    #          through the stages pays t_0 min(p, b) times; llama.cpp's layer split runs one batch through its
    #          GPUs: once
    def host_s(b: int) -> float:  # an iteration's host work at b sequences in flight: p'·t_0 + b·t_s + L·t_l
        micro_batches = 1 if llamacpp else min(pp, b)
        return micro_batches * shape["step_overhead_s"] + b * shape["seq_overhead_s"] + layer_fixed

    def step(b: int, prefill: bool = True, riders: float | None = None) -> float:
        # one iteration of continuous batching: b decode tokens and, at steady state, the prompts of the
        # b/S_out requests that replace those finishing: b·S_in/S_out prefill tokens ride in the same pass
        # (`riders` in place of b: the requests whose prompts ride, as one request's decode sees them)
        p = (b if riders is None else riders) * prompt / output if prefill else 0.0
        # under PP the batch runs as p micro-batches of b/p sequences, one per stage at a time; each stage
        # reads its layers' weights once per micro-batch, so a step is p stage passes of b/p sequences (of
        # one, with fewer sequences than stages, when only b stages have work):
        # t = p·t_stage(max(b/p, 1)); one micro-batch a step without PP. llama.cpp's layer split runs a
        # decode batch (one ubatch) through its GPUs one after another: p stage passes of all b sequences
        mb = float(b) if llamacpp else max(b / pp, 1.0)
        pm = p * mb / b
        read = decode_read_bytes(spec, weights, math.ceil(mb), ep) / n / (bw * e_mem)
        if mixed_prefill:
            gemm = gemm_s(read, lin_tok * (mb + pm) / (n * x * e_cmp), unhidden)
        else:  # the prompts' passes of their own (batched together) cannot hide under the decodes' weight reads
            gemm = gemm_s(read, lin_tok * mb / (n * x * e_cmp), unhidden) + lin_tok * pm / (n * x * e_cmp)
        kv = mb * (max(seq_read / (bw * e_mem), seq_attn / (x_a * e_att)) + st_gpu / (bw * e_mem))
        att = attn_p * pm / prompt / (n * x_a * e_att)
        return max((gemm + kv + att) * pp + comm(b + p) + host_s(b), floor)

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
            raise Overloaded(f"overloaded: {request_rate:g} requests/s exceeds the {mu * dp:.3g} this deployment "
                               "serves; the queue grows without bound")
        # Little's law: in flight = arrival rate x time in system; the smallest batch that keeps up
        b = next((k for k in range(1, b_max + 1) if rate(k) >= lam and k >= lam * (t_p + output * step(k))), b_max)
        limit = "request_rate"
        # a request waits for a batch slot only while all b_max are taken: b_max servers each holding a
        # request for its time in the system at the operating batch (`slot_wait_s`)
        wait = slot_wait_s(lam, b_max, t_p + output * step(b))
        if math.isinf(wait):  # every slot busy for longer than arrivals leave them: prefill included, unstable
            raise Overloaded(f"overloaded: {request_rate:g} requests/s keep all {b_max:,} batch slots busy (each "
                             f"held {t_p + output * step(b):.3g} s, prefill included); the queue grows without "
                             "bound")
    t_d, t_it = step(b, prefill=False), step(b)
    read = decode_read_bytes(spec, weights, b, ep) / n + b * seq_read
    mem_bound = read / (bw * e_mem) >= lin_tok * b / (n * x * e_cmp) \
        + attention_flops(spec, b, int(mean_ctx)) / (n * x_a * e_att)
    # ASSUMES: arrivals are uniform over a multi-step round, so a request waits (k − 1)/2 decode steps for it
    # (its p90: 0.9·(k − 1) steps)
    round_wait = (scheduler_steps - 1) / 2 * t_d
    # a stable queue serves what arrives (λ requests/s of S_out tokens each); else the batch's iterations
    # C requests over dp replicas hold ⌈C/dp⌉ each at most: with fewer than dp·b in flight (C < dp, or dp not
    # dividing C) only C are served, so the deployment's rate is C of the dp·b the replicas could hold
    # ASSUMES: a replica holding b − 1 steps as fast as one holding b (an upper bound on its step time)
    held = min(1.0, concurrency / (dp * b)) if concurrency != "max" and request_rate is None else 1.0
    out = request_rate * output if request_rate is not None else dp * b * held / t_it
    if static_batch and request_rate is None:
        # a fixed batch (transformers' generate()): the b prompts as one pass, then S_out steps of the b
        # sequences; the next batch starts when the whole batch ends (`prompt_passes.static_batch_timing`)
        t_pb = max(max(t_read, t_c * b) * (k_ub + pp - 1) / k_ub + comm(b * prompt) + spec.num_layers * t_pl, floor)
        pt = static_batch_timing(t_batch_prompt=t_pb, t_d=t_d, output=output, b=b)
        tpot, ttft, ttft_p90 = pt.tpot_s, pt.ttft_s, pt.ttft_p90_s
        out = dp * pt.requests_per_s * output * held
    elif mixed_prefill:
        # the replica runs one prefill at a time: an arrival waits for the prefills of the others ahead of it,
        # an M/D/1 queue loaded by the others' arrivals (a request rate: all of them; a fixed concurrency of b:
        # the other b − 1 requests, each returning once its previous request ends). Its service time is how
        # long one prefill holds the first pipeline stage, t_p/p: under PP the next prompt enters stage 1 as
        # the last leaves it (the engines' micro-batches); llama.cpp runs a prompt's whole llama_decode call
        # through its layer split before it takes the next: t_p
        # ASSUMES: arrivals as random as Poisson ones (closed-loop clients are less bursty: an upper bound)
        others = request_rate / dp if request_rate is not None else (b - 1) / (output * t_it)
        stages = 1 if llamacpp else pp  # stage slots a cycle of the pipeline offers
        hold = t_p / stages
        rho_p = min(others * hold, 0.99)
        prefill_wait = rho_p / (2 * (1 - rho_p)) * hold
        # the first token comes out of the iteration that carries the request's prompt: that pass, the other
        # b − 1 requests' decode tokens riding in it (their KV reads and GEMM rows) and the host's work
        ride = max(seq_read / (bw * e_mem), seq_attn / (x_a * e_att)) + st_gpu / (bw * e_mem) \
            + lin_tok / (n * x * e_cmp)
        first = t_p + (b - 1) * ride + host_s(b)
        # an arrival that finds others running waits for the iteration in progress to end: half of one on
        # average (arrivals uniform over it). With b − 1 other closed-loop clients someone always runs; at a
        # request rate, with the chance that at least one of the λ·(t_p + S_out·t_it) requests in flight
        # (a Poisson number) is there. Under PP a micro-batch enters the first stage every t_it/p: the
        # arrival waits for the next of those
        in_flight = request_rate / dp * (t_p + output * t_it) if request_rate is not None else b - 1
        busy = (1 - math.exp(-in_flight)) if request_rate is not None else float(b > 1)
        residual = busy * t_it / stages / 2
        # a request's own tokens ride beside the others' prompts only: b − 1 closed-loop clients' (its own
        # prompt came before its first token, in TTFT), or all arrivals' at a request rate, which do not wait
        # for it to end (one client decodes with no prompt beside it: TPOT = t_d)
        tpot = step(b, riders=b if request_rate is not None else b - 1)
        ttft = first + wait + round_wait + prefill_wait + residual
        # (the residual's p90: 0.9 of an iteration, arrivals uniform over it)
        ttft_p90 = first + math.log(10) * (wait + prefill_wait) + round_wait * 1.8 + busy * 0.9 * t_it / stages
    else:
        # the prompt runs as a pass of its own (with the others that arrived meanwhile) once what is running
        # ends; the running decodes stall through every prompt pass (`prompt_passes.separate_passes`)
        pt = separate_passes(t_d=t_d, t_p=t_p, t_c=t_c, b=b, output=output,
                             fixed_s=shape["step_overhead_s"] + shape["seq_overhead_s"],
                             request_rate=request_rate / dp if request_rate is not None else None,
                             round_wait=round_wait, wait=wait)
        tpot, ttft, ttft_p90 = pt.tpot_s, pt.ttft_s, pt.ttft_p90_s
        if request_rate is None:  # b clients, each back as soon as its request ends
            out = dp * pt.requests_per_s * output * held
    # ASSUMES: the p90 of a request's TTFT adds ln(10) times the mean wait (an exponential tail), and its
    # TPOT the prefill of one more arrival inside its span (none for a lone client)
    return Serving(output_tokens_per_s=out, input_tokens_per_s=out * prompt / output, batch=b, batch_limit=limit,
                   ttft_s=ttft, tpot_s=tpot, ttft_p90_s=ttft_p90,
                   tpot_p90_s=tpot + (t_p / output if request_rate is not None or b > 1 else 0.0), prefill_s=t_p,
                   prompt_compute_s=t_c, step_s=t_d,
                   kv_capacity_tokens=cap,
                   efficiency=e, path=path, step_bytes=read,
                   bound="host" if floor and t_d <= floor else "memory" if mem_bound else "compute",
                   output=output, mixed_prefill=mixed_prefill, attention_path=a_path,
                   static_batch=static_batch and request_rate is None)
