"""Bytes of each FSDP parameter group on one rank: sharded storage, all-gather and reduce-scatter
buffers, unsharded copies — from the exact tensor list, with FSDP2's dim-0 padding.

FSDP2 (`fully_shard`) shards every parameter on dim 0 with torch.chunk semantics: each of the W ranks
holds ⌈d0/W⌉ rows (the last ranks fewer, down to none), and every rank's storage, the all-gather
output and the reduce-scatter input are padded to W·⌈d0/W⌉ rows. Groups are the units `fully_shard`
is applied to: the root (embeddings, final norm, LM head, everything outside the decoder layers) and
each decoder layer.

Source: pytorch-fsdp2
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

from llmsize.errors import LlmsizeError
from llmsize.spec import ModelSpec
from llmsize.tensors import Tensor, tensors


@dataclass(frozen=True, slots=True)
class GroupNumels:
    """Element counts of one `fully_shard` group on one rank.

    full: Σ numel (the unsharded parameters); padded: Σ W·⌈d/W⌉·rest (all-gather output and
    reduce-scatter input); shard: padded / W (the sharded storage of every rank); local: the rank's
    unpadded rows (what the optimizer's states cover); tensors: parameter tensors; largest_local:
    the largest local tensor."""

    full: int
    padded: int
    shard: int
    local: int
    tensors: int
    largest_local: int


def _shard_dim(t: Tensor, experts_dim1: bool) -> int:
    return 1 if experts_dim1 and t.experts > 1 and len(t.shape) > 1 else 0


def tensor_numels(t: Tensor, world: int, rank: int, experts_dim1: bool = False) -> tuple[int, int]:
    """(padded shard, this rank's unpadded local elements) of one parameter sharded over `world` ranks.

    c = ⌈d/W⌉;  shard = c · numel/d;  local = max(0, min(c, d − r·c)) · numel/d   (d: the sharded dim)

    Dim 1 (`shard_placement_fn` returning Shard(1) for expert stacks) must divide evenly: FSDP2's
    reduce-scatter asserts it.

    Source: pytorch-fsdp2"""
    d = _shard_dim(t, experts_dim1)
    rows = t.shape[d]
    rest = t.numel // rows if rows else 0
    if d and rows % world:
        raise LlmsizeError(f"{t.name}: Shard(1) needs dim 1 ({rows}) divisible by the {world} ranks "
                           f"(FSDP2 requires even sharding off dim 0)")
    c = math.ceil(rows / world)
    return c * rest, max(0, min(c, rows - rank * c)) * rest


@lru_cache(maxsize=1024)
def groups(spec: ModelSpec, world: int, rank: int, experts_dim1: bool = False) -> tuple[GroupNumels, ...]:
    """The root group first, then one per decoder layer (index i + 1 = layer i).

    Source: pytorch-fsdp2"""
    if not isinstance(world, int) or world < 1:
        raise LlmsizeError(f"shard group must be a positive number of GPUs, got {world!r}")
    if not isinstance(rank, int) or not 0 <= rank < world:
        raise LlmsizeError(f"rank must be 0 to {world - 1}, got {rank!r}")
    acc: list[list[int]] = [[0, 0, 0, 0, 0] for _ in range(spec.num_layers + 1)]
    for t in tensors(spec):
        if t.buffer:
            continue
        shard, local = tensor_numels(t, world, rank, experts_dim1)
        g = acc[0 if t.layer is None else t.layer + 1]
        g[0] += t.numel
        g[1] += shard
        g[2] += local
        g[3] += 1
        g[4] = max(g[4], local)
    return tuple(GroupNumels(full=f, padded=s * world, shard=s, local=lo, tensors=n, largest_local=big)
                 for f, s, lo, n, big in acc)
