"""Expert parallelism in the per-GPU memory model and in the training planner: an expert's states shard
over its expert-data-parallel ranks (DP·TP·CP/EP), not over all DP ranks, and `plan --train` tries EP
layouts for a mixture of experts (liu2025folding)."""
from __future__ import annotations

import pytest

from llmsize.catalog.hardware import get_gpu
from llmsize.load import load_preset
from llmsize.parallel import Breakdown, Layout, per_gpu, placement
from llmsize.parallel_states import expert_shard
from llmsize.params import count
from llmsize.planner.jobs import TrainJob
from llmsize.planner.search import expert_parallel_sizes, plan_train, train_layouts


def load_model(name):
    return load_preset(name).spec


@pytest.fixture(scope="module")
def moe():
    return load_model("Qwen3-30B-A3B")


def _bd(spec):
    p = count(spec).total
    return Breakdown(weights=2 * p, gradients=2 * p, master_weights=4 * p, optimizer=8 * p,
                     activations=spec.num_layers * 10**7, transient=10**7, kv_cache=0,
                     weight_bytes_per_param=2, grad_bytes_per_param=2)


def _term(mem, name):
    return next(t.value for t in mem.terms if t.name == name)


def test_expert_shard_is_the_expert_data_parallel_group():
    assert expert_shard(Layout(dp=8, ep=8, zero=1, engine="megatron")) == 1
    assert expert_shard(Layout(dp=16, ep=8, zero=1, engine="megatron")) == 2
    assert expert_shard(Layout(dp=16, tp=2, ep=8, zero=1, engine="megatron")) == 4  # TP ranks share experts
    assert expert_shard(Layout(dp=8, ep=1, zero=1, engine="megatron")) == 8  # experts dense at EP 1
    assert expert_shard(Layout(dp=8, ep=8)) == 1  # nothing sharded without ZeRO


def test_ep_optimizer_states_by_hand(moe):
    """DP8 EP8 ZeRO-1: the dense parameters' Adam states split over 8 GPUs, the GPU's 16 of 128 experts
    keep theirs whole (no other GPU holds those experts): O = 8 B × (P_dense/8 + P_experts)."""
    b, lay = _bd(moe), Layout(dp=8, ep=8, zero=1, engine="megatron")
    P = placement(moe, 1, 1, 8)
    dense, experts = P.per_stage[0] - P.experts_per_stage[0], P.experts_per_stage[0]
    assert experts > 0 and experts * 8 > 20 * 10**9  # ~29B routed parameters over 8 GPUs
    mem = per_gpu(moe, b, lay)
    total = count(moe).total
    want = b.optimizer * dense // total // 8 + b.optimizer * experts // total
    assert _term(mem, "optimizer") == want
    # and what sharding every state over all 8 DP ranks would have claimed is 5.9x smaller
    assert _term(mem, "optimizer") > 5 * (b.optimizer * P.per_stage[0] // total // 8)


def test_ep_one_is_unchanged(moe):
    """Without EP the experts are dense parameters: every state shards over N_d as before."""
    b = _bd(moe)
    mem = per_gpu(moe, b, Layout(dp=8, zero=3, engine="fsdp", fsdp="full_shard"))
    P = placement(moe, 1, 1, 1)
    assert P.experts_per_stage == (0,)
    assert _term(mem, "optimizer") == b.optimizer * P.per_stage[0] // count(moe).total // 8


def test_more_expert_data_parallel_ranks_never_add_memory(moe):
    b = _bd(moe)
    per = [per_gpu(moe, b, Layout(dp=d, ep=8, zero=3, engine="fsdp", fsdp="full_shard")).peak_bytes
           for d in (8, 16, 32, 64)]
    assert per == sorted(per, reverse=True) and per[-1] < per[0]


def test_expert_parallel_sizes(moe):
    assert expert_parallel_sizes(moe, 16) == [2, 4, 8, 16]
    assert expert_parallel_sizes(moe, 12) == [2, 4]
    assert expert_parallel_sizes(load_model("Llama-3.1-8B"), 16) == []


def test_planner_tries_and_prefers_expert_parallel_for_moe(moe):
    """A 30B-A3B MoE on H100s: the best training setup splits the experts (their GEMMs get EP times the
    rows), and a dense model is never offered EP."""
    job = TrainJob(seq_len=4096, micro_batch=1, global_batch=512, recompute=True, tokens=10**11)
    assert any(l.ep > 1 for l in train_layouts(moe, job, 16))
    from llmsize.planner import jobs

    ok = [c for c in plan_train(moe, job, jobs.train_breakdown(moe, job), [get_gpu("H100")], counts=(8, 16, 32))
          if c.kind == "ok"]
    best = min(ok, key=lambda c: c.seconds * c.gpus)  # GPU-hours: no prices given here
    assert best.layout.ep > 1
    no_ep = [c for c in ok if c.layout.ep == 1]
    assert best.tokens_per_s / best.gpus > 1.5 * max(c.tokens_per_s / c.gpus for c in no_ep)
    dense = load_model("Llama-3.1-8B")
    assert all(l.ep == 1 for l in train_layouts(dense, job, 16))
