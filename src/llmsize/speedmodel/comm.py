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
