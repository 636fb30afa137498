"""The GPU and price catalog: data integrity, lookups, peak-FLOP rules, custom sizes."""
from __future__ import annotations

import re

import pytest

from llmsize.catalog import hardware as hw
from llmsize.catalog.hardware import GPU, Price, LlmsizeError

GIB = 2**30
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _gpu(**over) -> GPU:
    args = dict(name="X", vendor="V", memory_bytes=8 * GIB, bandwidth=1e12, source="s", retrieved="2026-01-01",
                flops={"bf16": 1e14})
    args.update(over)
    return GPU(**args)


# ------------------------------------------------------------------ catalog integrity

ARCHS = {"volta", "turing", "pascal", "maxwell", "kepler", "ampere", "ampere-pcie", "ada-dc", "hopper", "blackwell",
         "geforce", "workstation", "cdna", "cdna3", "rdna", "rdna4", "apple", "tpu", "blackwell-soc", "rdna-apu", "gcn", "rdna2",
         "ampere-soc", "intel-xe", "intel-xe-hpc", "intel-igpu"}


def test_at_least_100_gpus_with_unique_names():
    names = [g.name for g in hw.gpus()]
    assert len(names) >= 100
    assert len(names) == len(set(names))


@pytest.mark.parametrize("gpu", hw.gpus(), ids=lambda g: g.name)
def test_every_gpu_is_sourced_and_sane(gpu):
    from llmsize.speedmodel.efficiency import serve_path, train_path

    assert gpu.source.startswith("https://")
    assert DATE.match(gpu.retrieved)
    # 6 GiB: the smallest boards benchmark tables name (RTX 2060, RTX 3060 Laptop, RTX A2000) hold a 7B Q4_0
    assert isinstance(gpu.memory_bytes, int) and gpu.memory_bytes >= 6 * GIB
    assert gpu.bandwidth is not None and 5e10 < gpu.bandwidth < 2e13
    assert any(v > 0 for v in gpu.flops.values())
    assert gpu.arch in ARCHS
    # every GPU has a 16-bit (or, without a usable one, fp32) path its speed is timed on
    for path in (serve_path("vllm", "bf16", gpu), serve_path("llama.cpp", "Q4_0", gpu), train_path("bf16-mixed", gpu)):
        assert gpu.peak_flops(path) > 0
    assert gpu.has("bf16") or gpu.has("fp16") or "NO tensor cores" in gpu.note
    # dense rates: a tensor path is never slower than the CUDA-core fp32 rate it replaces
    assert all(gpu.flops.get(k, 0) in (0, None) or gpu.flops[k] >= gpu.flops.get("fp32", 0)
               for k in ("bf16", "fp16", "fp8", "int8") if gpu.arch not in ("pascal", "maxwell", "kepler", "apple"))
    if gpu.usable_bytes is not None:
        assert gpu.usable_source
        assert 0.6 * gpu.memory_bytes < gpu.usable_bytes <= gpu.memory_bytes
    assert gpu.unified_memory == (gpu.vendor == "Apple")


def test_every_price_is_sourced_and_names_a_known_gpu():
    names = {g.name for g in hw.gpus()}
    assert len(hw.prices()) >= 20
    for p in hw.prices():
        assert p.gpu in names
        assert p.source.startswith("https://") and DATE.match(p.retrieved)
        assert 0.05 < p.usd_per_gpu_hour < 50
        assert p.gpus_per_instance >= 1


def test_prices_cover_the_major_providers():
    providers = {p.provider for p in hw.prices()}
    assert {"AWS", "Google Cloud", "Azure", "Lambda", "RunPod", "CoreWeave"} <= providers


@pytest.mark.parametrize("name,path,tflops", [
    # datasheet / whitepaper spot checks (dense)
    ("RTX-4080", "fp16acc", 194.9), ("RTX-4080", "bf16", 97.5), ("RTX-4080", "int8", 389.9),  # Ada whitepaper
    ("RTX-2080-Ti", "fp16", 53.8), ("RTX-2080-Ti", "int8", 215.2),  # Turing whitepaper (reference clock)
    ("RTX-3080", "fp16acc", 119.0),  # GA102 whitepaper
    ("RTX-A5000", "fp16", 111.1), ("RTX-A4000", "fp32", 19.2), ("RTX-5000-Ada", "fp8", 522.2),  # datasheets, halved
    ("A40", "bf16", 149.7), ("L40", "fp8", 362), ("A30", "int8", 330), ("P100", "fp16", 18.7), ("P40", "int8", 47),
    ("MI210", "bf16", 181), ("MI250", "fp16", 181.05), ("MI100", "bf16", 92.3), ("MI355X", "fp8", 5033.2),
    ("RX 7900 XTX", "fp16", 122.8), ("RX 7900 XTX", "fp32", 61.4), ("M1 Max", "fp16", 10.4), ("M1", "fp32", 2.6),
])
def test_new_entries_match_their_datasheets(name, path, tflops):
    assert hw.get_gpu(name).peak_flops(path) == pytest.approx(tflops * 1e12, rel=2e-3)


@pytest.mark.parametrize("name,gbs,gib", [
    ("RTX 3060", 360, 12), ("RTX 4060 Ti", 288, 16), ("RTX 4060 Ti 8GB", 288, 8), ("RTX 5070 Ti", 896, 16),
    ("RTX 3090 Ti", 1008, 24), ("A100-PCIe-40GB", 1555, 40), ("GH200", 4000, 96), ("H20", 4000, 96),
    ("MI355X", 8000, 288), ("7900 XT", 800, 20), ("W7900", 864, 48), ("M3 Max 30-core", 300, 96),
    ("M4 Max 32-core", 410, 36), ("M4 Pro", 273, 64), ("M3 Ultra", 819, 512), ("M1", 68.25, 16),
])
def test_new_entries_bandwidth_and_memory(name, gbs, gib):
    g = hw.get_gpu(name)
    assert (g.bandwidth, g.memory_bytes) == (gbs * 1e9, gib * GIB)


def test_gpus_without_a_usable_16_bit_rate_are_timed_in_fp32():
    from llmsize.speedmodel.efficiency import serve_path, train_path

    p40 = hw.get_gpu("P40")
    assert not p40.has("fp16") and serve_path("vllm", "bf16", p40) == train_path("bf16-mixed", p40) == "fp32"
    assert serve_path("llama.cpp", "Q4_0", p40) == "int8"  # DP4A
    p100 = hw.get_gpu("P100")
    assert serve_path("vllm", "bf16", p100) == "fp16" and serve_path("llama.cpp", "Q4_0", p100) == "fp16"
    assert serve_path("llama.cpp", "Q4_0", hw.get_gpu("M1 Max")) == "fp16"  # Metal: no int8 path listed


def test_every_alias_names_one_gpu():
    seen: dict[str, str] = {}
    for g in hw.gpus():
        for text in (g.name, *g.aliases):
            assert hw.get_gpu(text).name == g.name, text
            key = hw._norm(text)
            assert seen.setdefault(key, g.name) == g.name, (text, seen[key])


def test_exact_bytes_for_h100():
    h100 = hw.get_gpu("H100")
    assert h100.name == "H100-SXM"
    assert h100.memory_bytes == 80 * GIB == 85899345920
    assert h100.usable_bytes == 85045477376  # 79.2 GiB, CUDA deviceQuery
    assert round(h100.usable / GIB, 1) == 79.2
    assert h100.bandwidth == 3.35e12


def test_sparse_datasheet_figures_were_halved():
    assert hw.get_gpu("H100-SXM").peak_flops("bf16") == pytest.approx(989.5e12)
    assert hw.get_gpu("H100-SXM").peak_flops("fp8") == pytest.approx(1979e12)
    assert hw.get_gpu("A100").peak_flops("bf16") == pytest.approx(312e12)
    assert hw.get_gpu("L4").peak_flops("fp8") == pytest.approx(242.5e12)


# ------------------------------------------------------------------ lookups

@pytest.mark.parametrize("text,name", [
    ("H100", "H100-SXM"), ("h100-sxm", "H100-SXM"), ("H100 SXM5", "H100-SXM"), ("  h100_sxm ", "H100-SXM"),
    ("NVIDIA H100 80GB HBM3", "H100-SXM"), ("h100 pcie", "H100-PCIe"), ("H200", "H200-SXM"),
    ("a100", "A100-SXM-80GB"), ("A100-40GB", "A100-SXM-40GB"), ("Tesla T4", "T4"), ("t4", "T4"),
    ("NVIDIA GeForce RTX 4090", "RTX-4090"), ("rtx4090", "RTX-4090"), ("4090", "RTX-4090"),
    ("AMD Instinct MI300X", "MI300X"), ("mi300x", "MI300X"), ("m3 max", "M3-Max"), ("Apple M4 Max", "M4-Max"),
    ("TPU v5e", "TPU-v5e"), ("v5p", "TPU-v5p"), ("nvidia a10g", "A10G"), ("A10", "A10"),
    ("RTX 3060", "RTX-3060"), ("GeForce RTX 3060", "RTX-3060"), ("3060", "RTX-3060"), ("3060 Ti", "RTX-3060-Ti"),
    ("NVIDIA GeForce RTX 4070 Ti SUPER", "RTX-4070-Ti-Super"), ("4060 Ti", "RTX-4060-Ti-16GB"),
    ("M1 Max", "M1-Max"), ("Apple M1 Max", "M1-Max"), ("M1 Max 24-core", "M1-Max-24c"), ("m2 ultra 76-core", "M2-Ultra"),
    ("7900 XTX", "RX-7900-XTX"), ("Radeon RX 7900 XTX", "RX-7900-XTX"), ("AMD Radeon RX 7900 XTX", "RX-7900-XTX"),
    ("Tesla P40", "P40"), ("P100", "P100-PCIe-16GB"), ("H800", "H800-SXM"), ("A800", "A800-SXM-80GB"),
    ("Radeon PRO W7900", "W7900"), ("AMD Instinct MI210", "MI210"), ("RTX A5000", "RTX-A5000"), ("l40", "L40"),
])
def test_lookup_by_alias_and_odd_casing(text, name):
    assert hw.get_gpu(text).name == name
    assert hw.parse_gpu(text).name == name


def test_unknown_gpu_suggests_close_names():
    with pytest.raises(LlmsizeError, match=r"unknown GPU 'H100-SMX'.*did you mean.*H100-SXM"):
        hw.get_gpu("H100-SMX")


def test_prices_accept_aliases_and_cheapest_is_minimum():
    h100 = hw.prices("h100")
    assert h100 and all(p.gpu == "H100-SXM" for p in h100)
    cheapest = hw.cheapest_price("H100")
    assert cheapest.usd_per_gpu_hour == min(p.usd_per_gpu_hour for p in h100)
    assert hw.cheapest_price("M2 Ultra") is None  # not rented by the hour anywhere we know
    with pytest.raises(LlmsizeError):
        hw.prices("H10")


def test_instance_prices_are_per_gpu():
    p5 = next(p for p in hw.prices("H100") if p.instance == "p5.48xlarge")
    assert p5.gpus_per_instance == 8 and p5.usd_per_gpu_hour == pytest.approx(55.04 / 8)


# ------------------------------------------------------------------ peak_flops rules

def test_peak_flops_normalises_dtype_names():
    h100 = hw.get_gpu("H100")
    assert h100.peak_flops("bfloat16") == h100.peak_flops("BF16") == h100.peak_flops("bf16")
    assert h100.peak_flops("float8_e4m3fn") == h100.peak_flops("fp8")
    assert h100.peak_flops("half") == h100.peak_flops("fp16")
    with pytest.raises(LlmsizeError, match="unknown dtype"):
        h100.peak_flops("fp7")


def test_missing_unit_raises_rather_than_emulating():
    with pytest.raises(LlmsizeError, match="A100-SXM-80GB has no fp8 units"):
        hw.get_gpu("A100").peak_flops("fp8")
    with pytest.raises(LlmsizeError, match="no bf16 units"):
        hw.get_gpu("V100").peak_flops("bf16")
    assert not hw.get_gpu("T4").has("bf16")
    assert hw.get_gpu("T4").has("fp16")


def test_unlisted_rates_fall_back_only_where_documented():
    assert hw.get_gpu("M3 Max").peak_flops("bf16") == hw.get_gpu("M3 Max").peak_flops("fp16")
    assert hw.get_gpu("TPU v5e").peak_flops("fp16") == 197e12
    assert hw.get_gpu("TPU v5e").peak_flops("int8") == 393e12
    with pytest.raises(LlmsizeError, match="no fp8 rate is known for M3-Max"):
        hw.get_gpu("M3 Max").peak_flops("fp8")
    tf32_less = _gpu(flops={"fp32": 10e12})
    assert tf32_less.peak_flops("tf32") == 10e12


# ------------------------------------------------------------------ dataclass validation

@pytest.mark.parametrize("over", [
    {"memory_bytes": 0}, {"memory_bytes": -1}, {"memory_bytes": 1.5}, {"memory_bytes": True},
    {"bandwidth": 0.0}, {"bandwidth": -3.0}, {"bandwidth": float("nan")}, {"tdp_watts": 0},
    {"pcie_bw": -1.0}, {"interconnect_bw": 0}, {"usable_bytes": 0}, {"usable_bytes": 9 * GIB},
    {"flops": {"bf16": -1.0}}, {"flops": {"fp6": 1e15}}, {"flops": {"bf16": float("inf")}},
    {"name": ""}, {"source": "  "}, {"aliases": ("",)},
])
def test_gpu_rejects_bad_values(over):
    with pytest.raises(LlmsizeError):
        _gpu(**over)


def test_gpu_is_frozen_and_hashable():
    g = _gpu(aliases=["y"])
    assert g.aliases == ("y",)
    with pytest.raises(AttributeError):
        g.memory_bytes = 1  # type: ignore[misc]
    with pytest.raises(TypeError):
        g.flops["bf16"] = 1.0  # type: ignore[index]
    assert hash(g) == hash(_gpu(aliases=["y"]))


@pytest.mark.parametrize("over", [
    {"usd_per_gpu_hour": 0}, {"usd_per_gpu_hour": -2.0}, {"gpus_per_instance": 0},
    {"gpus_per_instance": 1.5}, {"retrieved": "last week"}, {"source": ""},
])
def test_price_rejects_bad_values(over):
    args = dict(gpu="H100-SXM", provider="P", usd_per_gpu_hour=2.0, source="s", retrieved="2026-01-01")
    args.update(over)
    with pytest.raises(LlmsizeError):
        Price(**args)


# ------------------------------------------------------------------ custom sizes

def test_custom_gpu():
    g = hw.custom_gpu(24, bandwidth_gbs=936, bf16_tflops=71)
    assert g.memory_bytes == 24 * GIB
    assert g.bandwidth == 936e9
    assert g.peak_flops("bf16") == 71e12 and g.peak_flops("fp16") == 71e12
    bare = hw.custom_gpu(12.5)
    assert bare.memory_bytes == int(12.5 * GIB) and bare.bandwidth is None
    with pytest.raises(LlmsizeError, match="no bf16 rate"):
        bare.peak_flops("bf16")
    for bad in (0, -4, float("nan")):
        with pytest.raises(LlmsizeError):
            hw.custom_gpu(bad)
    with pytest.raises(LlmsizeError):
        hw.custom_gpu(24, bandwidth_gbs=0)


@pytest.mark.parametrize("text,nbytes", [
    ("24GiB", 24 * GIB), ("24 GiB", 24 * GIB), ("24gib", 24 * GIB), ("24GB", 24_000_000_000),
    ("80GB", 80_000_000_000), ("0.5TiB", 512 * GIB), ("1TB", 10**12), ("12.5GiB", int(12.5 * GIB)),
])
def test_parse_gpu_sizes(text, nbytes):
    g = hw.parse_gpu(text)
    assert g.memory_bytes == nbytes and g.vendor == "custom"


@pytest.mark.parametrize("text", ["80G", "80", "24 g", "1T"])
def test_parse_gpu_demands_a_unit(text):
    with pytest.raises(LlmsizeError, match="needs a unit"):
        hw.parse_gpu(text)


@pytest.mark.parametrize("text", ["24XB", "24 MiB", "0GiB", "H10", "", "big gpu"])
def test_parse_gpu_rejects_bad_input(text):
    with pytest.raises(LlmsizeError):
        hw.parse_gpu(text)


@pytest.mark.parametrize("name, module_tflops", [("MI250X", 383), ("MI250", 362.1)])
def test_an_mi250_gpu_is_one_gcd_as_software_sees_it(name, module_tflops):
    """ROCm, PyTorch and the engines see each of an OAM module's two GCDs as a GPU: the row is one GCD, every
    module figure halved (64 of 128 GiB, 1.6384 of 3.2768 TB/s), so no "GPU" holds what one device cannot."""
    g = hw.get_gpu(name)
    assert g.memory_bytes == 64 * 2**30 and g.bandwidth == pytest.approx(3.2768e12 / 2)
    assert g.peak_flops("bf16") == pytest.approx(module_tflops * 1e12 / 2)
    assert hw.get_gpu(f"{name}-GCD") is g
