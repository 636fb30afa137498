"""The `parallel` object of a measured multi-GPU case (DIST_README schema): which strategy, world size
and rank, and the prediction of that rank's peak.

  {"world_size": 8, "strategy": "fsdp2", "reshard_after_forward": true, "mp_param_dtype": null,
   "mp_reduce_dtype": null, "cpu_offload": false, "rank": 0}      (fsdp2)
  {"world_size": 4, "strategy": "tp", "rank": 0}                   (tp: Hugging Face base_model_tp_plan)
  {"world_size": 8, "strategy": "fsdp2+tp", "dp": 4, "tp": 2, ...}  (2-D mesh (dp, tp): TP, then fsdp2 over dp)

A case whose `measured` holds `last_rank` becomes two cases: the named rank and that one.

Source: pytorch-fsdp2
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from llmsize.errors import LlmsizeError

STRATEGIES = ("fsdp2", "tp", "fsdp2+tp")
_DT = {None: None, "bfloat16": "bf16", "bf16": "bf16", "float16": "fp16", "fp16": "fp16", "float32": "fp32",
       "fp32": "fp32"}


@dataclass(frozen=True, slots=True, kw_only=True)
class Parallel:
    strategy: str
    world_size: int
    rank: int = 0
    reshard_after_forward: bool = True
    param_dtype: str | None = None
    reduce_dtype: str | None = None
    tp: int = 1

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise LlmsizeError(f"parallel.strategy must be one of {', '.join(STRATEGIES)}, got {self.strategy!r}")
        w = self.world_size
        if isinstance(w, bool) or not isinstance(w, int) or w < 1:
            raise LlmsizeError(f"parallel.world_size must be a positive integer, got {w!r}")
        if isinstance(self.rank, bool) or not isinstance(self.rank, int) or not 0 <= self.rank < w:
            raise LlmsizeError(f"parallel.rank must be 0 to {w - 1}, got {self.rank!r}")
        t = self.tp
        if isinstance(t, bool) or not isinstance(t, int) or t < 1 or w % t:
            raise LlmsizeError(f"parallel.tp must be a positive divisor of world_size {w}, got {t!r}")


def _parallel(p: Any, where: str) -> Parallel:
    if not isinstance(p, Mapping):
        raise LlmsizeError(f"{where}: 'parallel' must be an object")
    if p.get("cpu_offload"):
        raise LlmsizeError(f"{where}: parallel.cpu_offload is not modelled by validate (accepted: false)")
    raf = p.get("reshard_after_forward", True)
    if not isinstance(raf, bool):
        raise LlmsizeError(f"{where}: parallel.reshard_after_forward must be true or false")
    dts = []
    for k in ("mp_param_dtype", "mp_reduce_dtype"):
        v = p.get(k)
        if v not in _DT:
            raise LlmsizeError(f"{where}: parallel.{k} must be null, bfloat16, float16 or float32, got {v!r}")
        dts.append(_DT[v])
    try:
        return Parallel(strategy=str(p.get("strategy")), world_size=p.get("world_size"), rank=p.get("rank", 0),
                        reshard_after_forward=raf, param_dtype=dts[0], reduce_dtype=dts[1],
                        tp=p.get("tp", 1) if p.get("strategy") == "fsdp2+tp" else 1)
    except LlmsizeError as e:
        raise LlmsizeError(f"{where}: {e}") from None


def parallel_cases(case: Any, p: Any, measured: Mapping[str, Any] | None, where: str) -> list[Any]:
    """The case at its named rank, and at `measured.last_rank` when that is there."""
    par = _parallel(p, where)
    out = [replace(case, parallel=par, id=f"{case.id} rank {par.rank}")]
    lr = (measured or {}).get("last_rank")
    if isinstance(lr, Mapping) and lr.get("rank") != par.rank:
        peak = lr.get("peak_bytes")
        if not isinstance(peak, int) or peak <= 0:
            raise LlmsizeError(f"{where}: measured.last_rank.peak_bytes must be a positive integer")
        try:
            par2 = replace(par, rank=lr.get("rank"))
        except LlmsizeError as e:
            raise LlmsizeError(f"{where}: last_rank: {e}") from None
        out.append(replace(case, parallel=par2, measured_peak=peak, id=f"{case.id} rank {par2.rank}"))
    return out


def predict_parallel(spec: Any, wl: Any, par: Parallel, line: int) -> tuple[int, str]:
    """(peak bytes, phase) of rank `par.rank`."""
    try:
        if par.strategy in ("fsdp2", "fsdp2+tp"):
            from llmsize.memory.fsdp import FsdpSetup, fsdp2_peak

            if par.tp > 1:  # mesh (dp, tp): rank r is DP rank r // tp of the TP rank's local model
                from llmsize.memory.tp import tp_spec

                spec = tp_spec(spec, par.tp)
            r = fsdp2_peak(spec, wl, FsdpSetup(world=par.world_size // par.tp, rank=par.rank // par.tp,
                                               reshard_after_forward=par.reshard_after_forward,
                                               param_dtype=par.param_dtype, reduce_dtype=par.reduce_dtype))
            return r.peak_bytes, r.phase
        from llmsize.memory.tp import tp_peak

        r = tp_peak(spec, wl, par.world_size, par.rank, input_ids=False)  # the TP cases do not track them
        return r.peak_bytes, r.phase
    except LlmsizeError as e:
        raise LlmsizeError(f"line {line}: {e}") from None
