"""Speed from first principles: roofline inference and FLOP-counted training time.

Inference: prefill is compute-bound (time = FLOPs / (GPUs · peak · MFU)), decode is
bandwidth-bound (each step reads the weights and the KV cache once: time = bytes / (bw · MBU)),
each step taking the larger of its compute and memory time (the roofline). Training: FLOPs per
token 6N + 12·L·s·d_attn (8N + 16·L·s·d_attn with full recomputation) at a stated MFU.

Symbols: N parameters doing matmuls per token (active; the input embedding is a lookup, not a
matmul), L layers, s sequence, d_attn = n_h·d_h, B batch, D tokens, X peak FLOP/s per GPU.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

from llmsize.errors import LlmsizeError
from llmsize.params import Term, count
from llmsize.spec import ModelSpec

# Published large runs: (what, MFU, source key). The default MFU is their median, rounded.
PUBLISHED_MFU: tuple[tuple[str, float, str], ...] = (
    ("PaLM 540B on 6144 TPU v4", 0.462, "chowdhery2022"),
    ("Gopher 280B", 0.325, "chowdhery2022"),
    ("Megatron-Turing NLG 530B", 0.302, "chowdhery2022"),
    ("Llama 3 405B, 8K seq, 8192 H100s", 0.43, "dubey2024"),
    ("Llama 3 405B, 8K seq, 16384 H100s", 0.41, "dubey2024"),
    ("Llama 3 405B, 131K seq, 16384 H100s", 0.38, "dubey2024"),
)
DEFAULT_MFU = 0.40  # median of PUBLISHED_MFU (0.302 ... 0.462), rounded
DEFAULT_PREFILL_MFU = 0.50  # ASSUMES: a large-batch prefill GEMM reaches about half of peak
DEFAULT_MBU = 0.70  # ASSUMES: decode kernels stream weights + KV at ~70% of peak bandwidth (databricks2023)


def _rate(name: str, v: float) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 < v <= 1:
        raise LlmsizeError(f"{name} must be in (0, 1], got {v!r}")
    return float(v)


@lru_cache(maxsize=256)
def matmul_params(spec: ModelSpec) -> int:
    """N: active parameters that do a multiply-add per token (the input embedding lookup excluded,
    unless it is tied to the head, where it is a matmul).

    Source: kaplan2020"""
    pc = count(spec)
    emb = next(t.value for t in pc.terms if t.name == "embeddings")
    return pc.active - (0 if spec.tie_word_embeddings else emb)


def train_flops_per_token(spec: ModelSpec, seq_len: int, *, recompute: bool = False) -> tuple[Term, ...]:
    """Training FLOPs per token, forward + backward (+ a second forward with full recomputation).

    C = 6N + 12·L·s·d_attn;  with recomputation C = 8N + 16·L·s·d_attn

    Source: chowdhery2022"""
    if seq_len < 1:
        raise LlmsizeError(f"sequence length must be positive, got {seq_len}")
    n, a = matmul_params(spec), spec.attention
    d_attn = a.num_heads * (a.head_dim + a.v_dim) // 2
    k = 8 if recompute else 6
    return (Term(name="weights", value=k * n, formula=f"{k}N", source="kaplan2020"),
            Term(name="attention", value=2 * k * spec.num_layers * seq_len * d_attn,
                 formula=f"{2 * k}·L·s·d_attn", source="chowdhery2022"))


@dataclass(frozen=True, slots=True, kw_only=True)
class TrainTime:
    flops_per_token: int
    total_flops: float
    seconds: float
    gpu_hours: float
    energy_kwh: float | None
    mfu: float
    achieved_flops_per_gpu: float
    terms: tuple[Term, ...]

    @property
    def days(self) -> float:
        return self.seconds / 86400


def train_time(spec: ModelSpec, *, tokens: float, gpus: int, peak_flops: float, seq_len: int,
               mfu: float = DEFAULT_MFU, recompute: bool = False, tdp_watts: float | None = None,
               pue: float = 1.0, goodput: float = 1.0) -> TrainTime:
    """Wall time, GPU-hours and energy of training on `tokens` tokens; `goodput` is the share of the wall
    time spent in training steps (1: none lost; the planner's runs use speedmodel.train.GOODPUT).

    T = D·C / (n·X·MFU·g);  GPU-hours = n·T/3600;  E = GPU-hours · TDP · PUE

    Source: narayanan2021"""
    mfu = _rate("MFU", mfu)
    if gpus < 1 or tokens <= 0 or peak_flops <= 0:
        raise LlmsizeError("training time needs gpus >= 1, tokens > 0 and a peak FLOP/s > 0")
    if pue < 1:
        raise LlmsizeError(f"PUE must be >= 1, got {pue}")
    terms = train_flops_per_token(spec, seq_len, recompute=recompute)
    c = sum(t.value for t in terms)
    total = float(tokens) * c
    seconds = total / (gpus * peak_flops * mfu * _rate("goodput", goodput))
    hours = gpus * seconds / 3600
    energy = hours * tdp_watts * pue / 1000 if tdp_watts else None
    return TrainTime(flops_per_token=c, total_flops=total, seconds=seconds, gpu_hours=hours, energy_kwh=energy,
                     mfu=mfu, achieved_flops_per_gpu=peak_flops * mfu, terms=terms)


def flops_for_gpu_hours(gpu_hours: float, *, peak_flops: float, mfu: float = DEFAULT_MFU,
                        goodput: float = 1.0) -> float:
    """Training FLOPs a GPU-hour budget buys: the inverse of `train_time`'s GPU-hours (which are
    D·C / (X·MFU) / 3600 whatever the GPU count), so `train_time(tokens=C_total / C, ...)` spends
    exactly `gpu_hours` on them.

    C_total = H · 3600 · X · MFU · g

    Source: narayanan2021"""
    mfu = _rate("MFU", mfu)
    if (isinstance(gpu_hours, bool) or not isinstance(gpu_hours, (int, float)) or not math.isfinite(gpu_hours)
            or gpu_hours <= 0):
        raise LlmsizeError(f"GPU-hours must be a positive finite number, got {gpu_hours!r}")
    if not peak_flops > 0:
        raise LlmsizeError(f"turning GPU-hours into FLOPs needs a peak FLOP/s > 0, got {peak_flops!r}")
    return float(gpu_hours) * 3600 * peak_flops * mfu * _rate("goodput", goodput)


def step_time(spec: ModelSpec, *, batch_tokens: int, gpus: int, peak_flops: float, seq_len: int,
              mfu: float = DEFAULT_MFU, recompute: bool = False) -> float:
    """Seconds for one optimizer step over `batch_tokens` tokens (global batch × sequence).

    t_step = B·s·C / (n·X·MFU)

    Source: narayanan2021"""
    return train_time(spec, tokens=batch_tokens, gpus=gpus, peak_flops=peak_flops, seq_len=seq_len,
                      mfu=mfu, recompute=recompute).seconds


def forward_share(recompute: bool) -> float:
    """Share of a training step's FLOPs in the forward pass: 2 of 6 (2N + 4·L·s·d_attn of 6N + 12·L·s·d_attn),
    2 of 8 with full recomputation (the recomputed forward runs inside the backward).

    Source: chowdhery2022"""
    return 2 / (8 if recompute else 6)


@dataclass(frozen=True, slots=True, kw_only=True)
class OffloadTime:
    """One optimizer step of one GPU with offloaded states, against the same step without offload."""

    compute_s: float  # m micro-batches of GPU compute, nothing offloaded
    step_s: float  # with the host-link transfers
    forward_s: float  # one micro-batch's forward: compute or parameter fetch, the longer
    backward_s: float  # one micro-batch's backward: compute, parameter fetch or gradient offload, the longest
    upload_s: float  # per step: the updated parameters back from the host, not overlapped
    host_step_s: float  # per step: the host's optimizer step, bound by host memory bandwidth, not overlapped
    link_bytes_per_s: float  # one direction of the host link

    @property
    def slowdown(self) -> float:
        return self.step_s / self.compute_s


def offload_step_time(*, micro_batch_s: float, micro_batches: int, forward_share: float, h2d_forward: int,
                      h2d_backward: int, d2h_backward: int, h2d_step: int, pcie_bw: float,
                      host_step_bytes: int = 0, host_bw: float | None = None) -> OffloadTime:
    """Step time of a GPU whose states are offloaded to the host (ZeRO-Offload / ZeRO-Infinity): each
    pass of each micro-batch takes the longer of its compute and its transfers (parameter prefetch and
    gradient offload overlap the pass); then the host's optimizer step (memory-bound: the states it
    reads and writes, `host_step_bytes` for the whole node, over the node's memory bandwidth) and the
    updated parameters' way back are on the critical path. The link is full duplex at half the
    catalogue's bidirectional PCIe figure each way. Not timed: the host's per-micro-batch gradient
    accumulation (overlapped with backward), contention of the node's GPUs for host memory bandwidth
    during transfers, NVMe reads and writes. So the result is a lower bound.

    B = pcie_bw / 2;  t_f = max(f·t_mb, H2D_f/B);  t_b = max((1−f)·t_mb, H2D_b/B, D2H_b/B)
    t_step = m·(t_f + t_b) + H_step/bw_host + H2D_step/B

    Source: ren2021"""
    if not (micro_batch_s > 0 and math.isfinite(micro_batch_s)) or micro_batches < 1 or not 0 < forward_share < 1:
        raise LlmsizeError("offload step time needs a positive micro-batch time, micro-batches >= 1 and a "
                           "forward share in (0, 1)")
    if not (pcie_bw and pcie_bw > 0):
        raise LlmsizeError("offload step time needs the GPU's PCIe bandwidth")
    link = pcie_bw / 2
    fwd = max(forward_share * micro_batch_s, h2d_forward / link)
    bwd = max((1 - forward_share) * micro_batch_s, h2d_backward / link, d2h_backward / link)
    up = h2d_step / link
    if host_step_bytes and not (host_bw and host_bw > 0):
        raise LlmsizeError("timing the host's optimizer step needs the host memory bandwidth")
    host = host_step_bytes / host_bw if host_step_bytes else 0.0
    return OffloadTime(compute_s=micro_batches * micro_batch_s, step_s=micro_batches * (fwd + bwd) + host + up,
                       forward_s=fwd, backward_s=bwd, upload_s=up, host_step_s=host, link_bytes_per_s=link)


# -- inference -------------------------------------------------------------------------------------
def forward_flops(spec: ModelSpec, new_tokens: int, context: int) -> float:
    """Forward FLOPs for `new_tokens` tokens attending to `context` tokens on average (causal).

    C_fwd = 2N·n + 4·L·d_attn·n·ctx

    Source: kaplan2020"""
    return 2.0 * matmul_params(spec) * new_tokens + attention_flops(spec, new_tokens, context)


def attention_flops(spec: ModelSpec, new_tokens: int | float, context: int | float) -> float:
    """The attention products' share of `forward_flops` (Q·K^T and P·V), which run on their own path.

    C_attn = 4·L·d_attn·n·ctx

    Source: kaplan2020"""
    a = spec.attention
    d_attn = a.num_heads * (a.head_dim + a.v_dim) // 2
    return 4.0 * spec.num_layers * d_attn * new_tokens * context


@dataclass(frozen=True, slots=True, kw_only=True)
class ServeSpeed:
    """Roofline speed of one model replica (TP × PP GPUs) serving `batch` sequences."""

    batch: int
    prompt_len: int
    output_len: int
    ttft_s: float  # time to first token: prefill of the whole batch
    tpot_s: float  # time per output token (one decode step) at the mean context
    prefill_tokens_per_s: float
    decode_tokens_per_s: float  # all sequences together
    decode_bound: str  # "memory" or "compute"
    step_bytes: int  # bytes one decode step reads on one GPU

    @property
    def e2e_s(self) -> float:
        return self.ttft_s + self.tpot_s * max(self.output_len - 1, 0)


def serve_speed(spec: ModelSpec, *, weights_per_gpu: int, kv_bytes_per_token_gpu: float, tp: int, pp: int,
                peak_flops: float, bandwidth: float, batch: int, prompt_len: int, output_len: int,
                prefill_mfu: float = DEFAULT_PREFILL_MFU, mbu: float = DEFAULT_MBU) -> ServeSpeed:
    """Prefill and decode speed of a replica: TP splits each step's FLOPs and bytes over t GPUs;
    PP stages run one after another for one batch (PP adds memory, not single-batch speed).

    TTFT = C_fwd(B·S_in, S_in/2) / (t·X·MFU_p)
    TPOT = max( p·(W_gpu + KV_tok·B·S̄) / (bw·MBU),  C_fwd(B, S̄) / (t·X·MFU_p) ),  S̄ = S_in + S_out/2
    tokens/s (decode) = B / TPOT

    Source: pope2022"""
    prefill_mfu, mbu = _rate("prefill MFU", prefill_mfu), _rate("MBU", mbu)
    if batch < 1 or prompt_len < 1 or output_len < 1:
        raise LlmsizeError("batch, prompt and output lengths must be positive")
    if peak_flops <= 0 or bandwidth <= 0:
        raise LlmsizeError("serving speed needs the GPU's peak FLOP/s and memory bandwidth")
    prefill = forward_flops(spec, batch * prompt_len, prompt_len // 2) / (tp * peak_flops * prefill_mfu)
    mean_ctx = prompt_len + output_len // 2
    step_bytes = round(weights_per_gpu + kv_bytes_per_token_gpu * batch * mean_ctx)
    mem_t = pp * step_bytes / (bandwidth * mbu)
    comp_t = forward_flops(spec, batch, mean_ctx) / (tp * peak_flops * prefill_mfu)
    tpot = max(mem_t, comp_t)
    return ServeSpeed(batch=batch, prompt_len=prompt_len, output_len=output_len, ttft_s=prefill, tpot_s=tpot,
                      prefill_tokens_per_s=batch * prompt_len / prefill, decode_tokens_per_s=batch / tpot,
                      decode_bound="memory" if mem_t >= comp_t else "compute", step_bytes=step_bytes)
