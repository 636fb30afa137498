"""One per-GPU training model: `plan` and `train --gpus` give the same bytes for a layout, and the
properties the per-GPU model must keep (sharding never adds memory except where FSDP2 pads,
full shard ≤ shard grad op ≤ DDP, offload never adds GPU memory)."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from llmsize.errors import LlmsizeError
from llmsize.load import from_knobs, load
from llmsize.memory import Workload
from llmsize.memory.fsdp import FsdpSetup, fsdp2_peak
from llmsize.parallel import Layout
from llmsize.pergpu import job_memory, route, train_memory
from llmsize.planner.jobs import TrainJob
from llmsize.planner.search import plan_train, with_steps

WL = Workload(mode="train", batch=1, seq_len=512, grad_checkpointing=True)


@pytest.fixture(scope="module")
def small():
    return load("Llama-3.2-1B").spec


def cli(*args):
    return subprocess.run([sys.executable, "-c", "from llmsize.cli import main; main()", *args],
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("label, flags", [
    ("DP8 FSDP-full_shard", ["--fsdp", "full_shard"]),
    ("DP8", []),
    ("DP8 ZeRO-3", ["--zero", "3"]),
    ("DP8 ZeRO-1", ["--zero", "1"]),
])
def test_plan_and_train_gpus_give_the_same_bytes(small, label, flags):
    """`plan` scores DP8 layouts of this job; `train --gpus 8` with the same micro-batch, steps,
    precision and recomputation prints the same per-GPU peak, to the byte."""
    from llmsize.catalog.hardware import get_gpu

    job = TrainJob(seq_len=1024, micro_batch=2, global_batch=64, precision="bf16-mixed", recompute=True)
    from llmsize.planner.jobs import train_breakdown

    cands = plan_train(small, job, train_breakdown(small, job), [get_gpu("H100")], counts=(8,))
    c = next(c for c in cands if c.layout.label() == label)
    r = cli("train", "Llama-3.2-1B", "--gpus", "8", *flags, "--batch", "2", "--seq-len", "1024", "--amp", "bf16",
            "--grad-checkpointing", "--grad-accum", str(c.layout.grad_accum), "--json")
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout)["per_gpu"]
    assert got["layout"] == label
    assert got["peak_bytes_per_gpu"] == c.memory.peak_bytes
    assert sum(t["bytes"] for t in got["terms"]) == got["peak_bytes_per_gpu"] or got["model"] != "replayed"


def test_job_memory_is_train_memory_on_replayed_layouts(small):
    job = TrainJob(seq_len=512, micro_batch=1, global_batch=16, recompute=True)
    for lay in (Layout(dp=8, engine="fsdp", zero=3, fsdp="full_shard"), Layout(dp=8, engine="ddp")):
        lay = with_steps(job, lay)
        wl = Workload(mode="train", batch=1, seq_len=512, weights_dtype="fp32", autocast="bf16",
                      grad_checkpointing=True, grad_accumulation=lay.grad_accum)
        assert route(lay, wl, small) != "placed"
        assert job_memory(small, job, lay).peak_bytes == train_memory(small, wl, lay).peak_bytes


@pytest.mark.parametrize("raf", [True, False])
def test_fsdp_never_grows_with_more_gpus_on_dense_models(small, raf):
    """Dims divisible by W (2..64): no padding, so each doubling only removes bytes."""
    prev = None
    for w in (1, 2, 4, 8, 16, 32, 64):
        b = fsdp2_peak(small, WL, FsdpSetup(world=w, reshard_after_forward=raf)).peak_bytes
        assert prev is None or b <= prev, w
        prev = b


def test_fsdp2_pads_expert_stacks_beyond_the_expert_count_and_shard_placement_fixes_it():
    """8 experts: at W = 16 and 32 FSDP2's dim-0 sharding gives every rank one whole (padded) expert
    and every all-gather/reduce-scatter buffer W experts, so memory per GPU GROWS; sharding the
    stacks on dim 1 (shard_placement_fn → Shard(1)) keeps it shrinking."""
    moe = from_knobs(hidden=1024, layers=4, heads=16, kv_heads=4, ffn=2048, vocab=32000, experts=8, top_k=2)
    dim0 = [fsdp2_peak(moe, WL, FsdpSetup(world=w)).peak_bytes for w in (4, 8, 16, 32)]
    dim1 = [fsdp2_peak(moe, WL, FsdpSetup(world=w, experts_dim1=True)).peak_bytes for w in (4, 8, 16, 32)]
    assert dim0[0] > dim0[1] and dim0[2] > dim0[1] and dim0[3] > dim0[2]  # grows past W = E
    assert dim1 == sorted(dim1, reverse=True) and len(set(dim1)) == 4
    assert dim1[:2] == dim0[:2]  # W ≤ E: dim 0 and dim 1 shard the same bytes
    with pytest.raises(LlmsizeError, match="Shard\\(1\\)"):
        fsdp2_peak(moe, WL, FsdpSetup(world=3, experts_dim1=True))


def test_full_shard_le_shard_grad_op_le_ddp(small):
    wl = Workload(mode="train", batch=2, seq_len=1024, weights_dtype="fp32", autocast="bf16")
    for dp in (2, 8, 64):
        fs = train_memory(small, wl, Layout(dp=dp, engine="fsdp", zero=3, fsdp="full_shard")).peak_bytes
        sgo = train_memory(small, wl, Layout(dp=dp, engine="fsdp", zero=2, fsdp="shard_grad_op")).peak_bytes
        ddp = train_memory(small, wl, Layout(dp=dp, engine="ddp")).peak_bytes
        assert fs <= sgo <= ddp, dp


def test_hybrid_shard_sits_between_full_shard_and_ddp(small):
    wl = Workload(mode="train", batch=1, seq_len=1024)
    full = train_memory(small, wl, Layout(dp=16, engine="fsdp", zero=3, fsdp="full_shard")).peak_bytes
    hy = train_memory(small, wl, Layout(dp=16, engine="fsdp", zero=3, fsdp="hybrid_shard", shard_group=4)).peak_bytes
    ddp = train_memory(small, wl, Layout(dp=16, engine="ddp")).peak_bytes
    assert full < hy < ddp


def test_offload_never_adds_gpu_memory(small):
    wl = Workload(mode="train", batch=1, seq_len=1024, weights_dtype="fp32", autocast="bf16")
    for z in (1, 2, 3):
        base = train_memory(small, wl, Layout(dp=8, engine="deepspeed", zero=z)).peak_bytes
        opt = train_memory(small, wl, Layout(dp=8, engine="deepspeed", zero=z, offload_optimizer="cpu")).peak_bytes
        assert opt <= base
        if z == 3:
            both = train_memory(small, wl, Layout(dp=8, engine="deepspeed", zero=3, offload_optimizer="cpu",
                                                  offload_params="cpu")).peak_bytes
            assert both <= opt


def test_tp_replay_never_grows_with_more_ranks(small):
    wl = Workload(mode="train", batch=1, seq_len=1024)
    peaks = [train_memory(small, wl, Layout(tp=t, engine="ddp")).peak_bytes for t in (1, 2, 4, 8)]
    assert peaks == sorted(peaks, reverse=True)


def test_rank_zero_holds_the_most_under_uneven_sharding():
    gpt2 = load("gpt2").spec  # vocab 50257 over 4 ranks: the last rank holds 3 rows fewer
    r0 = fsdp2_peak(gpt2, WL, FsdpSetup(world=4, rank=0)).peak_bytes
    r3 = fsdp2_peak(gpt2, WL, FsdpSetup(world=4, rank=3)).peak_bytes
    assert r0 - r3 == 3 * 768 * 2 * 2  # two AdamW states of 3 bf16 rows


@pytest.mark.parametrize("args, msg", [
    (["--fsdp", "full_shard"], "needs --gpus"),
    (["--gpus", "6", "--tp", "4"], "not divisible"),
    (["--gpus", "8", "--fsdp", "full_shard", "--zero", "3"], "two engines"),
    (["--gpus", "8", "--fsdp", "full_shard", "--rank", "8"], "rank must be 0 to 7"),
    (["--gpus", "8", "--fsdp", "shard_grad_op", "--reshard-after-forward"], "shard_grad_op"),
    (["--gpus", "8", "--zero", "3", "--rank", "1"], "--rank applies"),
])
def test_layout_errors_are_one_line_exit_2(args, msg):
    r = cli("train", "Llama-3.2-1B", *args)
    assert r.returncode == 2 and msg in r.stderr and "Traceback" not in r.stderr


@pytest.mark.parametrize("p, v", [(2, 2), (4, 2), (4, 4), (8, 3)])
def test_interleaved_schedule_first_stage_factor(p, v):
    """Megatron's interleaved 1F1B: stage 0 holds p·v + p − 1 chunks of L_s/v layers, i.e.
    1 + (p − 1)/(p·v) times 1F1B's p micro-batches (Korthikanti et al. 2022), with m ≥ p micro-batches."""
    from fractions import Fraction

    from llmsize.parallel import in_flight_chunks

    assert Fraction(in_flight_chunks(p, 0, 4 * p, v), v) == p * (1 + Fraction(p - 1, p * v))
    assert in_flight_chunks(p, 0, 4 * p, 1) == p
    assert all(in_flight_chunks(p, s, 4 * p, v) >= in_flight_chunks(p, s + 1, 4 * p, v) for s in range(p - 1))
    assert in_flight_chunks(p, 0, 1, v) == v  # one micro-batch: every chunk once


def test_two_d_fsdp_tp_is_the_tp_local_model_sharded_over_dp(small):
    wl = Workload(mode="train", batch=1, seq_len=1024)
    lay = Layout(dp=4, tp=2, engine="fsdp", zero=3, fsdp="full_shard")
    from llmsize.memory.tp import tp_spec

    assert route(lay, wl, small) == "fsdp"
    assert train_memory(small, wl, lay).peak_bytes == fsdp2_peak(tp_spec(small, 2), wl, FsdpSetup(world=4)).peak_bytes
    assert train_memory(small, wl, lay).peak_bytes < train_memory(small, wl, Layout(dp=4, engine="fsdp", zero=3,
                                                                                     fsdp="full_shard")).peak_bytes


def test_plan_and_train_gpus_agree_on_megatron_layouts(small):
    from llmsize.catalog.hardware import get_gpu
    from llmsize.planner.jobs import train_breakdown

    job = TrainJob(seq_len=1024, micro_batch=1, global_batch=64, precision="bf16-mixed", recompute=True)
    cands = plan_train(small, job, train_breakdown(small, job), [get_gpu("H100")], counts=(8,))
    c = next(c for c in cands if c.layout.label() == "TP2 DP4 dist-opt")
    r = cli("train", "Llama-3.2-1B", "--gpus", "8", "--tp", "2", "--sequence-parallel", "--zero", "1",
            "--seq-len", "1024", "--amp", "bf16", "--grad-checkpointing", "--grad-accum",
            str(c.layout.grad_accum), "--json")
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout)["per_gpu"]
    assert got["layout"] == "TP2 DP4 dist-opt" and got["peak_bytes_per_gpu"] == c.memory.peak_bytes
