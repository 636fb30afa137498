"""Model states one GPU keeps under data-parallel sharding (ZeRO-1/2/3, FSDP), with offload, what
offload moves over the host link, and DeepSpeed's communication buckets. Split from
`llmsize.parallel` (which re-exports these names); `Breakdown` and `Layout` are its types.

Source: rajbhandari2020
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from llmsize.parallel import Breakdown, Layout


@dataclass(frozen=True, slots=True, kw_only=True)
class OffloadTraffic:
    """Bytes one GPU moves over its host link when its states are offloaded: per micro-batch host→GPU
    in forward and in backward and GPU→host in backward (overlapped with that pass's compute), and per
    optimizer step host→GPU after the host's update (not overlapped)."""

    h2d_forward: int = 0
    h2d_backward: int = 0
    d2h_backward: int = 0
    h2d_step: int = 0
    host_step: int = 0  # host memory the host's optimizer step reads and writes for this GPU's partition


def _scaled(total: int, part: int, whole: int) -> int:
    return total * part // whole if whole else 0


def model_states(b: Breakdown, layout: Layout, *, params_on_gpu: int, total_params: int,
                 largest_unit: int) -> tuple[list[tuple[str, int, str, str]], int]:
    """Weights, gradients and optimizer states on one GPU holding `params_on_gpu` of `total_params`
    parameters, sharded over N_d GPUs by ZeRO stage / FSDP strategy, with offload. Returns the terms
    and the bytes offloaded (host memory and NVMe together; `offloaded_states` splits them).

    Source: rajbhandari2020"""
    terms, cpu, nvme = offloaded_states(b, layout, params_on_gpu=params_on_gpu, total_params=total_params,
                                        largest_unit=largest_unit)
    return terms, cpu + nvme


def expert_shard(layout: Layout) -> int:
    """N_e: GPUs the states of one routed expert are sharded over. Under expert parallelism each GPU
    holds 1/EP of the experts, so an expert's replicas are the data-parallel ranks (and the TP and CP
    ranks, which keep the same experts) that share its EP rank: Megatron-Core's expert-data-parallel
    group, DeepSpeed-MoE's expert-data-parallel group, torchtitan's FSDP mesh of the experts.

    N_e = max(1, N_d · t · c / e)  (N_d = 1 without sharding; = N_d at EP 1, where experts are dense)

    # ASSUMES: expert tensor parallelism 1 (the experts whole on each TP rank, as `placement` splits them)

    Source: liu2025folding"""
    nd = layout.shard
    if layout.ep == 1 or nd == 1:
        return nd
    return max(1, nd * layout.tp * layout.cp // layout.ep)


def offloaded_states(b: Breakdown, layout: Layout, *, params_on_gpu: int, total_params: int,
                     largest_unit: int, expert_params: int = 0) -> tuple[list[tuple[str, int, str, str]], int, int]:
    """`model_states`' terms, and the bytes offloaded to host memory and to NVMe (each to the device
    its layout names: weights by offload_params, optimizer states by offload_optimizer).
    `expert_params` of the `params_on_gpu` are routed experts split over EP, whose sharded states
    divide by N_e (`expert_shard`) instead of N_d.

    stage ≥ 1: O, M_32 (and DeepSpeed's fp32 gradient partition) / N_d
    stage ≥ 2: G / N_d (FSDP, ZeRO paper); DeepSpeed keeps the low-precision G whole at stages 1-2
    stage 3:   W / N_d + largest unit · (w + g bytes/param), G only inside that gathered unit
    X / N_d reads X·(P_s − P_e)/Ψ/N_d + X·P_e/Ψ/N_e under expert parallelism

    Source: rajbhandari2020"""
    nd, eng, stage3 = layout.shard, layout.engine, layout.zero == 3
    ne = expert_shard(layout)
    dense = params_on_gpu - expert_params

    def sharded(total: int) -> int:  # X / N_d, the experts' part over N_e
        return _scaled(total, dense, total_params) // nd + _scaled(total, expert_params, total_params) // ne

    nds = f"N_d={nd}" + (f", N_e={ne}" if expert_params and ne != nd else "")
    off_opt, off_par = layout.offload_optimizer != "none", layout.offload_params != "none"
    grads, fp32_grads = b.gradients, 0
    if eng == "deepspeed" and b.master_weights:
        fp32_grads = b.master_weights  # ASSUMES: DeepSpeed keeps an fp32 gradient partition (16 B/param states)
    if eng == "megatron" and b.master_weights:
        grads = max(b.gradients, b.master_weights)  # ASSUMES: Megatron accumulates into fp32 main grads
    w = _scaled(b.weights, params_on_gpu, total_params)
    g = _scaled(grads, params_on_gpu, total_params)
    terms: list[tuple[str, int, str, str]] = []
    off = {"cpu": 0, "nvme": 0, "none": 0}
    if stage3:
        w_sh = sharded(b.weights)
        w_res = 0 if off_par else w_sh
        off[layout.offload_params] += w_sh - w_res  # each GPU offloads its own partition, W/N_d
        terms.append(("weights", w_res, f"W·P_s/Ψ/N_d ({nds})" + (", offloaded" if off_par else ""),
                      "rajbhandari2020"))
        unit = round(largest_unit * (b.weight_bytes_per_param + b.grad_bytes_per_param))
        terms.append(("gathered layer", unit, "largest unit × (weight + grad bytes per param)",
                      "deepspeed-memory"))
    else:
        terms.append(("weights", w, "W·P_s/Ψ", "narayanan2021"))
    if eng == "deepspeed":
        g_res = 0 if stage3 or off_opt else g
    else:
        g_res = 0 if off_opt and eng == "fsdp" else (sharded(grads) if layout.zero >= 2 else g)
    terms.append(("gradients", g_res, "G·P_s/Ψ" + (f"/N_d ({nds})" if g_res and g_res != g else ""),
                  "rajbhandari2020"))
    for name, total in (("optimizer", b.optimizer), ("master_weights", b.master_weights),
                        ("fp32 gradient partition", fp32_grads)):
        v = _scaled(total, params_on_gpu, total_params)
        if not v:
            continue
        shard = sharded(total) if layout.zero >= 1 else v
        res = 0 if off_opt else shard
        off[layout.offload_optimizer] += shard - res
        terms.append((name, res, f"{name}·P_s/Ψ" + (f"/N_d ({nds})" if layout.zero else "")
                      + (f", offloaded to {layout.offload_optimizer}" if off_opt else ""), "rajbhandari2020"))
    return terms, off["cpu"], off["nvme"]


def offload_traffic(b: Breakdown, layout: Layout, *, params_on_gpu: int, total_params: int) -> OffloadTraffic | None:
    """What one GPU holding `params_on_gpu` parameters moves over its host link under offload (None
    when nothing is offloaded). ZeRO-Offload's schedule: each GPU's gradient partition goes to the host
    during backward, the host runs the optimizer, and the updated 16-bit parameters come back before the
    next forward (DeepSpeed accumulates offloaded gradients on the host, so the gradients go down every
    micro-batch). ZeRO-Infinity's parameter offload: the partition is fetched for the forward and again
    for the backward of every micro-batch, and the update stays on the host.

    P_sh = P_s / N_d;  optimizer offloaded: D2H_bwd = g·P_sh per micro-batch, H2D_step = w·P_sh per step,
    host step = 2·(O + M_32 [+ DeepSpeed's fp32 gradients])·P_sh/Ψ (the host's optimizer reads and writes them)
    parameters offloaded: H2D_fwd = H2D_bwd = w·P_sh per micro-batch, H2D_step = 0

    Source: ren2021"""
    off_opt, off_par = layout.offload_optimizer != "none", layout.offload_params != "none"
    if not (off_opt or off_par):
        return None
    shard = params_on_gpu / layout.shard
    w, g = b.weight_bytes_per_param * shard, b.grad_bytes_per_param * shard
    states = b.optimizer + b.master_weights + (b.master_weights if layout.engine == "deepspeed" else 0)
    host_step = 2 * states * shard / total_params if layout.offload_optimizer == "cpu" and total_params else 0
    # ASSUMES: with recomputation a parameter fetched for the recomputed forward stays for its backward
    # (DeepSpeed's stage3_max_reuse_distance), so two fetches per micro-batch, not three.
    return OffloadTraffic(h2d_forward=round(w) if off_par else 0, h2d_backward=round(w) if off_par else 0,
                          d2h_backward=round(g) if off_opt else 0,
                          h2d_step=round(w) if off_opt and not off_par else 0, host_step=round(host_step))


# DeepSpeed's defaults, in elements (deepspeed/runtime/zero/config.py): reduce_bucket_size 5e8,
# stage3_prefetch_bucket_size 5e7; contiguous_gradients True, overlap_comm True only at stage 3.
DS_REDUCE_BUCKET = 500_000_000
DS_PREFETCH_BUCKET = 50_000_000


def deepspeed_buffers(b: Breakdown, layout: Layout) -> list[tuple[str, int, str, str]]:
    """DeepSpeed ZeRO's communication buffers on every GPU at their default sizes: the contiguous-
    gradients (ipg) bucket of reduce_bucket_size elements in the gradient dtype (ZeRO-1/2 allocate it in
    backward_prologue, doubled when overlap_comm; ZeRO-3 once at init), and ZeRO-3's prefetch bucket of
    stage3_prefetch_bucket_size parameters gathered ahead of use.

    B = reduce_bucket_size·g (·2 with overlap_comm at stage 1/2) + [stage 3] prefetch_bucket_size·w

    Source: deepspeed-zero-config"""
    if layout.engine != "deepspeed" or layout.zero < 1:
        return []
    g = round(b.grad_bytes_per_param) or 2
    out = [("ZeRO reduce bucket (contiguous gradients)", DS_REDUCE_BUCKET * g,
            "reduce_bucket_size (5e8) × gradient bytes", "deepspeed-zero-config")]
    if layout.zero == 3:
        out.append(("ZeRO-3 prefetch bucket", DS_PREFETCH_BUCKET * round(b.weight_bytes_per_param or 2),
                    "stage3_prefetch_bucket_size (5e7) × weight bytes", "deepspeed-zero-config"))
    return out
