"""Export plans FSDP hybrid_shard with its shard group (memory sharded over the group, not all DP GPUs), and
a training export's global batch divides every data-parallel size on the GPUs it is given."""
from __future__ import annotations

import shlex
import pytest

from llmsize.errors import LlmsizeError
from llmsize.export.command import run_export
from llmsize.load import load
from llmsize.parallel import Layout
from llmsize.pergpu import job_memory
from llmsize.planner.jobs import make_job
from llmsize.planner.search import with_steps

from tests.planner.test_export import _need


def _mem(model: str, group: int | None, dp: int = 64) -> int:
    spec, job = load(model).spec, make_job("train")
    lay = Layout(dp=dp, engine="fsdp", fsdp="hybrid_shard", zero=3, shard_group=group)
    return job_memory(spec, job, with_steps(job, lay)).peak_bytes


def test_hybrid_shard_memory_is_planned_over_the_shard_group():
    # params + grads + AdamW states of 70B over 8 GPUs do not fit an H100; over 32 they do
    by_group = {g: _mem("Llama-3.1-70B", g) for g in (8, 16, 32, 64)}
    assert by_group[8] > by_group[16] > by_group[32] > by_group[64]
    assert by_group[8] > 160 * 2**30 and by_group[32] < 60 * 2**30
    full = job_memory(load("Llama-3.1-70B").spec, make_job("train"),
                      with_steps(make_job("train"), Layout(dp=64, engine="fsdp", fsdp="full_shard", zero=3)))
    assert by_group[64] == full.peak_bytes  # one group of all 64 GPUs is full_shard


def test_70b_hybrid_shard_on_64_h100_is_refused_with_the_shard_group_that_fits():
    with pytest.raises(LlmsizeError) as e:
        run_export("fsdp", "Llama-3.1-70B", gpu_name="H100", gpus=64, fsdp="hybrid_shard")
    msg = str(e.value)
    assert "DP64 FSDP-hybrid_shard(8) does not fit" in msg and "needs 16" in msg  # 164.x GiB with 8 per group
    assert "smallest change that fits is --shard-group 32" in msg
    out = run_export("fsdp", "Llama-3.1-70B", gpu_name="H100", gpus=64, fsdp="hybrid_shard", shard_group=32)
    assert "given layout DP64 FSDP-hybrid_shard(32) fits, 52." in out.notes[-1]
    forced = run_export("fsdp", "Llama-3.1-70B", gpu_name="H100", gpus=64, fsdp="hybrid_shard", force=True)
    assert "HYBRID_SHARD" in forced.text and "--force" in forced.notes[-1]


@pytest.mark.parametrize("model, gpus, group, per_node", [("Llama-3.1-8B", 64, None, 8), ("Llama-3.1-8B", 32, 16, 8),
                                                          ("Llama-3.1-70B", 64, 32, 8), ("Llama-3.1-8B", 16, None, 4)])
def test_round_trip_plan_export_accelerate_same_layout_and_shard_group(tmp_path, model, gpus, group, per_node):
    ca = _need("accelerate.commands.config.config_args")
    out = run_export("fsdp", model, gpu_name="H100", gpus=gpus, fsdp="hybrid_shard", shard_group=group,
                     gpus_per_node=per_node)
    want = group or per_node
    assert f"FSDP-hybrid_shard({want}) fits" in out.notes[-1]
    f = tmp_path / "a.yaml"
    f.write_text(out.text + "\n")
    cfg = ca.load_config_from_file(str(f))
    assert cfg.num_processes == gpus and cfg.num_machines == gpus // per_node
    if cfg.fsdp_config.get("fsdp_version") == 2:  # FSDP2: the group is accelerate's dp_shard_size
        pc = cfg.parallelism_config
        got = pc["parallelism_config_dp_shard_size"]
        assert got * pc["parallelism_config_dp_replicate_size"] == gpus
    else:  # FSDP1 HYBRID_SHARD shards inside a node
        assert cfg.fsdp_config["fsdp_sharding_strategy"] == "HYBRID_SHARD"
        got = cfg.num_processes // cfg.num_machines
    assert got == want
    # the memory export printed is the one planned with that group
    mem = _mem(model, want, gpus)
    assert f"{mem / 2**30:,.1f} GiB per GPU" in out.notes[-1]


def test_shard_group_is_refused_where_it_means_nothing():
    with pytest.raises(LlmsizeError, match="for --fsdp hybrid_shard"):
        run_export("fsdp", "Llama-3.1-8B", gpus=16, fsdp="full_shard", shard_group=8)
    with pytest.raises(LlmsizeError, match="must divide"):
        run_export("fsdp", "Llama-3.1-8B", gpus=16, fsdp="hybrid_shard", shard_group=6)
    with pytest.raises(LlmsizeError, match="no FSDP hybrid"):
        run_export("deepspeed", "Llama-3.1-8B", gpus=16, fsdp="hybrid_shard")


def test_torchrun_12_gpus_world_size_and_a_batch_every_dp_divides():
    trun = _need("torch.distributed.run")
    out = run_export("torchrun", "Llama-3.1-8B", gpu_name="H100", gpus=12)
    assert "global batch 1020, not the planner's 1024" in out.notes[0]
    argv = shlex.split(out.text.replace("$NODE_RANK", "0").replace("$MASTER_ADDR", "h"))[1:]
    a = trun.get_args_parser().parse_args(argv)
    assert int(a.nnodes) * int(a.nproc_per_node) == 12
    ds = run_export("deepspeed", "Llama-3.1-8B", gpu_name="H100", gpus=12)
    import json

    cfg = json.loads(ds.text)
    assert cfg["train_batch_size"] == 1020 == cfg["train_micro_batch_size_per_gpu"] * \
        cfg["gradient_accumulation_steps"] * 12
    # a global batch given that no DP on 12 GPUs divides is refused with the nearest that do
    with pytest.raises(LlmsizeError, match="--global-batch 996 or --global-batch 1008"):
        run_export("deepspeed", "Llama-3.1-8B", gpu_name="H100", gpus=12, global_batch=1000)
    # a power-of-two count keeps the planner's batch
    assert not any("global batch" in n for n in run_export("torchrun", "Llama-3.1-8B", gpu_name="H100", gpus=16).notes)


def test_given_layout_is_scored_itself_not_matched_to_search_rows():
    # parameter offload on 16 GPUs is not among the search's layouts (it offloads params on one node only)
    out = run_export("deepspeed", "Llama-3.1-8B", gpu_name="H100", gpus=16, zero=3, offload_optimizer="cpu",
                     offload_params="cpu")
    assert any("given layout DP16 ZeRO-3 opt->cpu params->cpu fits" in n for n in out.notes)
    # the plan recomputes activations; a DeepSpeed JSON cannot switch that on, so the note says where to
    assert any(n.startswith("activation checkpointing: the plan recomputes") for n in out.notes)


def test_hybrid_shard_default_group_is_one_nodes_dp_ranks_everywhere():
    """train/fit/speed layouts without --shard-group plan hybrid_shard inside a node of 8, not over all DP."""
    spec, job = load("Llama-3.1-8B").spec, make_job("train")
    default = Layout(dp=64, engine="fsdp", fsdp="hybrid_shard", zero=3)
    assert default.shard == 8 and default.label() == "DP64 FSDP-hybrid_shard(8)"
    assert Layout(tp=4, dp=16, engine="fsdp", fsdp="hybrid_shard", zero=3).shard == 2  # 8 / TP 4 DP ranks a node
    same = job_memory(spec, job, with_steps(job, default)).peak_bytes
    assert same == _mem("Llama-3.1-8B", 8)
    assert same > job_memory(spec, job, with_steps(job, Layout(dp=64, engine="fsdp", fsdp="full_shard",
                                                               zero=3))).peak_bytes
