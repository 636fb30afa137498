"""Exports: accepted by the engines' own parsers where they install (DeepSpeed, accelerate, torchrun),
else by parsers built from the flag lists recorded from vLLM's and llama.cpp's sources; and a round
trip plan -> export -> parse -> same setup."""
from __future__ import annotations

import json
import os
import shlex

import pytest

from llmsize.errors import LlmsizeError
from llmsize.export import Setup, deepspeed_config, export, fsdp_config, llamacpp_command, to_yaml, torchrun_command, \
    vllm_command
from llmsize.export.flags import LLAMACPP_FLAGS, VLLM_FLAGS
from llmsize.export.parse import parse_llamacpp, parse_vllm
from llmsize.parallel import Breakdown, Layout

IN_CI = os.environ.get("CI") == "true"


def _need(module: str):
    """The engine's package: required in CI (the dev extra installs it), skipped with a reason elsewhere."""
    if IN_CI:
        return __import__(module, fromlist=["_"])
    return pytest.importorskip(module, reason=f"{module} not installed (pip install -e '.[dev]' brings it)")


def test_vllm_flags_are_the_engines(llama8b):
    cmd = vllm_command(Setup(model="meta-llama/Llama-3.1-8B", layout=Layout(tp=2), max_model_len=8192,
                             gpu_memory_utilization=0.85, kv_cache_dtype="fp8", quantization="fp8", max_num_seqs=64))
    got = parse_vllm(cmd)
    assert got == {"model": "meta-llama/Llama-3.1-8B", "tensor_parallel_size": 2, "pipeline_parallel_size": 1,
                   "max_model_len": 8192, "gpu_memory_utilization": 0.85, "kv_cache_dtype": "fp8",
                   "quantization": "fp8", "max_num_seqs": 64}
    for tok in shlex.split(cmd):
        if tok.startswith("-"):
            assert tok in VLLM_FLAGS


def test_vllm_parser_rejects_unknown_flags():
    with pytest.raises(LlmsizeError):
        parse_vllm("vllm serve m --tensor-parallel 2")
    with pytest.raises(LlmsizeError):
        parse_vllm("vllm serve m --kv-cache-dtype int4")


def test_llamacpp_flags_are_the_engines():
    cmd = llamacpp_command(Setup(model="m.gguf", layout=Layout(dp=2), max_model_len=16384, kv_cache_dtype="q8_0",
                                 tensor_split=(1, 1), max_num_seqs=4))
    got = parse_llamacpp(cmd)
    # the context is per slot: 4 slots of 16,384 tokens each need -c 65536 (llama.cpp gives each -c / -np)
    assert got["ngl"] == "auto" and got["c"] == 4 * 16384 and got["ctk"] == got["ctv"] == "q8_0"
    assert got["ts"] == "1,1" and got["sm"] == "layer" and got["np"] == 4 and got["fa"] == "on" and got["no_kvu"]
    flags = set(LLAMACPP_FLAGS) | {a for v in LLAMACPP_FLAGS.values() for a in v[0]}
    assert all(t in flags for t in shlex.split(cmd) if t.startswith("-"))
    with pytest.raises(LlmsizeError, match="KV cache type"):
        llamacpp_command(Setup(model="m.gguf", kv_cache_dtype="fp8"))


@pytest.mark.parametrize("stage, opt, par", [(1, "none", "none"), (2, "cpu", "none"), (3, "cpu", "cpu"),
                                             (3, "nvme", "none")])
def test_deepspeed_config_accepted_by_deepspeed(stage, opt, par):
    zc = _need("deepspeed.runtime.zero.config")
    lay = Layout(dp=8, engine="deepspeed", zero=stage, offload_optimizer=opt, offload_params=par)
    cfg = deepspeed_config(Setup(model="x", layout=lay, micro_batch=2, grad_accum=4))
    z = zc.DeepSpeedZeroConfig(**cfg["zero_optimization"])
    assert int(z.stage) == stage
    assert (z.offload_optimizer.device if z.offload_optimizer else "none") == opt
    assert (z.offload_param.device if z.offload_param else "none") == par
    assert cfg["train_batch_size"] == 2 * 4 * 8


def test_deepspeed_full_config_class():
    rc = _need("deepspeed.runtime.config")
    cfg = deepspeed_config(Setup(model="x", layout=Layout(dp=1, engine="deepspeed", zero=2), micro_batch=2,
                                 grad_accum=4))
    c = rc.DeepSpeedConfig(cfg)
    assert c.zero_optimization_stage == 2 and c.bfloat16_config.enabled
    assert c.train_micro_batch_size_per_gpu == 2 and c.gradient_accumulation_steps == 4


@pytest.mark.parametrize("strategy", ["full_shard", "shard_grad_op", "hybrid_shard"])
def test_fsdp_config_accepted_by_accelerate(tmp_path, strategy):
    ca = _need("accelerate.commands.config.config_args")
    zero = 2 if strategy == "shard_grad_op" else 3
    s = Setup(model="x", layout=Layout(dp=16, engine="fsdp", fsdp=strategy, zero=zero))
    f = tmp_path / "fsdp.yaml"
    f.write_text(to_yaml(fsdp_config(s)) + "\n")
    cfg = ca.load_config_from_file(str(f))
    assert str(cfg.distributed_type).endswith("FSDP")
    assert cfg.num_processes == 16 and cfg.num_machines == 2
    assert cfg.fsdp_config["fsdp_sharding_strategy"] == strategy.upper()


def test_torchrun_line_accepted_by_torchrun():
    run = _need("torch.distributed.run")
    line = torchrun_command(Setup(model="x", layout=Layout(dp=32)))
    assert all(len(x) <= 80 for x in line.splitlines()), line  # wrapped with backslash-newline, as a shell reads it
    line = line.replace("\\\n", "").replace("$NODE_RANK", "1").replace("$MASTER_ADDR", "10.0.0.1")
    argv = shlex.split(line)[1:]
    args = run.get_args_parser().parse_args(argv)
    assert args.nnodes == "4" and int(args.nproc_per_node) == 8 and args.node_rank == 1
    assert args.training_script == "train.py"


def test_round_trip_plan_export_parse_same_setup(llama70b):
    """plan -> best setup -> vllm command -> parse -> the same TP, PP and memory share."""
    from llmsize.catalog.hardware import get_gpu
    from llmsize.planner.jobs import ServeJob
    from llmsize.planner.search import plan_serve, rank
    from llmsize.params import count

    p = count(llama70b).total
    bd = Breakdown(weights=2 * p, kv_cache=320 * 1024 * 1280 * 8, activations=2 * 2**30, weight_bytes_per_param=2)
    job = ServeJob(prompt_len=1024, output_len=256, concurrency=8, gpu_memory_utilization=0.92)
    best = rank(plan_serve(llama70b, job, bd, [get_gpu("H100-SXM")]))[0]
    cmd = export("vllm", Setup(model="meta-llama/Llama-3.1-70B", layout=best.layout, max_model_len=job.context,
                               gpu_memory_utilization=job.gpu_memory_utilization, max_num_seqs=job.concurrency))
    back = parse_vllm(cmd)
    assert (back["tensor_parallel_size"], back["pipeline_parallel_size"]) == (best.layout.tp, best.layout.pp)
    assert back["gpu_memory_utilization"] == job.gpu_memory_utilization and back["max_model_len"] == job.context


def test_round_trip_deepspeed(llama8b):
    from llmsize.planner import resolve_gpus
    from llmsize.planner.jobs import TrainJob
    from llmsize.planner.search import plan_train, rank
    from llmsize.params import count

    p = count(llama8b).total
    bd = Breakdown(weights=2 * p, gradients=2 * p, master_weights=4 * p, optimizer=8 * p, activations=8 * 2**30,
                   weight_bytes_per_param=2, grad_bytes_per_param=2)
    job = TrainJob(seq_len=4096, global_batch=64, tokens=1e10)
    cands = [c for c in plan_train(llama8b, job, bd, resolve_gpus(["A100-SXM-80GB"]), counts=[8])
             if c.kind == "ok" and c.layout.engine == "deepspeed"]
    best = rank(cands)[0]
    cfg = json.loads(export("deepspeed", Setup(model="x", layout=best.layout, micro_batch=best.layout.micro_batch,
                                               grad_accum=best.layout.grad_accum)))
    z = cfg["zero_optimization"]
    assert z["stage"] == best.layout.zero
    assert z.get("offload_optimizer", {"device": "none"})["device"] == best.layout.offload_optimizer
    assert cfg["train_batch_size"] == job.global_batch
