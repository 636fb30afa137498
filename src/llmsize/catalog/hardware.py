"""The accelerator and price catalog: what a GPU holds, how fast it moves bytes and does
math, and what an hour of it costs. Data: ``gpus.toml`` and ``prices.toml`` beside this
module, every entry with its source and the date it was read. Bytes are exact ints;
rates are floats (bytes/s, dense FLOP/s without 2:4 sparsity).

``GPU.peak_flops(dtype)``: (1) ``dtype`` is normalised (``bfloat16`` -> ``bf16``,
``half`` -> ``fp16``, ``e4m3`` -> ``fp8`` ...), anything else is an error; (2) a listed
rate > 0 is returned; (3) a listed 0 means the hardware has no such unit (fp8 on A100,
bf16 on V100) and raises ``LlmsizeError`` -- no silent fallback to slow emulation;
(4) an unlisted rate falls back only bf16 <-> fp16 (same tensor rate wherever both
exist; Apple lists only fp16, TPUs only bf16), tf32 -> fp32 (no TF32 units: fp32
matmuls run on the fp32 pipes) and fp16acc (fp16 with fp16 accumulate) -> fp16 (the same
rate except on GeForce, which lists it); otherwise ``LlmsizeError``.
"""
from __future__ import annotations

import functools
import math
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from types import MappingProxyType

from llmsize.errors import LlmsizeError, did_you_mean

DTYPES = ("bf16", "fp16", "fp16acc", "fp8", "fp4", "int8", "fp32", "tf32")
_DTYPE_ALIASES = {
    "bfloat16": "bf16", "float16": "fp16", "half": "fp16", "f16": "fp16", "float8": "fp8",
    "e4m3": "fp8", "e5m2": "fp8", "float8e4m3fn": "fp8", "float8e5m2": "fp8", "i8": "int8",
    "float32": "fp32", "float": "fp32", "f32": "fp32", "tensorfloat32": "tf32",
}
_FALLBACK = {"bf16": "fp16", "fp16": "bf16", "tf32": "fp32", "fp16acc": "fp16"}
_VENDOR_PREFIXES = ("nvidia", "geforce", "tesla", "amd", "instinct", "apple", "google")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _norm(text: str) -> str:
    """Lower-case and drop spaces, dashes and underscores: 'H100 SXM' == 'h100-sxm'."""
    return re.sub(r"[\s_\-]+", "", text).lower()


@functools.lru_cache(maxsize=256)
def _dtype(dtype: str) -> str:
    key = _norm(dtype).replace(".", "")
    key = _DTYPE_ALIASES.get(key, key)
    if key not in DTYPES:
        raise LlmsizeError(f"unknown dtype {dtype!r} (known: {', '.join(DTYPES)})")
    return key


def _positive(value: object, what: str, *, integer: bool = False, optional: bool = False):
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise LlmsizeError(f"{what} must be a number, got {value!r}")
    if integer and not isinstance(value, int):
        raise LlmsizeError(f"{what} must be a whole number of bytes, got {value!r}")
    if not math.isfinite(value) or value <= 0:
        raise LlmsizeError(f"{what} must be positive and finite, got {value!r}")
    return value if integer else float(value)


def _text(value: object, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise LlmsizeError(f"{what} must be a non-empty string, got {value!r}")
    return value


@dataclass(frozen=True, slots=True, kw_only=True)
class GPU:
    """One accelerator (or one chip/GPU of a multi-chip product), per device."""

    name: str
    vendor: str
    memory_bytes: int
    bandwidth: float | None  # bytes/s; None only for a custom GPU given without one
    source: str
    retrieved: str
    aliases: tuple[str, ...] = ()
    usable_bytes: int | None = None
    usable_source: str | None = None
    flops: Mapping[str, float] = field(default_factory=dict)
    interconnect: str | None = None
    interconnect_bw: float | None = None
    pcie_bw: float | None = None
    tdp_watts: float | None = None
    unified_memory: bool = False
    note: str = ""
    memory_kind: str = ""  # hbm, hbm-rocm, gddr, gddr-ecc, gddr-xe, unified, tpu (catalog/usable.py)
    usable_like: str | None = None  # a measured GPU with the same board memory
    usable_origin: str = ""  # measured / as X (measured) / derived: ... / nominal (set by catalog.usable)
    arch: str = ""  # architecture class keying the speed model's efficiency table ("" = other: a custom GPU)

    def __post_init__(self) -> None:
        put = object.__setattr__
        _text(self.name, "GPU name")
        _text(self.vendor, f"{self.name}: vendor")
        _text(self.source, f"{self.name}: source")
        _text(self.retrieved, f"{self.name}: retrieved")
        put(self, "aliases", tuple(_text(a, f"{self.name}: alias") for a in self.aliases))
        _positive(self.memory_bytes, f"{self.name}: memory_bytes", integer=True)
        usable = _positive(self.usable_bytes, f"{self.name}: usable_bytes", integer=True, optional=True)
        if usable is not None and usable > self.memory_bytes:
            raise LlmsizeError(f"{self.name}: usable_bytes {usable} exceeds memory_bytes {self.memory_bytes}")
        for attr in ("bandwidth", "interconnect_bw", "pcie_bw", "tdp_watts"):
            put(self, attr, _positive(getattr(self, attr), f"{self.name}: {attr}", optional=True))
        rates: dict[str, float] = {}
        for key, rate in dict(self.flops).items():
            if key not in DTYPES:
                raise LlmsizeError(f"{self.name}: unknown flops dtype {key!r} (known: {', '.join(DTYPES)})")
            if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate < math.inf:
                raise LlmsizeError(f"{self.name}: flops[{key!r}] must be >= 0, got {rate!r}")
            rates[key] = float(rate)
        put(self, "flops", MappingProxyType(rates))

    def __hash__(self) -> int:
        return hash((self.name, self.memory_bytes, self.bandwidth))

    @property
    def usable(self) -> int:
        """Bytes the driver reports as the device's total (catalog.usable: measured, or derived from measured
        GPUs of the same memory kind); the marketed size only where nothing can be derived."""
        return self.usable_bytes if self.usable_bytes is not None else self.memory_bytes

    def has(self, dtype: str) -> bool:
        """Whether ``peak_flops(dtype)`` would return a rate; never raises (cached: the planner asks it for
        every setup)."""
        return _has(self, dtype)

    def peak_flops(self, dtype: str) -> float:
        """Dense peak FLOP/s (OP/s for int8) for ``dtype``; see the module docstring."""
        key = _dtype(dtype)
        rate = self.flops.get(key)
        if rate is not None and rate > 0:
            return rate
        listed = ", ".join(k for k, v in self.flops.items() if v > 0) or "none"
        if rate == 0:
            raise LlmsizeError(f"{self.name} has no {key} units (rates listed for: {listed})")
        fallback = _FALLBACK.get(key)
        if fallback and self.flops.get(fallback, 0) > 0:
            return self.flops[fallback]
        raise LlmsizeError(f"no {key} rate is known for {self.name} (rates listed for: {listed})")


@functools.lru_cache(maxsize=4096)
def _has(gpu: GPU, dtype: str) -> bool:
    try:
        return gpu.peak_flops(dtype) > 0
    except LlmsizeError:
        return False


@dataclass(frozen=True, slots=True, kw_only=True)
class Price:
    """An on-demand price, per GPU-hour, read from a dated public source."""

    gpu: str
    provider: str
    usd_per_gpu_hour: float
    source: str
    retrieved: str
    instance: str | None = None
    gpus_per_instance: int = 1
    region: str | None = None
    note: str = ""

    def __post_init__(self) -> None:
        _text(self.gpu, "price gpu")
        _text(self.provider, f"{self.gpu} price: provider")
        _text(self.source, f"{self.gpu} price: source")
        if not isinstance(self.retrieved, str) or not _DATE.match(self.retrieved):
            raise LlmsizeError(f"{self.gpu} price: retrieved must be YYYY-MM-DD, got {self.retrieved!r}")
        _positive(self.gpus_per_instance, f"{self.gpu} price: gpus_per_instance", integer=True)
        object.__setattr__(self, "usd_per_gpu_hour",
                           _positive(self.usd_per_gpu_hour, f"{self.gpu} price: usd_per_gpu_hour"))


_GPU_KEYS = {"memory_bandwidth_bytes_per_s": "bandwidth", "interconnect_bytes_per_s": "interconnect_bw",
             "pcie_bytes_per_s": "pcie_bw"}


def _load(filename: str) -> dict:
    return tomllib.loads(resources.files("llmsize.catalog").joinpath(filename).read_text("utf-8"))


@functools.cache
def gpus() -> tuple[GPU, ...]:
    """Every catalogued accelerator, in file order."""
    out = []
    for row in _load("gpus.toml")["gpu"]:
        row = {_GPU_KEYS.get(k, k): v for k, v in row.items()}
        row["aliases"] = tuple(row.get("aliases", ()))
        out.append(GPU(**row))
    from llmsize.catalog.usable import derive_usable

    return derive_usable(tuple(out))


@functools.cache
def _index() -> dict[str, GPU]:
    index: dict[str, GPU] = {}
    for gpu in gpus():
        for key in {_norm(n) for n in (gpu.name, *gpu.aliases)}:
            if key in index:
                raise RuntimeError(f"gpus.toml: {key!r} names both {index[key].name} and {gpu.name}")
            index[key] = gpu
    return index


def _find(key: str) -> GPU | None:
    index = _index()
    while key not in index:
        prefix = next((p for p in _VENDOR_PREFIXES if key.startswith(p) and len(key) > len(p)), None)
        if prefix is None:
            return None
        key = key[len(prefix):]
    return index[key]


_MEMORY_IN_NAME = re.compile(r"(?<![\w.])(\d{1,5})\s*gb\b", re.I)


def _lookup(name: str) -> GPU | None:
    """A name or alias; else the name without brackets ('M2 Ultra (76-core GPU)'); else without a memory
    size that is the catalogued GPU's own ('RTX 4090 24GB', 'H100 PCIe 80GB'; never 'A100 40GB' for the
    80 GB one)."""
    bare = re.sub(r"[(),/]", " ", name)
    gpu = _find(_norm(name)) or _find(_norm(bare))
    size = _MEMORY_IN_NAME.search(bare)
    if gpu is None and size:
        gpu = _find(_norm(bare[:size.start()] + bare[size.end():]))
        gib = int(size.group(1))
        if gpu is not None and gib not in (round(gpu.memory_bytes / 2**30), round(gpu.memory_bytes / 1e9)):
            return None
    return gpu


def get_gpu(name: str) -> GPU:
    """Find a GPU by name or alias, ignoring case, spaces, dashes, underscores and a vendor prefix."""
    gpu = _lookup(_text(name, "GPU name"))
    if gpu is None:
        raise did_you_mean(name, [g.name for g in gpus()], what="GPU")
    return gpu


@functools.cache
def _prices() -> tuple[Price, ...]:
    out = tuple(Price(**row) for row in _load("prices.toml")["price"])
    known = {g.name for g in gpus()}
    for p in out:
        if p.gpu not in known:
            raise RuntimeError(f"prices.toml: {p.provider} price for unknown GPU {p.gpu!r}")
    return out


def prices(gpu: str | None = None) -> tuple[Price, ...]:
    """All prices, or those of one GPU (any name ``get_gpu`` accepts)."""
    if gpu is None:
        return _prices()
    name = get_gpu(gpu).name
    return tuple(p for p in _prices() if p.gpu == name)


def cheapest_price(gpu: str) -> Price | None:
    """The lowest per-GPU-hour price on record for ``gpu``, or None if none is published."""
    return min(prices(gpu), key=lambda p: p.usd_per_gpu_hour, default=None)


def custom_gpu(memory_gib: float, bandwidth_gbs: float | None = None,
               bf16_tflops: float | None = None) -> GPU:
    """A GPU described only by numbers the user gave: GiB of memory, GB/s, bf16 TFLOPS."""
    gib = _positive(memory_gib, "GPU memory (GiB)")
    bw = _positive(bandwidth_gbs, "GPU bandwidth (GB/s)", optional=True)
    tflops = _positive(bf16_tflops, "GPU bf16 TFLOPS", optional=True)
    return GPU(
        name=f"custom-{gib:g}GiB", vendor="custom", memory_bytes=round(gib * 2**30),
        bandwidth=None if bw is None else bw * 1e9,
        flops={} if tflops is None else {"bf16": tflops * 1e12},
        source="user input", retrieved="n/a", note="Described on the command line; not a catalogued product.")


_SIZE = re.compile(r"^(\d+(?:\.\d+)?|\.\d+)\s*([a-z]*)$")
_UNITS = {"gib": 1.0, "tib": 1024.0, "gb": 1e9 / 2**30, "tb": 1e12 / 2**30}


_BYTE_UNITS = {"b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12, "pb": 10**15,
               "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40, "pib": 2**50}


def parse_bytes(text: str | int, what: str = "size") -> int:
    """'2TiB' -> 2·2^40, '2TB' -> 2·10^12, '512 GiB', '1.5TB' (binary or decimal unit required);
    an int is bytes. The result must be a positive whole number of bytes."""
    if isinstance(text, bool):
        raise LlmsizeError(f"{what}: expected a size like 2TiB or 2TB, got {text!r}")
    if isinstance(text, int):
        n = text
    else:
        match = _SIZE.match(str(text).strip().lower())
        if match is None or match.group(2) not in _BYTE_UNITS:
            raise LlmsizeError(f"{what}: cannot read {text!r}; write a number and a unit: B, KB, MB, GB, TB, PB "
                               f"(decimal) or KiB, MiB, GiB, TiB, PiB (binary), e.g. 2TiB or 2TB")
        from decimal import Decimal

        n = int(Decimal(match.group(1)) * _BYTE_UNITS[match.group(2)])
    if n <= 0 or n > 2**70:
        raise LlmsizeError(f"{what}: must be between 1 byte and 1 ZiB, got {text!r}")
    return n


def parse_gpu(text: str) -> GPU:
    """A catalogued GPU by name ('H100', 'h100-sxm') or a bare memory size ('24GiB', '24GB')."""
    gpu = _lookup(_text(text, "GPU"))
    if gpu is not None:
        return gpu
    match = _SIZE.match(text.strip().lower())
    if match is None:
        raise did_you_mean(text, [g.name for g in gpus()], what="GPU")
    number, unit = float(match.group(1)), match.group(2)
    if unit in ("", "g", "t"):
        raise LlmsizeError(f"GPU size {text!r} needs a unit: write {match.group(1)}GiB (binary) "
                           f"or {match.group(1)}GB (decimal)")
    if unit not in _UNITS:
        raise LlmsizeError(f"unknown size unit {unit!r} in {text!r} (use GiB, GB, TiB or TB)")
    return custom_gpu(number * _UNITS[unit])


@functools.cache
def _engine_vendors() -> dict[str, tuple[str, ...]]:
    return {e["name"]: tuple(e["vendors"]) for e in _load("engines.toml")["engine"]}


def engine_problem(engine: str, gpu: GPU) -> str | None:
    """Why serving `engine` cannot run on `gpu` (it has no build for the GPU's vendor:
    catalog/engines.toml), or None. A custom GPU (no vendor) is taken at its word."""
    vendors = _engine_vendors().get(engine)
    if vendors is None or gpu.vendor in ("", "custom") or gpu.vendor in vendors:
        return None
    return f"{engine} has no build for {gpu.vendor} hardware ({gpu.name}); it runs on {', '.join(vendors)}"
