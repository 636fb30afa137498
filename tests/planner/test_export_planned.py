"""Export runs the planner: with --gpu/--gpus and no layout flags the planner's best feasible layout for the
engine; an explicit layout that does not fit is refused (exit 2) with the smallest change that fits unless
--force; round trips plan -> export -> the engine's parser -> the same layout, for every engine."""
from __future__ import annotations

import json
import shlex
import subprocess
import sys

import pytest

from llmsize.export.parse import parse_llamacpp, parse_vllm

from tests.planner.test_export import _need


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", "from llmsize.cli import main; main()", *args],
                          capture_output=True, text=True)


def _plan_rows(*args: str) -> list[dict]:
    r = run("plan", *args, "--json", "--top", "1000")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)["setups"]


def test_deepspeed_70b_on_8_h100_is_a_fitting_zero_stage():
    rc = _need("deepspeed.runtime.config")
    r = run("export", "deepspeed", "Llama-3.1-70B", "--gpu", "H100", "--gpus", "8")
    assert r.returncode == 0, r.stderr
    assert "planner's best deepspeed layout on 8 x H100-SXM" in r.stderr and "GiB per GPU" in r.stderr
    cfg = json.loads(r.stdout)
    z = cfg["zero_optimization"]
    assert cfg["train_batch_size"] == 1024  # the planner's global batch, not the GPU count
    assert cfg["train_micro_batch_size_per_gpu"] * cfg["gradient_accumulation_steps"] * 8 == 1024
    one_rank = dict(cfg, train_batch_size=cfg["train_micro_batch_size_per_gpu"] * cfg["gradient_accumulation_steps"])
    c = rc.DeepSpeedConfig(one_rank)  # this process is one rank; the class checks batch = micro x accum x ranks
    assert c.zero_optimization_stage == z["stage"] >= 1
    feasible = {(x["zero"], x["offload_optimizer"], x["offload_params"]) for x in
                _plan_rows("Llama-3.1-70B", "--train", "--gpu", "H100", "--max-gpus", "8") if x["gpus"] == 8}
    got = (z["stage"], z.get("offload_optimizer", {}).get("device", "none"), z.get("offload_param", {}).get("device", "none"))
    assert got in feasible


def test_vllm_70b_on_4_h100_is_tp4():
    r = run("export", "vllm", "Llama-3.1-70B", "--gpu", "H100", "--gpus", "4")
    assert r.returncode == 0, r.stderr
    got = parse_vllm(r.stdout.strip())
    assert got["tensor_parallel_size"] == 4 and got["pipeline_parallel_size"] == 1 and "data_parallel_size" not in got
    # the planner's job; no --batch: vLLM's own default sequence cap, not one request at a time
    assert got["max_model_len"] == 1024 + 256 and "max_num_seqs" not in got
    # more requests than one replica serves best: the same 4 GPUs as 2 replicas of TP2 in one server
    r = run("export", "vllm", "Llama-3.1-70B", "--gpu", "H100", "--gpus", "4", "--concurrency", "64")
    got = parse_vllm(r.stdout.strip())
    assert got["tensor_parallel_size"] * got.get("data_parallel_size", 1) * got["pipeline_parallel_size"] == 4
    assert got["max_num_seqs"] == 64  # a batch given is the cap written


@pytest.mark.parametrize("gpus", [12, 16, 24])
def test_torchrun_launches_exactly_the_gpus(gpus):
    trun = _need("torch.distributed.run")
    r = run("export", "torchrun", "Llama-3.1-8B", "--gpu", "H100", "--gpus", str(gpus), "--global-batch", "1152")
    assert r.returncode == 0, r.stderr
    argv = shlex.split(r.stdout.replace("$NODE_RANK", "0").replace("$MASTER_ADDR", "h"))[1:]
    a = trun.get_args_parser().parse_args(argv)
    assert int(a.nnodes) * int(a.nproc_per_node) == gpus


def test_explicit_layout_that_does_not_fit_is_refused_with_the_smallest_fix():
    r = run("export", "deepspeed", "Llama-3.1-70B", "--gpu", "H100", "--gpus", "8", "--zero", "0")
    assert r.returncode == 2 and r.stderr.count("\n") == 1
    assert "does not fit" in r.stderr and "smallest change that fits is --zero 3" in r.stderr
    r = run("export", "deepspeed", "Llama-3.1-70B", "--gpu", "H100", "--gpus", "8", "--zero", "0", "--force")
    assert r.returncode == 0 and json.loads(r.stdout)["zero_optimization"]["stage"] == 0 and "--force" in r.stderr
    r = run("export", "deepspeed", "Llama-3.1-8B", "--gpu", "H100", "--gpus", "8", "--zero", "3")
    assert r.returncode == 0 and "given layout DP8 ZeRO-3 fits" in r.stderr


@pytest.mark.parametrize("args, msg", [
    (("export", "vllm", "Llama-3.1-8B", "--seq", "100"), "--seq: training"),
    (("export", "deepspeed", "Llama-3.1-8B", "--concurrency", "4"), "--concurrency: serving"),
    (("export", "torchrun", "Llama-3.1-8B", "--gpus", "8", "--seq", "100"), "give --gpu"),
    (("export", "vllm", "Llama-3.1-8B", "--gpu", "H100"), "give --gpus"),
    (("export", "llamacpp", "Llama-3.1-8B"), "not a GGUF file"),
    (("export", "torchrun", "x", "--gpus", "13"), "do not split evenly"),
    (("export", "megatron", "foo/bar", "--gpus", "8"), "model's shape"),
    (("fit", "Llama-3.1-70B", "--gpu", "RTX-4090", "--find", "ngl", "--host", "m4-max"), "unified memory"),
    (("fit", "Llama-3.1-70B", "--gpu", "RTX-4090", "--find", "ngl", "--weights", "Q9"), "quantization preset"),
])
def test_flags_are_used_or_refused(args, msg):
    r = run(*args)
    assert r.returncode == 2 and msg in r.stderr, r.stderr


def test_round_trip_fsdp_and_llamacpp(tmp_path):
    ca = _need("accelerate.commands.config.config_args")
    r = run("export", "fsdp", "Llama-3.1-8B", "--gpu", "H100", "--gpus", "16")
    assert r.returncode == 0, r.stderr
    f = tmp_path / "a.yaml"
    f.write_text(r.stdout)
    cfg = ca.load_config_from_file(str(f))
    assert cfg.num_processes == 16 and cfg.num_machines == 2
    assert cfg.fsdp_config["fsdp_sharding_strategy"] == "FULL_SHARD"
    # llama.cpp: the fit's -ngl goes into the command and parses back
    fit = run("fit", "Llama-3.1-70B", "--gpu", "RTX-4090", "--find", "ngl", "--weights", "Q4_K_M", "--json")
    ngl = json.loads(fit.stdout)["ngl"]
    r = run("export", "llamacpp", "m.gguf", "--ngl", str(ngl), "--max-model-len", "4096", "--max-num-seqs", "2")
    got = parse_llamacpp(r.stdout.strip())
    assert got["ngl"] == ngl and got["c"] == 8192 and got["np"] == 2


def test_fit_ngl_70b_q4km_on_a_24gb_card_is_a_partial_offload():
    r = run("fit", "Llama-3.1-70B", "--gpu", "RTX-4090", "--find", "ngl", "--weights", "Q4_K_M", "--json")
    assert r.returncode == 0, r.stderr
    rep = json.loads(r.stdout)
    s = rep["split"]
    assert rep["verdict"] == "partial offload" and 30 < rep["ngl"] < 81
    assert s["gpu_total"] <= s["gpu_budget"] and s["host_model"] > 10 * 2**30
    assert 0.5 < s["decode_tokens_per_s"] < rep["all_on_gpu"]["decode_tokens_per_s"]
    text = run("fit", "Llama-3.1-70B", "--gpu", "RTX-4090", "--find", "ngl", "--weights", "Q4_K_M")
    assert "partial offload" in text.stdout and "-ngl" in text.stdout


def test_megatron_round_trip_through_megatrons_own_parser():
    from llmsize.export.megatron import parse_megatron

    r = run("export", "megatron", "Llama-3.1-70B", "--gpu", "H100", "--gpus", "64")
    assert r.returncode == 0, r.stderr
    rows = _plan_rows("Llama-3.1-70B", "--train", "--gpu", "H100", "--max-gpus", "64")
    got = parse_megatron(r.stdout)
    best = next(x for x in rows if x["gpus"] == 64 and x["engine"] in ("megatron", "ddp"))
    assert (int(got["tensor_model_parallel_size"]), int(got["pipeline_model_parallel_size"])) == (best["tp"], best["pp"])
    assert bool(got.get("sequence_parallel")) == (best["tp"] > 1) and got["swiglu"] and got["normalization"] == "RMSNorm"
    assert int(got["num_query_groups"]) == 8 and "qk_layernorm" not in got and int(got["global_batch_size"]) == 1024
    assert "--nnodes=8 --nproc-per-node=8" in r.stdout
    # Llama 3.1's rope_theta 500,000 and its llama3 scaling (factor 8), which Megatron's defaults (10,000,
    # none) would not build
    assert (got["rotary_base"], got["use_rope_scaling"], got["rope_scaling_factor"]) == ("500000", True, "8")
    with pytest.raises(Exception):
        parse_megatron(r.stdout.replace("--swiglu", "--swiglu-typo"))


@pytest.mark.parametrize("model, base, factor", [("Llama-3.2-1B", "500000", "32"),
                                                 ("Qwen/Qwen3-30B-A3B", "1000000", None), ("Llama-2-7b-hf", None, None)])
def test_megatron_writes_the_models_rotary_base_and_llama3_scaling(model, base, factor):
    from llmsize.export.megatron import parse_megatron

    r = run("export", "megatron", model, "--gpus", "8")
    assert r.returncode == 0, r.stderr
    got = parse_megatron(r.stdout)
    assert got.get("rotary_base") == base and got.get("rope_scaling_factor") == factor
    assert bool(got.get("use_rope_scaling")) == (factor is not None)


def test_megatron_says_a_rope_scaling_it_cannot_write():
    from llmsize.export.megatron import _rope_args

    notes: list[str] = []
    assert _rope_args({"rope_theta": 1e6, "rope_scaling": {"rope_type": "yarn", "factor": 4.0}}, "m", notes) == \
        ["--rotary-base", "1000000"]
    assert "'yarn'" in notes[0] and "not written" in notes[0]
    # transformers v5 keeps them in rope_parameters
    assert _rope_args({"rope_parameters": {"rope_theta": 5e5, "rope_type": "llama3", "factor": 8.0}}, "m", []) == \
        ["--rotary-base", "500000", "--use-rope-scaling", "--rope-scaling-factor", "8"]


def test_torchtitan_round_trip_through_its_job_config_fields():
    from llmsize.export.torchtitan import check_torchtitan

    r = run("export", "torchtitan", "Llama-3.1-70B", "--gpu", "H100", "--gpus", "64", "--float8",
            "--fsdp", "full_shard")
    assert r.returncode == 0, r.stderr
    flat = check_torchtitan(r.stdout)
    p = flat
    assert p["parallelism.data_parallel_shard_degree"] * p["parallelism.data_parallel_replicate_degree"] * \
        p["parallelism.tensor_parallel_degree"] * p["parallelism.pipeline_parallel_degree"] * \
        p["parallelism.context_parallel_degree"] == 64
    assert flat["model.name"] == "llama3" and flat["model.flavor"] == "70B"
    assert flat["model.converters"] == ["quantize.linear.float8"] and flat["activation_checkpoint.mode"] == "full"
    assert flat["training.global_batch_size"] == 1024 and flat["training.local_batch_size"] == 1
    with pytest.raises(Exception, match="no field"):
        check_torchtitan(r.stdout + "\n[parallelism2]\nx = 1\n")
    r = run("export", "torchtitan", "Llama-3.1-8B", "--gpus", "16", "--fsdp", "hybrid_shard", "--shard-group", "4")
    flat = check_torchtitan(r.stdout)
    assert (flat["parallelism.data_parallel_shard_degree"], flat["parallelism.data_parallel_replicate_degree"]) == (4, 4)
    r = run("export", "torchtitan", "SmolLM2-135M", "--gpus", "8")
    assert r.returncode == 2 and "no flavor" in r.stderr


def test_megatron_virtual_stages_and_3d_layout():
    from llmsize.export.megatron import parse_megatron

    r = run("export", "megatron", "Llama-3.1-70B", "--gpus", "64", "--tp", "8", "--pp", "4", "--cp", "2",
            "--zero", "1", "--virtual-stages", "5")
    assert r.returncode == 0, r.stderr
    got = parse_megatron(r.stdout)
    assert got["num_layers_per_virtual_pipeline_stage"] == "4" and got["context_parallel_size"] == "2"
    assert got["use_distributed_optimizer"] and got["sequence_parallel"]
    r = run("export", "megatron", "Llama-3.1-70B", "--gpus", "8", "--zero", "3")
    assert r.returncode == 2 and "distributed optimizer" in r.stderr
    r = run("export", "vllm", "Llama-3.1-8B", "--virtual-stages", "2")
    assert r.returncode == 2 and "Megatron option" in r.stderr


def test_vllm_plans_the_checkpoints_own_weights_as_plan_does():
    # DeepSeek-V3's FP8 blocks fit 8 H200 at TP8 (plan says so); sized as bf16, export found no layout
    r = run("export", "vllm", "deepseek-ai/DeepSeek-V3", "--gpu", "H200", "--gpus", "8")
    assert r.returncode == 0, r.stderr
    assert parse_vllm(r.stdout.strip())["tensor_parallel_size"] == 8
    assert "fp8-block, the checkpoint's own" in r.stderr
    # a format given is kept, and one the checkpoint is not stored in is refused: vLLM loads the FP8 blocks
    r = run("export", "vllm", "deepseek-ai/DeepSeek-V3", "--gpu", "H200", "--gpus", "8", "--weights", "bf16")
    assert r.returncode == 2 and "checkpoint holds fp8-block" in r.stderr and r.stderr.count("\n") == 1


def test_vllm_export_writes_the_weights_the_plan_counted():
    """--weights fp8 from a 16-bit checkpoint: vLLM quantizes on load (--quantization fp8); a format vLLM cannot
    make (AWQ int4 from bf16) is refused, not written as a bf16 launch the plan did not size."""
    r = run("export", "vllm", "Llama-3.1-70B", "--gpu", "H100", "--gpus", "2", "--weights", "fp8", "--batch", "8")
    assert r.returncode == 0, r.stderr
    assert parse_vllm(r.stdout.strip())["quantization"] == "fp8"
    r = run("export", "vllm", "Llama-3.1-70B", "--gpu", "H100", "--gpus", "2", "--weights", "awq-int4")
    assert r.returncode == 2 and "checkpoint holds bf16" in r.stderr and "stored as awq-int4" in r.stderr
    r = run("export", "vllm", "Llama-3.1-8B", "--gpu", "H100", "--gpus", "1", "--weights", "bf16")
    assert r.returncode == 0 and "--quantization" not in r.stdout


def test_export_notes_and_refusals_follow_units():
    """--units si prints GB (10^9 bytes) where the default prints GiB, in the planner's note and in the
    smallest change offered for a layout that does not fit; the same bytes in both."""
    from llmsize.export.command import run_export

    kw = dict(gpu_name="H100", gpus=2)
    iec, si = run_export("vllm", "Llama-3.1-8B", **kw), run_export("vllm", "Llama-3.1-8B", units="si", **kw)
    assert iec.memory_per_gpu == si.memory_per_gpu
    gb = f"{si.memory_per_gpu / 1e9:,.1f} GB per GPU"
    assert any(gb in n for n in si.notes) and not any("GiB" in n for n in si.notes)
    assert any(f"{iec.memory_per_gpu / 2**30:,.1f} GiB per GPU" in n for n in iec.notes)
    r = run("export", "deepspeed", "Llama-3.1-70B", "--gpu", "H100", "--gpus", "8", "--zero", "0", "--units", "si")
    assert r.returncode == 2 and "the smallest change that fits is" in r.stderr and " GB per GPU); --force" in r.stderr
    bad = run("export", "vllm", "Llama-3.1-8B", "--units", "kb")
    assert bad.returncode == 2 and "'kb' is not one of 'iec', 'si'" in bad.stderr
