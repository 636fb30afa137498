"""Collective communication times: ring all-reduce inside a node over NVLink (PCIe where the GPU has no
NVLink) and across nodes over the network.

t_allreduce = 2(n − 1)·α + 2(n − 1)/n · bytes / B,  B one direction of the slowest link in the ring

Source: narayanan2021
"""
from __future__ import annotations

import functools
import tomllib
from importlib import resources
from typing import Any

from llmsize.errors import LlmsizeError

# ASSUMES: 5 µs per ring step (NCCL's small-message latency order on NVLink/InfiniBand)
ALPHA_S = 5e-6
DEFAULT_NETWORK = "InfiniBand-NDR"  # ASSUMES: one 400 Gb/s port per GPU (DGX H100, torchtitan's hosts)


@functools.cache
def links() -> dict[str, dict[str, Any]]:
    """The interconnect catalogue (``catalog/interconnects.toml``) by name; every entry sourced and dated."""
    data = tomllib.loads(resources.files("llmsize.catalog").joinpath("interconnects.toml").read_text())
    out = {}
    for x in data["link"]:
        for k in ("name", "kind", "bytes_per_s", "source", "retrieved"):
            if k not in x:
                raise LlmsizeError(f"interconnect catalogue: entry {x.get('name', '?')} lacks {k}")
        out[x["name"]] = x
    return out


NETWORK_BYTES_PER_S = float(links()[DEFAULT_NETWORK]["bytes_per_s"])


def link_bytes_per_s(gpu: Any, n: int, gpus_per_node: int = 8) -> float:
    """One direction of the slowest link a ring of `n` GPUs crosses: NVLink inside a node (half the
    catalogue's bidirectional figure), else PCIe, and the network once the ring spans nodes."""
    if n > gpus_per_node:
        return NETWORK_BYTES_PER_S
    bw = gpu.interconnect_bw or gpu.pcie_bw
    if not bw:
        return NETWORK_BYTES_PER_S
    return float(bw) / 2


def collective_bytes_per_s(gpu: Any, n: int, gpus_per_node: int = 8) -> float:
    """Effective per-GPU bandwidth of a data-parallel collective over `n` GPUs: NCCL's hierarchical
    rings move the node's inter-node share through all of its network cards at once, so across nodes a
    GPU sees min(its intra-node link, the node's network bandwidth) rather than one card's.

    B = B_intra (n ≤ node);  B = min(B_intra, g · B_net) across nodes

    Source: narayanan2021"""
    intra = link_bytes_per_s(gpu, min(n, gpus_per_node), gpus_per_node)
    if n <= gpus_per_node:
        return intra
    return min(intra, gpus_per_node * NETWORK_BYTES_PER_S)


def allreduce_s(nbytes: float, n: int, bw: float) -> float:
    """Ring all-reduce of `nbytes` over `n` GPUs.

    t = 2(n − 1)·α + 2(n − 1)/n · bytes / B

    Source: narayanan2021"""
    if n <= 1:
        return 0.0
    return 2 * (n - 1) * ALPHA_S + 2 * (n - 1) / n * nbytes / bw


def tp_layer_allreduces_s(spec: Any, gpu: Any, tp: int, tokens: float, gpus_per_node: int = 8,
                          collectives: int = 2, act_bytes: int = 2) -> float:
    """Tensor parallelism: `collectives` all-reduces per layer (attention out, MLP out in a forward) of
    the activations of `tokens` tokens; sequence parallelism moves the same bytes as reduce-scatter +
    all-gather.

    t = L · k · t_allreduce(tokens · d · bytes, t)

    Source: korthikanti2022"""
    if tp <= 1:
        return 0.0
    bw = link_bytes_per_s(gpu, tp, gpus_per_node)
    return spec.num_layers * collectives * allreduce_s(tokens * spec.hidden_size * act_bytes, tp, bw)


def p2p_s(nbytes: float, bw: float) -> float:
    """One point-to-point send (a pipeline stage boundary).

    t = α + bytes / B

    Source: narayanan2021"""
    return ALPHA_S + nbytes / bw


def alltoall_s(nbytes: float, n: int, bw: float) -> float:
    """All-to-all of `nbytes` per GPU over `n` GPUs (expert parallelism's token dispatch or combine): each
    GPU keeps 1/n of its bytes and sends the rest, one message per peer.

    t = (n − 1)·α + (n − 1)/n · bytes / B

    Source: lepikhin2021"""
    if n <= 1:
        return 0.0
    return (n - 1) * ALPHA_S + (n - 1) / n * nbytes / bw


def group_alltoall_s(gpu: Any, nbytes: float, inner: int, width: int, gpus_per_node: int = 8) -> float:
    """All-to-all of `nbytes` per GPU among `width` GPUs sitting `inner` ranks apart. Peers in the same
    node are reached over NVLink, the others through this GPU's own network card, at once (NCCL's
    all-to-all posts every peer's send together), so the slower of the two parts sets the time.

    t = (w − 1)·α + max(bytes·(l − 1)/w / B_intra, bytes·(w − l)/w / B_net),  l = members in one node

    Source: lepikhin2021"""
    if width <= 1:
        return 0.0
    local = max(1, min(width, gpus_per_node // inner)) if inner <= gpus_per_node else 1
    intra = nbytes * (local - 1) / width / link_bytes_per_s(gpu, min(inner * local, gpus_per_node), gpus_per_node)
    inter = nbytes * (width - local) / width / NETWORK_BYTES_PER_S
    return (width - 1) * ALPHA_S + max(intra, inter)


DISPATCHERS = ("alltoall", "deepep")
# ASSUMES: a layout that does not name its token dispatcher uses Megatron-Core's alltoall dispatcher, one
# copy per (token, chosen expert) (the dispatcher Megatron-Bridge's recipes set, e.g. its Qwen3-235B H100/B200
# presets, qwen3_workload_base_configs.py).


def remote_nodes(top_k: int, nodes: int) -> float:
    """Expected number of other nodes a token's top-k experts sit on, experts spread evenly over `nodes`
    nodes and chosen uniformly (a balanced router).

    r = (N − 1) · (1 − (1 − 1/N)^k)

    Source: deepseek-v3-train"""
    if nodes <= 1:
        return 0.0
    return (nodes - 1) * (1 - (1 - 1 / nodes) ** top_k)


def ep_alltoall_s(gpu: Any, tokens: float, width: int, inner: int, *, top_k: int, hidden: int,
                  dispatcher: str = "alltoall", gpus_per_node: int = 8, act_bytes: int = 2) -> float:
    """One expert-parallel all-to-all (dispatch or combine) of `tokens` tokens per GPU over `width` EP ranks
    sitting `inner` ranks apart. ``alltoall`` (Megatron's dispatcher) sends a copy per chosen expert;
    ``deepep`` (DeepEP / HybridEP, DeepSeek-V3's kernels) sends a token once to each other node holding
    one of its experts and fans it out over NVLink there, so the network carries r copies, not k·(w − l)/w.

    alltoall: t = t_a2a(x·k·d·b);  deepep: t = (w − 1)·α + max(x·k·d·b·(1 − 1/w)/B_intra, x·r·d·b/B_net)

    Source: deepseek-v3-train"""
    if dispatcher not in DISPATCHERS:
        raise LlmsizeError(f"dispatcher must be one of {', '.join(DISPATCHERS)}, got {dispatcher!r}")
    if width <= 1:
        return 0.0
    nbytes = tokens * top_k * hidden * act_bytes
    if dispatcher == "alltoall":
        return group_alltoall_s(gpu, nbytes, inner, width, gpus_per_node)
    local = max(1, min(width, gpus_per_node // inner)) if inner <= gpus_per_node else 1
    nodes = -(-width // local)
    intra_bw = link_bytes_per_s(gpu, min(inner * local, gpus_per_node), gpus_per_node)
    intra = nbytes * (1 - 1 / width) / intra_bw if local > 1 or nodes > 1 else 0.0
    inter = tokens * remote_nodes(top_k, nodes) * hidden * act_bytes / NETWORK_BYTES_PER_S
    return (width - 1) * ALPHA_S + max(intra, inter)


def span_bytes_per_s(gpu: Any, inner: int, width: int, gpus_per_node: int = 8) -> float:
    """Bandwidth of a group of `width` GPUs whose members sit `inner` ranks apart (TP inside, then CP, EP
    or PP): inside one node while inner × width fits in it, else the network.

    B = link(inner · width ≤ node ? NVLink/PCIe : network)

    Source: narayanan2021"""
    return link_bytes_per_s(gpu, inner * width, gpus_per_node) if width > 1 else float("inf")


def train_stage_comm_s(spec: Any, gpu: Any, *, tp: int, pp: int, cp: int, ep: int, virtual_stages: int,
                       mb_tokens: int, passes: int, dp: int = 1, gpus_per_node: int = 8,
                       act_bytes: int = 2, dispatcher: str = "alltoall") -> dict[str, float]:
    """Seconds one pipeline stage spends per micro-batch (of `mb_tokens` tokens) on the exchanges of
    pipeline, expert and context parallelism; the ranks sit as Megatron orders them (TP innermost, then
    CP, then DP, PP outermost; the expert layers fold EP innermost), so a group stays on NVLink while it
    fits a node and crosses the network once it does not.

    PP:  2·v boundary sends (activations forward, gradients backward) of (b·s/c)/t·d bytes each
    EP:  2 all-to-alls (dispatch, combine) per MoE layer of the stage and pass, of (b·s/c)·k·d bytes
         (`ep_alltoall_s`: per chosen expert, or per node with a deduplicating dispatcher)
    CP:  (c − 1) ring steps per layer and pass, each the chunk's K and V: (b·s/c)·2·n_kv·h/t bytes
    (passes: 2, forward and backward; 3 with full recomputation)

    Source: narayanan2021"""
    tokens = mb_tokens / cp  # tokens of the micro-batch on this GPU's CP rank
    d = spec.hidden_size
    out = {"pp": 0.0, "ep": 0.0, "cp": 0.0}
    if pp > 1:
        bw = span_bytes_per_s(gpu, tp * cp * dp, pp, gpus_per_node)
        # ASSUMES: the sends are not overlapped (Megatron overlaps part of them: an upper bound)
        out["pp"] = 2 * virtual_stages * p2p_s(tokens / tp * d * act_bytes, bw)
    if ep > 1 and spec.moe is not None:
        moe_layers = sum(spec.moe_layers) / pp
        # MoE parallel folding (Megatron-Core; liu2025folding): the expert layers regroup the attention's
        # TP x CP x DP ranks with EP innermost (expert TP 1), so an EP group is `ep` consecutive GPUs, each
        # dispatching its own sequence-parallel share of the tokens
        one = ep_alltoall_s(gpu, tokens / tp, ep, 1, top_k=spec.moe.top_k, hidden=d, dispatcher=dispatcher,
                            gpus_per_node=gpus_per_node, act_bytes=act_bytes)
        out["ep"] = 2 * passes * moe_layers * one
    if cp > 1:
        a = spec.attention
        bw = span_bytes_per_s(gpu, tp, cp, gpus_per_node)
        kv = tokens * 2 * a.num_kv_heads * a.head_dim * act_bytes / tp
        # the ring (Liu et al. 2023, liu2023ring) overlaps each send with a block's attention: the caller
        # exposes only what outlasts the stage's attention time
        out["cp"] = passes * spec.num_layers / pp * (cp - 1) * p2p_s(kv, bw)
    return out


# ASSUMES: a serving engine's custom all-reduce takes messages up to 8 MB (vLLM's CustomAllreduce
#          max_size); larger ones (long prompts in one pass) go through NCCL's ring
CUSTOM_AR_MAX_BYTES = 8 * 1024 * 1024


def serve_allreduce_s(nbytes: float, n: int, bw: float, *, latency_s: float, share: float,
                      custom: bool) -> float:
    """One TP all-reduce of a serving engine. Inside one fully connected node (NVLink / Infinity Fabric),
    vLLM, SGLang and TensorRT-LLM run a custom all-reduce kernel: every rank reads its peers' buffers
    directly and they meet at one in-kernel barrier, so its fixed cost τ does not grow with the ring's
    2(n − 1) steps the way NCCL's does; the bytes move as a reduce-scatter + all-gather (two-stage) at
    the share l of the link's rate that serving's messages reach.

    t = τ + 2(n − 1)/n · bytes/(l·B)                  (custom kernel: n ≤ 8 on NVLink/IF, bytes ≤ 8 MB)
    t = [2(n − 1)·α + 2(n − 1)/n · bytes/B] / l      (NCCL ring otherwise)

    Source: vllm-custom-ar"""
    if n <= 1:
        return 0.0
    if custom and nbytes <= CUSTOM_AR_MAX_BYTES:
        return latency_s + 2 * (n - 1) / n * nbytes / (share * bw)
    return allreduce_s(nbytes, n, bw) / share


def tp_serve_allreduces_s(spec: Any, gpu: Any, tp: int, tokens: float, *, latency_s: float, share: float,
                          gpus_per_node: int = 8, act_bytes: int = 2) -> float:
    """A serving pass's tensor-parallel all-reduces: two per layer (attention out, MLP out) of the pass's
    `tokens` activations (`serve_allreduce_s`); the custom kernel where the TP group is one fully
    connected node of 2-8 GPUs (vLLM's CustomAllreduce: world sizes 2, 4, 6, 8, one node, NVLink or
    XGMI for more than two GPUs).

    t = L · 2 · t_allreduce(tokens · d · bytes, t)

    Source: vllm-custom-ar"""
    if tp <= 1:
        return 0.0
    # ASSUMES: GPUs without NVLink / Infinity Fabric get no peer-to-peer kernel (vLLM disables it for more
    #          than two PCIe GPUs, and P2P over PCIe is often unavailable for two): NCCL's ring
    custom = bool(gpu.interconnect_bw) and tp <= min(8, gpus_per_node) and tp in (2, 4, 6, 8)
    bw = link_bytes_per_s(gpu, tp, gpus_per_node)
    nbytes = tokens * spec.hidden_size * act_bytes
    return spec.num_layers * 2 * serve_allreduce_s(nbytes, tp, bw, latency_s=latency_s, share=share, custom=custom)


def ep_serve_alltoalls_s(spec: Any, gpu: Any, ep: int, tokens: float, *, latency_s: float, share: float,
                         gpus_per_node: int = 8, act_bytes: int = 2) -> float:
    """A serving pass's expert-parallel all-to-alls: on each MoE layer a dispatch of the pass's `tokens`
    (each to its k experts) and a combine of their outputs, over the `ep` GPUs that hold the experts; each
    GPU keeps 1/ep of the copies and sends the rest, at the share l of the link's rate serving reaches.

    t = L_moe · 2 · [τ + (ep − 1)/ep · tokens · k · d · bytes/(l·B)]

    Source: lepikhin2021"""
    # ASSUMES: the engines' EP kernels (TensorRT-LLM's NVLink all-to-all, DeepEP's low-latency mode) pay one
    #          fixed cost per call like the custom all-reduce (τ, fitted with it) and send activations in
    #          16 bits
    if ep <= 1 or spec.moe is None:
        return 0.0
    bw = link_bytes_per_s(gpu, ep, gpus_per_node)
    nbytes = tokens * spec.moe.top_k * spec.hidden_size * act_bytes
    return spec.num_moe_layers * 2 * (latency_s + (ep - 1) / ep * nbytes / (share * bw))
