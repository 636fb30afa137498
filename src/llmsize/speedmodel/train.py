"""Training rate of one setup, with MFU as published: model FLOPs (6N plus attention) over wall time.

C_model = 6N + 12·L·s·d_attn  (what MFU and "model TFLOP/s" count)
C_hw    = C_model + recomputation:  full 2N + 4·L·s·d_attn, selective 4·L·s·d_attn (attention core)
tokens/s/GPU = bubble / (C_w/(X·E) + C_a/(X·E·a)),  E = E_sat · x/(x + x½) · d/(d + d½)
(routed experts: x_e = ep·(b·s/(c·t))·k/E rows per expert GEMM at x½_e)
(x tokens per micro-batch, d hidden width, a the attention kernels' share of the GEMM efficiency)
bubble: 1F1B m/(m + p − 1); interleaved (v virtual stages) m/(m + (p − 1)/v); zero-bubble 1
pipeline stages: the last also holds the output layer, the others wait for it: + (p − 1)·t_head per token

E_train is an efficiency of compute (the bubble is applied on top, never inside it), derived from the
calibration rows with each row's own bubble divided out (scripts/fit_speed.py).

Source: narayanan2021
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from llmsize.errors import LlmsizeError
from llmsize.perf import matmul_params
from llmsize.spec import ModelSpec
from llmsize.speedmodel.comm import tp_layer_allreduces_s, train_stage_comm_s
from llmsize.speedmodel.efficiency import Efficiency, efficiency, train_path, train_shape

RECOMPUTE = ("none", "selective", "full")
# GEMM-shape terms of the training efficiency (catalog/efficiency.toml [train], fitted by
# scripts/fit_speed.py over the training rows; docs/speed.md): a GPU reaches half its saturated
# efficiency at x½ tokens per micro-batch and at a hidden width of d½ (a routed expert's grouped GEMM at
# x½_e rows per expert, fitted on the MoE rows alone); attention kernels run at a share
# `attention_rel` of the GEMM efficiency.
SCHEDULES = ("1f1b", "interleaved", "zero-bubble")
# ASSUMES: an interleaved schedule whose source does not give its virtual stages splits each pipeline
# rank's layers into chunks of this many layers. NeMo's published H100 layouts use 1-2 layers per chunk
# (Llama 2 13B/70B, Nemotron 22B/340B: 1; GPT-3 175B, Llama 3 70B, Llama 3.1 405B: 2 — the nemo2407-*
# and mbridge2511-* rows of tests/data/speed_calib.jsonl).
LAYERS_PER_VIRTUAL_STAGE = 1


_SIZES: dict[int, tuple[ModelSpec, int, int]] = {}  # id(spec) -> (spec, matmul params, all params)


def _sizes(spec: ModelSpec) -> tuple[int, int]:
    """(parameters in matmuls, all parameters) of `spec`, remembered by identity: a spec's hash walks its
    whole tree, and the planner asks for the same spec's sizes thousands of times."""
    hit = _SIZES.get(id(spec))
    if hit is None or hit[0] is not spec:
        from llmsize.params import count

        if len(_SIZES) > 64:
            _SIZES.clear()
        hit = _SIZES[id(spec)] = (spec, matmul_params(spec), count(spec).total)
    return hit[1], hit[2]


def _attn(spec: ModelSpec, seq: int) -> int:
    """Forward attention-score FLOPs per token, causal-unmasked as MFU counts them: 4·L·s·d_attn / 2·2."""
    a = spec.attention
    return 2 * spec.num_layers * seq * (a.num_heads * (a.head_dim + a.v_dim) // 2)


def routed_expert_params(spec: ModelSpec) -> int:
    """Routed-expert parameters one token multiplies by (top-k experts in every MoE layer); 0 for a
    dense model. Their GEMMs see only the tokens routed to each expert.

    N_e = L_moe · k · (3 gated | 2 plain) · d · f_e

    Source: lepikhin2021"""
    m = spec.moe
    if m is None:
        return 0
    per = (3 if m.expert_kind == "gated" else 2) * spec.hidden_size * m.expert_intermediate_size
    return sum(spec.moe_layers) * m.top_k * per


def flops_per_token(spec: ModelSpec, seq: int, recompute: str = "none") -> dict[str, int]:
    """Per-token training FLOPs split by kind: ``weights`` (matmuls with parameters), ``attention``
    (scores and values), and the ``recompute_*`` extra hardware work.

    C_model = 6N + 12·L·s·d_attn;  full: + 2N + 4·L·s·d_attn;  selective: + 4·L·s·d_attn

    Source: korthikanti2022"""
    hit = _FLOPS.get((id(spec), seq, recompute))
    if hit is not None and hit[0] is spec:
        return dict(hit[1])
    if seq < 1:
        raise LlmsizeError(f"sequence length must be positive, got {seq}")
    if recompute not in RECOMPUTE:
        raise LlmsizeError(f"recompute must be one of {', '.join(RECOMPUTE)}, got {recompute!r}")
    n, at = _sizes(spec)[0], _attn(spec, seq)
    out = {"weights": 6 * n, "attention": 6 * at, "recompute_weights": 0, "recompute_attention": 0}
    if recompute == "full":
        out.update(recompute_weights=2 * n, recompute_attention=2 * at)
    elif recompute == "selective":
        out["recompute_attention"] = 2 * at
    if len(_FLOPS) > 256:
        _FLOPS.clear()
    _FLOPS[(id(spec), seq, recompute)] = (spec, dict(out))
    return out


# (id(spec), seq, recompute) -> (spec, flops): the planner asks the same few for every setup
_FLOPS: dict[tuple[int, int, str], tuple[ModelSpec, dict[str, int]]] = {}


def head_s_per_token(spec: ModelSpec, peak: float, recompute: str = "none") -> float:
    """Seconds per token (at efficiency 1) of the output layer's GEMMs, which sit on the last pipeline
    stage on top of its even share of the layers: the other p − 1 stages wait for it every micro-batch,
    so a pipelined step pays (p − 1) × this on top of the model's time per token.

    t_head = (6 | 8 full recompute) · V · d / X;  t_step += (p − 1) · t_head

    Source: dubey2024"""
    # ASSUMES: layers split evenly over the stages (Megatron's and torchtitan's default), the output layer
    #          on the last stage and the embedding lookup free; a source that moves layers off the first and
    #          last stages (Llama 3: one fewer each, dubey2024 sec. 3.3.2) runs a little faster than this.
    k = 8 if recompute == "full" else 6
    return k * spec.vocab_size * spec.hidden_size / peak


def dp_exposed_s(spec: ModelSpec, gpu: Any, *, dp: int, tp: int, pp: int, shard: str, gpus_per_node: int,
                 tokens_per_gpu: float, per_token_s: float) -> float:
    """Data-parallel communication a step does not hide, per token of one GPU.

    t_DP = k · P_gpu · (d − 1)/d / B,  k = 2 (all-reduce) or 3 (full shard);  exposed = max(0, t_DP − t_step)

    Source: rajbhandari2020"""
    from llmsize.speedmodel.comm import collective_bytes_per_s

    if shard not in ("none", "full"):
        raise LlmsizeError(f"shard must be none or full, got {shard!r}")
    p_gpu = 2 * _sizes(spec)[1] / (tp * pp)  # bf16 parameters (and gradients) one GPU holds
    k = 3 if shard == "full" else 2
    bw = collective_bytes_per_s(gpu, dp * tp * pp, gpus_per_node)
    t_dp = k * p_gpu * (dp - 1) / dp / bw
    t_step = tokens_per_gpu * per_token_s
    return max(0.0, t_dp - t_step) / tokens_per_gpu


# ASSUMES: an overlapped all-to-all holds this share of the GPU's SMs while it runs (DeepSeek-V3 sec. 3.2.2:
# 20 of the H800's 132 SMs saturate its IB and NVLink; DeepEP's and Megatron's overlap kernels are tuned alike),
# so the compute it hides behind runs that much slower.
A2A_SM_SHARE = 20 / 132


def ep_exposed_s(t_ep: float, t_compute: float, overlap: bool) -> float:
    """Seconds a stage's expert all-to-alls (per micro-batch) add to its step. Overlapped, each micro-batch's
    dispatch and combine run while the stage computes another micro-batch (Megatron-Core's 1F1B A2A overlap
    merges one micro-batch's forward with another's backward; DeepSeek-V3's DualPipe pairs them the same
    way), so what outlasts that compute shows, plus the compute slowed by the SMs the all-to-all holds
    (a share s) while both run; otherwise all of it.

    exposed = max(0, t_EP − t_c) + s/(1 − s) · min(t_EP, t_c) overlapped;  t_EP otherwise

    Source: deepseek-v3-train"""
    if t_ep < 0 or t_compute < 0:
        raise LlmsizeError("expert all-to-all and compute times must be >= 0")
    if not overlap:
        return t_ep
    s = A2A_SM_SHARE
    return max(0.0, t_ep - t_compute) + s / (1 - s) * min(t_ep, t_compute)


def bubble(pp: int, micro_batches: int, schedule: str = "1f1b", virtual_stages: int | None = None) -> float:
    """Share of a pipelined step spent computing.

    1F1B m/(m + p − 1); interleaved m/(m + (p − 1)/v); zero-bubble 1

    Source: narayanan2021"""
    if pp < 1 or micro_batches < 1:
        raise LlmsizeError("pipeline bubble needs pp >= 1 and micro-batches >= 1")
    if schedule not in SCHEDULES:
        raise LlmsizeError(f"pipeline schedule must be one of {', '.join(SCHEDULES)}, got {schedule!r}")
    if pp == 1 or schedule == "zero-bubble":
        return 1.0
    v = 1
    if schedule == "interleaved":
        if virtual_stages is None:
            raise LlmsizeError("an interleaved schedule needs its virtual stages (default_virtual_stages)")
        v = virtual_stages
        if v < 1:
            raise LlmsizeError(f"virtual stages must be >= 1, got {v}")
    return micro_batches / (micro_batches + (pp - 1) / v)


# A whole run's wall time beyond its steady-state steps (failures, restarts, checkpoint reloads): Llama 3
# 405B pre-training reached "higher than 90% effective training time" over a 54-day snapshot with 466
# interruptions (dubey2024, sec. 3.3.4). BLOOM-176B agrees: its measured 150 hardware TFLOP/s (112.5
# model) over 366B tokens is 0.96M A100-hours, the run took 1.08M (0.89).
GOODPUT = 0.9
GOODPUT_RANGE = (0.05, 1.0)  # a given goodput: 5% (a run mostly down) to 1 (no failure, restart or reload)


def check_goodput(goodput: float | None, name: str = "goodput") -> float:
    """The goodput a run is timed at: `goodput` when given (refused outside GOODPUT_RANGE), else GOODPUT."""
    if goodput is None:
        return GOODPUT
    lo, hi = GOODPUT_RANGE
    if isinstance(goodput, bool) or not isinstance(goodput, (int, float)) or not lo <= goodput <= hi:
        raise LlmsizeError(f"{name} must be a number from {lo:g} to {hi:g} (the share of a run's wall time "
                           f"spent in training steps), got {goodput!r}")
    return float(goodput)


def goodput_term(goodput: float | None) -> dict[str, Any]:
    """The goodput a whole run's time is divided by, as a named term with where it comes from."""
    return {"name": "goodput", "value": check_goodput(goodput), "given": goodput is not None,
            "source": "given (--goodput)" if goodput is not None else
            "dubey2024: Llama 3 405B, >90% effective training time (sec. 3.3.4)"}


def run_seconds(tokens: float, tokens_per_s: float, goodput: float | None = None) -> float:
    """Wall time of a whole run of `tokens` tokens at a steady-state rate (whole deployment), its goodput
    divided out: what plan, speed, cost and validate print as a run's days, GPU-hours and $.

    T = D / (r · g),  g = GOODPUT unless given

    Source: dubey2024"""
    if tokens <= 0 or tokens_per_s <= 0:
        raise LlmsizeError("a run's time needs tokens > 0 and a rate > 0")
    return tokens / tokens_per_s / check_goodput(goodput)


def run_gpu_hours(tokens: float, tokens_per_s_per_gpu: float, goodput: float | None = None) -> float:
    """GPU-hours of a whole run of `tokens` tokens at a steady-state rate, its goodput divided out.

    H = D / (r · 3600 · g),  g = GOODPUT unless given

    Source: dubey2024"""
    return run_seconds(tokens, tokens_per_s_per_gpu, goodput) / 3600


def default_virtual_stages(layers: int, pp: int) -> int:
    """Virtual stages per pipeline rank of an interleaved schedule a source leaves unsaid: the rank's
    layers in chunks of LAYERS_PER_VIRTUAL_STAGE.

    v = max(1, round(L / (p · l_chunk)))

    Source: narayanan2021"""
    if layers < 1 or pp < 1:
        raise LlmsizeError("virtual stages need layers >= 1 and pp >= 1")
    return max(1, round(layers / (pp * LAYERS_PER_VIRTUAL_STAGE)))


@dataclass(frozen=True, slots=True, kw_only=True)
class TrainRate:
    tokens_per_s_per_gpu: float
    model_flops_per_token: int  # C_model: what MFU counts
    hardware_flops_per_token: int  # C_hw: with recomputation
    bubble: float
    path: str
    efficiency: Efficiency
    flops: dict[str, int]

    @property
    def model_tflops_per_gpu(self) -> float:
        return self.tokens_per_s_per_gpu * self.model_flops_per_token / 1e12

    def mfu(self, peak: float) -> float:
        return self.tokens_per_s_per_gpu * self.model_flops_per_token / peak


def train(spec: ModelSpec, gpu: Any, *, engine: str, precision: str | None, seq: int, recompute: str = "none",
          pp: int = 1, micro_batches: int = 1, schedule: str = "1f1b", virtual_stages: int | None = None,
          tp: int = 1, micro_batch: int = 1, gpus_per_node: int = 8, mfu: float | None = None,
          dp: int = 1, shard: str = "none", step_tokens: int | None = None, cp: int = 1,
          ep: int = 1, a2a_overlap: bool = False, dispatcher: str = "alltoall",
          tp_overlap: bool = False) -> TrainRate:
    """Tokens/s per GPU. FP8 training runs the parameter matmuls on FP8 and attention on bf16. Tensor
    parallelism adds its per-layer all-reduces (2 forward, 2 backward, 2 more with full recomputation),
    not overlapped unless `tp_overlap` (Megatron's --tp-comm-overlap, torchtitan's async TP: each
    collective split into chunks pipelined with the GEMM that consumes or produces it), where only what
    outlasts the layer's compute is added. Data-parallel traffic per step (DDP / ZeRO-1/2: gradient
    reduce-scatter + all-gather, 2 × the bf16 parameters; FSDP / ZeRO-3 (`shard="full"`): 3 ×, two
    parameter all-gathers and a gradient reduce-scatter) overlaps the step's compute; only what outlasts
    it is added. The last pipeline stage also runs the output layer (`head_s_per_token`). Pipeline
    point-to-point sends are added per micro-batch; the context-parallel ring only where it outlasts the
    stage's attention (`comm.train_stage_comm_s`). Expert all-to-alls are added per micro-batch, or with
    `a2a_overlap` (Megatron's --overlap-moe-expert-parallel-comm, DeepSeek's DualPipe) only what outlasts
    the stage's compute of the other micro-batch they hide behind (`ep_exposed_s`).

    tokens/s/GPU = bubble / ((C_w/X_w + C_a/X_a)/(E·x/(x + x½)) + t·t_TP/(b·s)
                   [overlapped TP: max(0, t·t_TP/(b·s) − compute)] + (p − 1)·t_head/E
                   + t·p·c·(t_PP + t_EP,exp + max(0, t_CP − t_attn))/(b·s) + max(0, t_DP − t_step)/D_gpu)

    Source: narayanan2021"""
    path = train_path(precision, gpu)
    if schedule == "interleaved" and virtual_stages is None and pp > 1:
        virtual_stages = default_virtual_stages(spec.num_layers, pp)
    e = efficiency(engine, gpu, "train", mfu, path, moe=spec.moe is not None)
    f = flops_per_token(spec, seq, recompute)
    x_w = gpu.peak_flops(path)
    x_a = gpu.peak_flops("bf16" if path == "fp8" else path)
    shape = train_shape()
    t = (f["weights"] + f["recompute_weights"]) / x_w \
        + (f["attention"] + f["recompute_attention"]) / (x_a * shape["attention_rel"])
    bub = bubble(pp, micro_batches, schedule, virtual_stages)
    if e.given:
        # a given MFU is model FLOPs over wall time (recomputation, shapes and TP traffic inside it);
        # only the pipeline bubble of this layout is applied on top
        t_model = f["weights"] / x_w + f["attention"] / x_a
        return TrainRate(tokens_per_s_per_gpu=bub * e.value / t_model, model_flops_per_token=f["weights"] + f["attention"],
                         hardware_flops_per_token=sum(f.values()), bubble=bub, path=path, efficiency=e, flops=f)
    k = 6 if recompute == "full" else 4
    mb_tokens = max(micro_batch, 1) * seq
    comm = tp * tp_layer_allreduces_s(spec, gpu, tp, mb_tokens, gpus_per_node, collectives=k) / mb_tokens
    d = spec.hidden_size
    sat = mb_tokens / (mb_tokens + shape["x_half_tokens"]) * d / (d + shape["d_half"])
    if tp_overlap:
        # ASSUMES: an overlapped TP collective hides behind the compute of its layer while shorter than it
        #          (wang2022overlap: collective matmul decomposition; megatron-readme-2024: --tp-comm-overlap)
        comm = max(0.0, comm - t / (e.value * sat))
    per_tok = t / (e.value * sat) + comm
    if pp > 1:
        per_tok += (pp - 1) * head_s_per_token(spec, x_w, recompute) / (e.value * sat)
    n_e = routed_expert_params(spec)
    if n_e:
        # routed experts multiply only the tokens sent to them: x_e = ep·(b·s/(c·t))·k/E rows per expert GEMM
        # ASSUMES: expert tensor parallelism 1 (Megatron-MoE-ModelZoo's and Megatron-Bridge's MoE recipes): each
        #          TP rank dispatches its own sequence-parallel share of the tokens, as comm.train_stage_comm_s
        #          times the all-to-alls (ModelZoo Qwen3-235B TP4 EP8 PP8 was +47% with full-sequence rows);
        #          every engine's MoE with TP is timed so (the calibration's MoE rows with TP are Megatron-Core's)
        m = spec.moe
        x_e = ep * mb_tokens / (cp * tp) * m.top_k / m.num_experts  # type: ignore[union-attr]
        sat_e = x_e / (x_e + shape["x_half_expert_tokens"]) * d / (d + shape["d_half"])
        w_e = (6 + (2 if recompute == "full" else 0)) * n_e / x_w
        per_tok += w_e / e.value * (1 / sat_e - 1 / sat)
    per_tok_compute = per_tok - comm
    if pp > 1 or cp > 1 or ep > 1:
        v = (virtual_stages or 1) if schedule == "interleaved" else 1
        st = train_stage_comm_s(spec, gpu, tp=tp, pp=pp, cp=cp, ep=ep, virtual_stages=v, mb_tokens=mb_tokens,
                                passes=3 if recompute == "full" else 2, dp=dp, gpus_per_node=gpus_per_node,
                                dispatcher=dispatcher)
        group = tp * pp * cp  # GPUs sharing one micro-batch: stage seconds -> seconds per GPU-token
        t_attn = (f["attention"] + f["recompute_attention"]) / (x_a * shape["attention_rel"] * e.value * sat)
        exposed_cp = max(0.0, st["cp"] - t_attn * mb_tokens / group)
        exposed_ep = ep_exposed_s(st["ep"], per_tok_compute * mb_tokens / group, a2a_overlap)
        per_tok += (st["pp"] + exposed_ep + exposed_cp) * group / mb_tokens
    if dp > 1 and step_tokens:
        per_tok += dp_exposed_s(spec, gpu, dp=dp, tp=tp, pp=pp, shard=shard, gpus_per_node=gpus_per_node,
                                tokens_per_gpu=step_tokens / (dp * tp * pp), per_token_s=per_tok / bub)
    return TrainRate(tokens_per_s_per_gpu=bub / per_tok, model_flops_per_token=f["weights"] + f["attention"],
                     hardware_flops_per_token=sum(f.values()), bubble=bub, path=path, efficiency=e, flops=f)
