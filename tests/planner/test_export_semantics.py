"""What each export means, not only that it parses: world size = --gpus, llama.cpp context per slot,
-ngl, GGUF required, DeepSpeed nvme_path, vLLM DP in one server, FSDP refusals and hybrid shard group."""
from __future__ import annotations

import json
import shlex

import pytest

from llmsize.errors import LlmsizeError
from llmsize.export import Setup, deepspeed_config, engine_setup, fsdp_config, llamacpp_command, to_yaml, \
    torchrun_command, vllm_command
from llmsize.export.parse import parse_llamacpp, parse_vllm
from llmsize.parallel import Layout

from tests.planner.test_export import _need


@pytest.mark.parametrize("gpus, nodes, per", [(1, 1, 1), (8, 1, 8), (12, 2, 6), (16, 2, 8), (24, 3, 8), (20, 4, 5),
                                              (6, 1, 6)])
def test_torchrun_world_size_is_the_gpu_count(gpus, nodes, per):
    run = _need("torch.distributed.run")
    line = torchrun_command(Setup(model="x", layout=Layout(dp=gpus)))
    argv = shlex.split(line.replace("$NODE_RANK", "0").replace("$MASTER_ADDR", "10.0.0.1"))[1:]
    args = run.get_args_parser().parse_args(argv)
    assert int(args.nnodes) * int(args.nproc_per_node) == gpus
    assert (int(args.nnodes), int(args.nproc_per_node)) == (nodes, per)


def test_uneven_gpu_count_is_refused():
    with pytest.raises(LlmsizeError, match="do not split evenly"):
        torchrun_command(Setup(model="x", layout=Layout(dp=13)))


def test_llamacpp_context_is_per_slot_and_unified_kv():
    cmd = llamacpp_command(Setup(model="m.gguf", kv_cache_dtype="f16", max_model_len=8192, max_num_seqs=4, gpu_layers=33))
    got = parse_llamacpp(cmd)
    assert got["c"] == 32768 and got["np"] == 4 and got["ngl"] == 33 and got["no_kvu"]
    got = parse_llamacpp(llamacpp_command(Setup(model="m.gguf", kv_cache_dtype="f16", max_model_len=8192, max_num_seqs=4, kv_unified=True)))
    assert got["c"] == 32768 and got["kvu"] and got["ngl"] == "auto"


def test_llamacpp_needs_a_gguf_and_knows_tensor_split_mode():
    with pytest.raises(LlmsizeError, match="preset, not a GGUF"):
        engine_setup("llamacpp", "Llama-3.1-8B", Layout())
    with pytest.raises(LlmsizeError, match=r"\.gguf"):
        llamacpp_command(Setup(model="meta-llama/Llama-3.1-8B"))
    got = parse_llamacpp(llamacpp_command(Setup(model="m.gguf", kv_cache_dtype="f16", layout=Layout(tp=2), split_mode="tensor")))
    assert got["sm"] == "tensor" and got["ts"] == "1,1"
    with pytest.raises(LlmsizeError, match="does not match"):
        llamacpp_command(Setup(model="m.gguf", kv_cache_dtype="f16", layout=Layout(dp=2), split_mode="row"))


def test_vllm_data_parallel_in_one_server_and_no_swap_space():
    got = parse_vllm(vllm_command(Setup(model="m", layout=Layout(tp=2, dp=4))))
    assert got["tensor_parallel_size"] == 2 and got["data_parallel_size"] == 4
    with pytest.raises(LlmsizeError):
        parse_vllm("vllm serve m --swap-space 4")
    with pytest.raises(LlmsizeError, match="context parallelism"):
        vllm_command(Setup(model="m", layout=Layout(cp=2)))


@pytest.mark.parametrize("opt, par", [("nvme", "none"), ("nvme", "nvme"), ("cpu", "nvme")])
def test_deepspeed_nvme_offload_writes_nvme_path(opt, par):
    zc = _need("deepspeed.runtime.zero.config")
    lay = Layout(dp=8, engine="deepspeed", zero=3, offload_optimizer=opt, offload_params=par)
    cfg = deepspeed_config(Setup(model="x", layout=lay, nvme_path="/mnt/nvme0"))
    z = zc.DeepSpeedZeroConfig(**cfg["zero_optimization"])
    for part, dev in ((z.offload_optimizer, opt), (z.offload_param, par)):
        if dev == "nvme":
            assert str(part.nvme_path) == "/mnt/nvme0"
    json.dumps(cfg)


def test_fsdp_refuses_what_it_cannot_express():
    for lay, msg in ((Layout(dp=4, tp=2, engine="fsdp", fsdp="full_shard", zero=3), "--tp 2"),
                     (Layout(dp=8, engine="fsdp", fsdp="full_shard", zero=3, offload_optimizer="cpu"),
                      "optimizer-only"),
                     (Layout(dp=8, engine="fsdp", fsdp="full_shard", zero=3, offload_optimizer="cpu",
                             offload_params="nvme"), "CPU memory only")):
        with pytest.raises(LlmsizeError, match=msg):
            fsdp_config(Setup(model="x", layout=lay))
    both = fsdp_config(Setup(model="x", layout=Layout(dp=8, engine="fsdp", fsdp="full_shard", zero=3,
                                                      offload_optimizer="cpu", offload_params="cpu")))
    assert both["fsdp_config"]["fsdp_offload_params"] is True


def test_fsdp_hybrid_shard_group(tmp_path):
    ca = _need("accelerate.commands.config.config_args")
    lay = Layout(dp=64, engine="fsdp", fsdp="hybrid_shard", zero=3)
    default = fsdp_config(Setup(model="x", layout=lay))
    assert default["fsdp_config"]["fsdp_sharding_strategy"] == "HYBRID_SHARD" and "parallelism_config" not in default
    cfg = fsdp_config(Setup(model="x", layout=lay, shard_group=16))
    f = tmp_path / "fsdp.yaml"
    f.write_text(to_yaml(cfg) + "\n")
    back = ca.load_config_from_file(str(f))
    assert back.fsdp_config["fsdp_version"] == 2 and back.num_processes == 64 and back.num_machines == 8
    assert back.parallelism_config == {"parallelism_config_dp_replicate_size": 4,
                                       "parallelism_config_dp_shard_size": 16}
    with pytest.raises(LlmsizeError, match="shard groups of 24"):
        fsdp_config(Setup(model="x", layout=lay, shard_group=24))
