"""CPU/NVMe offload in the planner: host memory per node is checked, offloaded steps are slowed by the
PCIe transfers and the host's optimizer step, and setups are ranked on those slower times."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from llmsize.catalog.hardware import get_gpu, parse_bytes
from llmsize.errors import LlmsizeError
from llmsize.parallel import Breakdown, Layout, offloaded_states
from llmsize.perf import offload_step_time
from llmsize.planner import plan_report
from llmsize.planner.jobs import DEFAULT_HOST_MEMORY, TrainJob

from planner_specs import LLAMA_2_7B, LLAMA_31_70B, spec
from test_anchors import DS_BF16, T5_3B, T5_LARGEST

TIB = 2**40


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", "from llmsize.cli import main; main()", *args],
                          capture_output=True, text=True)


def _fewest(*extra: str) -> dict:
    r = run("fit", "Llama-3.1-70B", "--train", "--gpu", "H100", "--find", "gpus", "--json", *extra)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)["fewest_gpus"]


def test_default_host_memory_is_a_dgx_h100s_2_tib():
    assert DEFAULT_HOST_MEMORY == 2 * TIB == parse_bytes("2TiB")
    assert parse_bytes("2TB") == 2 * 10**12 and parse_bytes("1.5 TiB") == 3 * 2**39
    with pytest.raises(LlmsizeError, match="cannot read"):
        parse_bytes("2")


def test_70b_on_one_h100_is_checked_against_host_memory_and_slowed():
    """`fit Llama-3.1-70B --train --gpu H100 --find gpus` answered 1 x H100 with ZeRO-3 CPU offload at full
    speed and 1.27 TB of host memory unchecked. It still fits a 2 TiB node (18 bytes per parameter on the
    host), but its row now carries the host bytes per node and a step slowed by PCIe and the host's
    optimizer step."""
    r = _fewest()
    assert r["gpus"] == 1 and r["offload_params"] == "cpu" and r["offload_optimizer"] == "cpu"
    assert r["host_memory_bytes"] == 2 * TIB
    assert r["host_bytes_per_node"] == r["host_bytes"] <= 2 * TIB
    assert r["host_bytes_per_node"] == pytest.approx(18 * 70_553_706_496, rel=0.001)
    assert r["offload_slowdown"] > 1.05
    h100 = get_gpu("H100")
    from llmsize.load import load
    from llmsize.planner.search import _train_rate

    # the rate without offload: DeepSpeed's achieved efficiency on an H100, recomputation as hardware work
    lay = Layout(engine="deepspeed", zero=3, dp=1, grad_accum=1024, offload_optimizer="cpu", offload_params="cpu")
    full_speed = _train_rate(load("Llama-3.1-70B").spec, TrainJob(tokens=1e12), h100, lay).tokens_per_s_per_gpu
    assert r["tokens_per_s"] == pytest.approx(full_speed / r["offload_slowdown"], rel=1e-6)
    step = r["offload_step"]
    # the parameters come over PCIe twice per micro-batch (forward, backward), 2 bytes each, 64 GB/s each way
    assert step["h2d_forward_bytes"] == step["h2d_backward_bytes"] == pytest.approx(2 * 70_553_706_496, rel=0.001)
    assert step["link_bytes_per_s"] == h100.pcie_bw / 2 and step["host_step_s"] > 0


def test_less_host_memory_rejects_offload_with_the_reason_host_memory():
    r = _fewest("--host-memory", "1TiB")
    assert r["gpus"] >= 16 and r.get("host_bytes_per_node", 0) <= TIB
    job = TrainJob(host_memory=TIB)
    rep = plan_report(spec(LLAMA_31_70B, "Llama-3.1-70B"), job, gpu_names=["H100"], counts=(1, 8), top=5)
    assert rep["feasible"] == 0 and rep["rejected"]["counts"]["host"] >= 2
    ex = rep["rejected"]["examples"]["host"]
    assert all(e["reason"].startswith("host memory: offloads ") and "--host-memory" in e["reason"] for e in ex)


def test_host_bytes_per_node_are_deepspeeds_cpu_estimate():
    """DeepSpeed memory.rst's CPU side (estimate_zero2/zero3_model_states_mem_needs with zero_init, before its
    1.5 'additional_buffer_factor' margin): ZeRO-2 and ZeRO-3 optimizer offload 16Ψ per node, ZeRO-3 optimizer
    + parameter offload 18Ψ per node, whatever the GPUs of the node. Each GPU keeps its own W/N_d partition
    on the host (before: the whole W per GPU, 8x too much on 8 GPUs).

    Source: deepspeed-memory"""
    for dp in (1, 2, 8):
        for zero, opt, par, per_param in ((2, "cpu", "none", 16), (3, "cpu", "none", 16), (3, "cpu", "cpu", 18)):
            lay = Layout(dp=dp, engine="deepspeed", zero=zero, offload_optimizer=opt, offload_params=par)
            _, cpu, nvme = offloaded_states(DS_BF16, lay, params_on_gpu=T5_3B, total_params=T5_3B,
                                            largest_unit=T5_LARGEST)
            assert nvme == 0 and cpu * dp == pytest.approx(per_param * T5_3B, abs=dp), (dp, zero, opt, par)
    lay = Layout(dp=8, engine="deepspeed", zero=3, offload_optimizer="nvme", offload_params="cpu")
    _, cpu, nvme = offloaded_states(DS_BF16, lay, params_on_gpu=T5_3B, total_params=T5_3B, largest_unit=T5_LARGEST)
    assert cpu * 8 == pytest.approx(2 * T5_3B, abs=8) and nvme * 8 == pytest.approx(16 * T5_3B, abs=8)


@pytest.mark.parametrize("h2d, d2h, up, host, want", [
    (0, 0, 0, 0, 10.0),  # nothing moved: the compute
    (32e9, 32e9, 0, 0, 10.0),  # 0.5 s each way, hidden under 2.5 s forward / 7.5 s backward
    (320e9, 0, 0, 0, 12.5),  # forward: the 5 s fetch outlasts 2.5 s of compute; backward: 7.5 s hides it
    (0, 0, 64e9, 0, 11.0),  # the updated parameters back: 1 s on the critical path
    (0, 0, 0, 563.2e9, 11.0),  # the host's optimizer step: 1 s at 563.2 GB/s
])
def test_offload_step_time_overlaps_passes_and_serialises_the_update(h2d, d2h, up, host, want):
    t = offload_step_time(micro_batch_s=10.0, micro_batches=1, forward_share=0.25, h2d_forward=int(h2d),
                          h2d_backward=int(h2d), d2h_backward=int(d2h), h2d_step=int(up), pcie_bw=128e9,
                          host_step_bytes=int(host), host_bw=563.2e9)
    assert t.step_s == pytest.approx(want) and t.slowdown == pytest.approx(want / 10)


def test_offloaded_setups_are_ranked_on_their_slower_time():
    """Among 8-GPU setups of a 13B model, each offloaded one is slower than its in-GPU twin and costs more."""
    s = spec(dict(LLAMA_2_7B, hidden_size=5120, intermediate_size=13824, num_hidden_layers=40, num_attention_heads=40,
                  num_key_value_heads=40), "Llama-2-13B")
    p = 13_000_000_000
    bd = Breakdown(weights=2 * p, gradients=2 * p, master_weights=4 * p, optimizer=8 * p, activations=2**33,
                   weight_bytes_per_param=2, grad_bytes_per_param=2)
    rep = plan_report(s, TrainJob(tokens=1e11, global_batch=64), gpu_names=["H100"], counts=(8,), breakdown=bd,
                      top=100, prices={"H100-SXM": 3.0})
    rows = {r["layout"]: r for r in rep["setups"]}
    plain, off = rows["DP8 ZeRO-3"], rows["DP8 ZeRO-3 opt->cpu"]
    assert off["tokens_per_s"] < plain["tokens_per_s"] and off["usd"] > plain["usd"]
    assert rep["setups"].index(off) > rep["setups"].index(plain)


def test_nvme_offload_needs_nvme_capacity():
    lay = ("--gpus", "8", "--zero", "3", "--offload-optimizer", "nvme", "--offload-params", "nvme")
    r = run("fit", "Llama-3.1-70B", "--train", "--gpu", "H100", "--find", "batch", "--json", *lay)
    off = json.loads(r.stdout)["offload"]
    assert not off["fits"] and off["reason"].startswith("NVMe: ") and "--nvme" in off["reason"]
    assert off["host_bytes_per_node"] == 0 and off["nvme_bytes_per_node"] > 10**12
    r = run("fit", "Llama-3.1-70B", "--train", "--gpu", "H100", "--find", "batch", "--json", "--nvme", "30TB", *lay)
    off = json.loads(r.stdout)["offload"]
    assert off["fits"] and off["nvme_bytes"] == 30 * 10**12


def test_speed_of_an_offloaded_layout_is_slower():
    base = ("speed", "Llama-3.1-70B", "--train", "--gpu", "H100", "--tokens", "1e9", "--gpus", "8", "--zero", "3",
            "--global-batch", "64", "--json")
    plain = json.loads(run(*base).stdout)
    off = json.loads(run(*base, "--offload-optimizer", "cpu", "--offload-params", "cpu").stdout)
    assert off["tokens_per_s"] == pytest.approx(plain["tokens_per_s"] / off["offload"]["offload_slowdown"])
    assert off["offload"]["offload_slowdown"] > 1 and off["offload"]["fits"]


@pytest.mark.parametrize("value, msg", [("2", "cannot read '2'"), ("0TB", "must be between"), ("lots", "cannot read")])
def test_bad_host_memory_exits_2(value, msg):
    r = run("plan", "Llama-3.1-8B", "--train", "--host-memory", value)
    assert r.returncode == 2 and msg in r.stderr and r.stderr.count("\n") == 1, r.stderr
