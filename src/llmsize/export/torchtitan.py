"""torchtitan's TOML job config for a planned layout: FSDP2 (shard / replicate degrees) + TP + PP + CP + EP,
activation checkpointing, CPU offload and float8 linears. Checked against torchtitan's own JobConfig
dataclasses (recorded in llmsize.export.torchtitan_fields, v0.2.2: the last release that reads TOML)."""
from __future__ import annotations

from typing import Any

from llmsize.errors import LlmsizeError
from llmsize.spec import ModelSpec

# torchtitan v0.2.2 model flavors (torchtitan/models/*/__init__.py), by llmsize preset
_FLAVORS = {"Llama-3.1-8B": ("llama3", "8B"), "Llama-3.1-70B": ("llama3", "70B"),
            "Llama-3.1-405B": ("llama3", "405B"), "Qwen3-0.6B": ("qwen3", "0.6B"), "Qwen3-1.7B": ("qwen3", "1.7B"),
            "Qwen3-4B": ("qwen3", "4B"), "Qwen3-8B": ("qwen3", "8B"), "Qwen3-14B": ("qwen3", "14B"),
            "Qwen3-32B": ("qwen3", "32B"), "DeepSeek-V3": ("deepseek_v3", "671B"),
            "gpt-oss-20b": ("gpt_oss", "20b"), "gpt-oss-120b": ("gpt_oss", "120b")}


def torchtitan_config(s: Any, spec: ModelSpec, job: Any, *, float8: bool = False) -> dict[str, dict[str, Any]]:
    """The job config as nested sections.

    FSDP2 shard degree = DP (full_shard), or the shard group with replicas across groups (hybrid_shard); DDP
    layouts replicate only; shard_grad_op keeps parameters gathered after forward (reshard "never").

    Source: torchtitan-config"""
    from llmsize.planner.jobs import TrainJob

    lay = s.layout
    if not isinstance(job, TrainJob):
        raise LlmsizeError("torchtitan export is for training")
    if spec.name not in _FLAVORS:
        raise LlmsizeError(f"torchtitan export: torchtitan v0.2.2 defines no flavor for {spec.name}; it has "
                           f"{', '.join(sorted(_FLAVORS))}")
    if lay.engine == "deepspeed" and lay.zero in (1, 2) or lay.offload_optimizer != lay.offload_params \
            or "nvme" in (lay.offload_optimizer, lay.offload_params):
        raise LlmsizeError(f"torchtitan export: {lay.label()} is DeepSpeed's (ZeRO-1/2, optimizer-only or NVMe "
                           "offload); torchtitan shards with FSDP2 and offloads parameters and optimizer to CPU "
                           "together")
    name, flavor = _FLAVORS[spec.name]
    if lay.fsdp == "hybrid_shard":
        shard = s.hybrid_group
        if lay.dp % shard:
            raise LlmsizeError(f"torchtitan export: DP {lay.dp} does not split into shard groups of {shard}")
        replicate = lay.dp // shard
    elif lay.fsdp in ("full_shard", "shard_grad_op") or lay.zero == 3 or lay.engine == "megatron":
        shard, replicate = lay.dp, 1
    else:  # DDP: replicas only
        shard, replicate = 1, lay.dp
    par: dict[str, Any] = {"data_parallel_replicate_degree": replicate, "data_parallel_shard_degree": shard,
                           "tensor_parallel_degree": lay.tp, "pipeline_parallel_degree": lay.pp,
                           "context_parallel_degree": lay.cp, "expert_parallel_degree": lay.ep}
    if lay.fsdp == "shard_grad_op":
        par["fsdp_reshard_after_forward"] = "never"
    if lay.pp > 1:
        par["pipeline_parallel_microbatch_size"] = job.micro_batch
    # local_batch_size is one forward per DP rank; global / (local x DP) micro-batches are accumulated
    training: dict[str, Any] = {"local_batch_size": job.micro_batch, "global_batch_size": job.global_batch, "seq_len": job.seq_len,
                                "mixed_precision_param": "bfloat16" if job.precision != "fp32" else "float32",
                                "dtype": "float32"}
    if lay.pp > 1:  # the pipeline splits the local batch into micro-batches of pipeline_parallel_microbatch_size
        training["local_batch_size"] = job.global_batch // lay.dp
    if job.tokens:
        training["steps"] = max(1, round(job.tokens / (job.global_batch * job.seq_len)))
    if lay.offload_params == "cpu":
        training["enable_cpu_offload"] = True
    model: dict[str, Any] = {"name": name, "flavor": flavor, "hf_assets_path": f"./assets/hf/{spec.name}"}
    cfg: dict[str, dict[str, Any]] = {"job": {"dump_folder": "./outputs", "description": f"{spec.name} {lay.label()}"},
                                      "model": model, "training": training, "parallelism": par,
                                      "activation_checkpoint": {"mode": "full" if job.recompute else "none"}}
    if float8:
        model["converters"] = ["quantize.linear.float8"]
        cfg["quantize.linear.float8"] = {"enable_fsdp_float8_all_gather": shard > 1,
                                         "precompute_float8_dynamic_scale_for_fsdp": shard > 1,
                                         "recipe_name": "tensorwise"}
    return cfg


def to_toml(cfg: dict[str, dict[str, Any]]) -> str:
    """Sections of scalars / lists of strings as TOML (no TOML writer dependency)."""
    def val(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, (int, float)):
            return repr(v)
        if isinstance(v, list):
            return "[" + ", ".join(val(x) for x in v) + "]"
        return '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'

    out = []
    for sec, kv in cfg.items():
        out.append(f"[{sec}]")
        out += [f"{k} = {val(v)}" for k, v in kv.items()]
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def torchtitan_toml(s: Any, spec: ModelSpec, job: Any, *, float8: bool = False) -> str:
    """The TOML text `torchrun ... -m torchtitan.train --job.config_file FILE` reads.

    Source: torchtitan-config"""
    return to_toml(torchtitan_config(s, spec, job, float8=float8))


def check_torchtitan(text: str) -> dict[str, Any]:
    """Parse an exported TOML and check every key against torchtitan's recorded JobConfig fields (type and
    Literal choices); unknown keys or bad values -> LlmsizeError. Returns the flat {section.key: value}."""
    import tomllib

    from llmsize.export.torchtitan_fields import TORCHTITAN_FIELDS

    flat: dict[str, Any] = {}

    def walk(d: dict[str, Any], prefix: str) -> None:
        for k, v in d.items():
            if isinstance(v, dict):
                walk(v, f"{prefix}{k}.")
            else:
                flat[prefix + k] = v

    walk(tomllib.loads(text), "")
    types = {"int": (int,), "float": (float, int), "bool": (bool,), "str": (str,), "int|float": (int, float)}
    for key, v in flat.items():
        if key not in TORCHTITAN_FIELDS:
            raise LlmsizeError(f"torchtitan JobConfig has no field {key!r}")
        kind, choices = TORCHTITAN_FIELDS[key]
        items = v if isinstance(v, list) else [v]
        for x in items:
            ok = kind in types and isinstance(x, types[kind]) and not (kind != "bool" and isinstance(x, bool))
            if not ok or choices and str(x) not in choices:
                raise LlmsizeError(f"torchtitan {key}: {x!r} is not a valid {kind}{f' in {choices}' if choices else ''}")
    return flat
