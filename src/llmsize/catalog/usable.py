"""One definition of usable GPU memory: the bytes the driver reports as the device's total
(cudaDeviceProp.totalGlobalMem, which torch.cuda.get_device_properties(i).total_memory returns; the
ROCm pool; macOS Metal's working-set limit). llmsize's device terms (CUDA context, allocator reserve)
are charged inside it. Where no exact figure was published for a GPU it is derived, never left at
the marketed size:

* `usable_like`: the same board memory as a measured GPU (A10G has A10's GA102 24 GB GDDR6 ECC);
* else the median reserve fraction of the measured GPUs of the same `memory_kind`:
      usable = M_nominal · (1 − median_k (M_k − U_k) / M_k)
  (HBM: ~1%; GDDR with ECC on: ~8%, the ECC bits plus the driver; GDDR without ECC: ~1.5%; Intel
  GDDR, Level Zero's global memory size: ~5.6%);
* else (TPUs: XLA owns the whole HBM, no CUDA driver) the nominal size, said so.
"""
from __future__ import annotations

import statistics
from dataclasses import replace
from typing import Any


def _fraction(g: Any) -> float:
    return (g.memory_bytes - g.usable_bytes) / g.memory_bytes


def derive_usable(gpus: tuple[Any, ...]) -> tuple[Any, ...]:
    """The catalog with every GPU's usable bytes set and `usable_origin` saying how.

    Source: cuda-device-query"""
    by_name = {g.name: g for g in gpus}
    measured: dict[str, list[Any]] = {}
    for g in gpus:
        if g.usable_bytes is not None:
            measured.setdefault(g.memory_kind, []).append(g)
    out = []
    for g in gpus:
        if g.usable_bytes is not None:
            out.append(replace(g, usable_origin="measured"))
            continue
        like = by_name.get(g.usable_like or "")
        if g.usable_like and (like is None or like.usable_bytes is None or like.memory_bytes != g.memory_bytes):
            raise RuntimeError(f"gpus.toml: {g.name}: usable_like {g.usable_like!r} must name a measured GPU with the "
                               f"same memory size")
        if like is not None:
            out.append(replace(g, usable_bytes=like.usable_bytes, usable_origin=f"as {like.name} (measured)",
                               usable_source=like.usable_source))
            continue
        peers = measured.get(g.memory_kind, [])
        if not peers:
            out.append(replace(g, usable_origin="nominal (no measured GPU of its kind)"))
            continue
        frac = statistics.median(_fraction(p) for p in peers)
        # ASSUMES: a GPU reserves the same fraction as the median measured GPU of its memory kind.
        usable = g.memory_bytes - round(g.memory_bytes * frac)
        names = ", ".join(p.name for p in peers)
        out.append(replace(g, usable_bytes=usable, usable_origin=f"derived: {100 * frac:.2f}% reserve, median of {names}",
                           usable_source=f"median reserve of the measured {g.memory_kind} GPUs ({names}); see their "
                                         f"usable_source"))
    return tuple(out)
