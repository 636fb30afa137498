"""The host side of a llama.cpp partial offload: CPU + system memory entries (catalog/cpus.toml), each with
its memory bandwidth (channels x 8 B x MT/s, or the vendor's unified-memory figure) and a source."""
from __future__ import annotations

import functools
import tomllib
from dataclasses import dataclass
from importlib import resources

from llmsize.errors import LlmsizeError, did_you_mean

# ASSUMES: llama.cpp's CPU kernels stream weights at ~60% of the theoretical DRAM peak during decode:
# ggml-org/llama.cpp PR #1642 (philipturner's table: M1 CPU >= 53.3 of 68.2 GB/s = 78%, M1 Pro CPU
# >= 88.4 of 204.8 GB/s = 43%); the middle of that range is used for every host.
CPU_EFFICIENCY = 0.6


@dataclass(frozen=True, slots=True, kw_only=True)
class Host:
    """One host: memory bandwidth (bytes/s, theoretical peak), vector ISA, unified memory or not."""

    name: str
    description: str
    memory_type: str
    bandwidth: float
    isa: str
    source: str
    retrieved: str
    aliases: tuple[str, ...] = ()
    channels: int | None = None
    mts: int | None = None
    unified: bool = False

    def __post_init__(self) -> None:
        if not self.bandwidth > 0:
            raise LlmsizeError(f"host {self.name}: memory bandwidth must be positive")
        if self.isa not in ("avx2", "avx512", "neon"):
            raise LlmsizeError(f"host {self.name}: isa must be avx2, avx512 or neon, got {self.isa!r}")
        if not self.source or not self.retrieved:
            raise LlmsizeError(f"host {self.name}: every entry needs a source and a retrieved date")
        if self.channels is not None and self.mts is not None and abs(self.channels * 8 * self.mts * 1e6
                                                                       - self.bandwidth) > 1e6:
            raise LlmsizeError(f"host {self.name}: bandwidth {self.bandwidth:g} != channels x 8 B x MT/s")

    @property
    def effective_bandwidth(self) -> float:
        """What llama.cpp's CPU kernels read weights at: peak x CPU_EFFICIENCY."""
        return self.bandwidth * CPU_EFFICIENCY


@functools.cache
def hosts() -> tuple[Host, ...]:
    """Every catalogued host, in file order."""
    rows = tomllib.loads(resources.files("llmsize.catalog").joinpath("cpus.toml").read_text("utf-8"))["host"]
    out = []
    for r in rows:
        r = dict(r)
        r["bandwidth"] = r.pop("memory_bandwidth_bytes_per_s")
        r["aliases"] = tuple(r.get("aliases", ()))
        out.append(Host(**r))
    return tuple(out)


def _norm(s: str) -> str:
    return "".join(c for c in s.lower() if c.isalnum())


def get_host(name: str) -> Host:
    """A host by name or alias (case, dashes and spaces ignored); unknown -> did-you-mean."""
    key = _norm(name)
    for h in hosts():
        if key in {_norm(n) for n in (h.name, *h.aliases)}:
            return h
    raise did_you_mean(name, [h.name for h in hosts()], what="host (CPU memory)")
