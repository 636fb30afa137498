"""Turn a planned setup into what each engine reads: a vLLM command line, llama.cpp flags, a DeepSpeed
JSON, an accelerate FSDP config, a torchrun launch line. Each exporter has a parser beside it
(`parse_*`) that reads the output back into the same setup, for round-trip tests."""
from __future__ import annotations

import shlex
from dataclasses import dataclass

from llmsize.errors import LlmsizeError
from llmsize.export.flags import LLAMACPP_FLAGS, VLLM_QUANTIZATION, VLLM_VALUES
from llmsize.parallel import Layout

ENGINES = ("vllm", "llamacpp", "deepspeed", "fsdp", "torchrun")


@dataclass(frozen=True, slots=True, kw_only=True)
class Setup:
    """One chosen setup, as the exporters need it."""

    model: str  # Hugging Face repo id, path or GGUF file
    layout: Layout = Layout()
    max_model_len: int | None = None
    gpu_memory_utilization: float = 0.9
    kv_cache_dtype: str = "auto"  # vLLM: auto / fp8 / fp8_e4m3 / fp8_e5m2; llama.cpp: f16, q8_0, ...
    quantization: str | None = None
    max_num_seqs: int | None = None
    gpus_per_node: int = 8
    n_layers: int | None = None  # llama.cpp -ngl: layers on GPU
    tensor_split: tuple[float, ...] = ()
    micro_batch: int = 1
    grad_accum: int = 1
    bf16: bool = True
    script: str = "train.py"
    kv_unified: bool = False  # llama.cpp -kvu: one KV pool shared by all slots
    gpu_layers: int | str | None = None  # llama.cpp -ngl: a count from the fit, or "auto" (llama.cpp's --fit)
    split_mode: str | None = None  # llama.cpp -sm: layer / row / tensor (default: row for TP, else layer)
    nvme_path: str = "/local_nvme"  # DeepSpeed offload_*.nvme_path
    shard_group: int | None = None  # FSDP hybrid_shard: GPUs that shard one replica (default: GPUs per node)
    activation_checkpointing: bool = False  # FSDP: fsdp_activation_checkpointing (the plan's recomputation)

    def __post_init__(self) -> None:
        if not self.model:
            raise LlmsizeError("export: a model name or path is needed")
        if not 0 < self.gpu_memory_utilization <= 1:
            raise LlmsizeError("export: gpu_memory_utilization must be in (0, 1]")
        if self.gpus_per_node < 1:
            raise LlmsizeError(f"export: GPUs per node must be >= 1, got {self.gpus_per_node}")
        if isinstance(self.gpu_layers, str) and self.gpu_layers not in ("auto", "all"):
            raise LlmsizeError(f"llama.cpp -ngl is a layer count, 'auto' or 'all', got {self.gpu_layers!r}")
        if self.split_mode is not None and self.split_mode not in ("none", "layer", "row", "tensor"):
            raise LlmsizeError(f"llama.cpp -sm must be none, layer, row or tensor, got {self.split_mode!r}")

    @property
    def nodes(self) -> int:
        """Nodes the GPUs spread over (`node_split`)."""
        return node_split(self.layout.gpus, self.gpus_per_node)[0]

    @property
    def procs_per_node(self) -> int:
        return self.layout.gpus // self.nodes

    @property
    def hybrid_group(self) -> int:
        """hybrid_shard's shard group: the layout's (the one its memory was planned with), else the one given,
        else the data-parallel ranks of one node."""
        lay = self.layout
        if lay.shard_group and self.shard_group and lay.shard_group != self.shard_group:
            raise LlmsizeError(f"export: shard group {self.shard_group} differs from the layout's {lay.shard_group}")
        return lay.shard_group or self.shard_group or default_shard_group(lay, self.gpus_per_node)


def node_split(gpus: int, per_node: int) -> tuple[int, int]:
    """(nodes, GPUs per node) for `gpus` GPUs on nodes of `per_node`: the fewest nodes (GPUs per node at most)
    that take an equal share each, so a launch starts exactly `gpus` ranks; an uneven count is refused.

    nodes = min{n ≥ ⌈G / g⌉ : n | G}, with G / n ≥ g / 2"""
    g, per = gpus, per_node
    n = max(1, -(-g // per))
    while g % n:
        n += 1
    if g // n < max(1, per // 2) and n > 1:
        raise LlmsizeError(f"export: {g} GPUs do not split evenly over nodes of {per} (the fewest even split is "
                           f"{n} nodes x {g // n}); use a GPU count that is a multiple of a per-node count, "
                           f"e.g. {(-(-g // per)) * per} or {g // per * per or per}")
    return n, g // n


def default_shard_group(layout: Layout, per_node: int) -> int:
    """FSDP hybrid_shard's default shard group: the data-parallel ranks on one node (FSDP1's intra-node
    process group; TP and CP ranks, innermost in the device mesh, share the node with them).

    group = gcd(DP, max(1, GPUs per node / (TP · CP)))"""
    from math import gcd

    procs = node_split(layout.gpus, per_node)[1]
    return gcd(layout.dp, max(1, procs // (layout.tp * layout.cp)))


def _no_training_states(engine: str, lay: Layout) -> None:
    """A serving engine holds no gradients or optimizer states: ZeRO, FSDP and offloading them are refused."""
    given = [f for f, on in (("--zero", lay.zero > 0 and lay.fsdp is None), ("--fsdp", lay.fsdp is not None),
                             ("--offload-optimizer", lay.offload_optimizer != "none"),
                             ("--offload-params", lay.offload_params != "none")) if on]
    if given:
        raise LlmsizeError(f"{engine} export: {', '.join(given)} shard{'s' * (len(given) == 1)} or offload training "
                           "states; a serving engine has none")


def shell_text(tokens: list[str], width: int = 80) -> str:
    """A command line as the shell reads it and people read it at `width` columns: each flag stays with its
    values, and a line that would pass `width` continues on the next (backslash-newline, two spaces in).
    `tokens` are already quoted for the shell (a `$VAR` stays expandable)."""
    groups: list[str] = []
    for t in tokens:
        if not groups or t.startswith("-") or groups[-1].startswith("-") and "=" in groups[-1]:
            groups.append(t)
        else:
            groups[-1] += " " + t
    lines = [groups[0]]
    for g in groups[1:]:
        if len(lines[-1]) + 1 + len(g) + 2 > width:  # + " \\"
            lines.append("  " + g)
        else:
            lines[-1] += " " + g
    return " \\\n".join(lines)


def vllm_command(s: Setup) -> str:
    """`vllm serve` with TP/PP sizes, context, memory share, KV dtype and quantization.

    Source: vllm-memory"""
    lay = s.layout
    _no_training_states("vLLM", lay)
    if lay.cp > 1:
        raise LlmsizeError("vLLM export: vLLM serve has no context parallelism (--cp); use --tp, --pp or --dp")
    if s.kv_cache_dtype not in VLLM_VALUES["--kv-cache-dtype"]:
        raise LlmsizeError(f"vLLM KV cache dtype must be one of {', '.join(VLLM_VALUES['--kv-cache-dtype'])}")
    if s.quantization is not None and s.quantization not in VLLM_QUANTIZATION:
        raise LlmsizeError(f"vLLM quantization must be one of {', '.join(VLLM_QUANTIZATION)}")
    args = ["vllm", "serve", s.model, "--tensor-parallel-size", str(lay.tp), "--pipeline-parallel-size", str(lay.pp)]
    if lay.dp > 1:  # data-parallel replicas inside one server (vLLM V1 --data-parallel-size)
        args += ["--data-parallel-size", str(lay.dp)]
    if lay.ep > 1:
        if lay.ep != lay.tp * lay.dp:
            raise LlmsizeError(f"vLLM export: expert parallelism spans TP x DP = {lay.tp * lay.dp} GPUs "
                               f"(--enable-expert-parallel), not EP {lay.ep}")
        args += ["--enable-expert-parallel"]
    if s.max_model_len:
        args += ["--max-model-len", str(s.max_model_len)]
    args += ["--gpu-memory-utilization", f"{s.gpu_memory_utilization:g}", "--kv-cache-dtype", s.kv_cache_dtype]
    if s.quantization:
        args += ["--quantization", s.quantization]
    if s.max_num_seqs:
        args += ["--max-num-seqs", str(s.max_num_seqs)]
    return shell_text([shlex.quote(x) for x in args])


def llamacpp_command(s: Setup) -> str:
    """`llama-server` with GPU layers, context, KV cache types, split mode and parallel slots.

    The context is per slot as the user means it: llama.cpp gives each of -np slots -c / np cells unless the
    KV is unified (-kvu), so -c = slots x context either way (with -kvu the slots share that pool). -ngl is
    the fitted layer count, or `auto` (llama.cpp's own --fit). MODEL must be a GGUF file.

    Source: llamacpp-args"""
    lay = s.layout
    _no_training_states("llama.cpp", lay)
    if lay.cp > 1 or lay.ep > 1 or lay.pp > 1 and lay.tp > 1:
        raise LlmsizeError("llama.cpp export: llama.cpp splits one model by layers (-sm layer) or by rows/tensors "
                           "(-sm row|tensor) over its GPUs; no context or expert parallelism, no TP x PP mix")
    if lay.tp > 1 and lay.tp != lay.gpus:
        raise LlmsizeError(f"llama.cpp export: TP {lay.tp} must span all {lay.gpus} GPUs (llama.cpp runs one "
                           "replica per server)")
    if not s.model.lower().endswith(".gguf"):
        raise LlmsizeError(f"llama.cpp export: MODEL must be a .gguf file, got {s.model!r}; download or convert one "
                           "(e.g. a Q4_K_M GGUF of it) and pass its path; `llmsize fit MODEL --weights Q4_K_M "
                           "--find ngl` sizes a preset before you have the file")
    if s.kv_cache_dtype not in LLAMACPP_FLAGS["-ctk"][2]:  # type: ignore[operator]
        raise LlmsizeError(f"llama.cpp KV cache type must be one of {', '.join(LLAMACPP_FLAGS['-ctk'][2] or ())}")
    ngl = "auto" if s.gpu_layers is None else str(s.gpu_layers)
    args = ["llama-server", "-m", s.model, "-ngl", ngl]
    slots = s.max_num_seqs or 1
    from llmsize.engines.llamacpp import MAX_SEQ

    if slots > MAX_SEQ:
        raise LlmsizeError(f"llama.cpp export: llama-server takes at most {MAX_SEQ} parallel slots (-np, "
                           f"LLAMA_MAX_SEQ), got {slots:,}; run several servers behind a router for more")
    if s.max_model_len:
        args += ["-c", str(s.max_model_len * slots)]
    args += ["-ctk", s.kv_cache_dtype, "-ctv", s.kv_cache_dtype]
    if s.kv_cache_dtype not in ("f16", "f32", "bf16"):
        args += ["-fa", "on"]  # a quantized V cache needs flash attention in llama.cpp
    if lay.gpus > 1:
        mode = s.split_mode or ("row" if lay.tp > 1 else "layer")
        if mode in ("row", "tensor") and lay.tp == 1 or mode == "layer" and lay.tp > 1:
            raise LlmsizeError(f"llama.cpp export: -sm {mode} does not match the layout {lay.label()} (row/tensor "
                               "split is TP over all GPUs, layer split is PP/DP)")
        split = s.tensor_split or tuple([1.0] * lay.gpus)
        args += ["-sm", mode, "-ts", ",".join(f"{x:g}" for x in split)]
    if s.max_num_seqs:
        args += ["-np", str(s.max_num_seqs)]
        args += ["-kvu"] if s.kv_unified else ["-no-kvu"]
    return shell_text([shlex.quote(x) for x in args])


def deepspeed_config(s: Setup) -> dict:
    """A DeepSpeed config: ZeRO stage, offload, bf16, micro-batch and gradient accumulation.

    Source: deepspeed-config"""
    lay = s.layout
    if lay.engine not in ("deepspeed", "ddp"):
        raise LlmsizeError(f"DeepSpeed export needs a DeepSpeed/DDP layout, not {lay.engine}")
    if lay.tp > 1 or lay.pp > 1 or lay.cp > 1:
        raise LlmsizeError("DeepSpeed export: no TP/PP/CP in plain DeepSpeed; use --fsdp/torchrun or "
                           "Megatron-DeepSpeed")
    zero: dict = {"stage": lay.zero}
    if lay.offload_params != "none" and lay.zero != 3:
        raise LlmsizeError(f"DeepSpeed export: parameter offload needs ZeRO stage 3, not {lay.zero}")
    if lay.offload_optimizer != "none" and lay.zero == 0:
        raise LlmsizeError("DeepSpeed export: optimizer offload needs ZeRO stage 1, 2 or 3")
    for key, dev in (("offload_optimizer", lay.offload_optimizer), ("offload_param", lay.offload_params)):
        if dev != "none":
            zero[key] = {"device": dev, "pin_memory": True}
            if dev == "nvme":  # DeepSpeed fails at start-up without the swap directory
                zero[key]["nvme_path"] = s.nvme_path
    if lay.zero == 3:
        zero.update({"overlap_comm": True, "contiguous_gradients": True, "stage3_gather_16bit_weights_on_model_save": True})
    return {"train_batch_size": s.micro_batch * s.grad_accum * lay.dp,
            "train_micro_batch_size_per_gpu": s.micro_batch, "gradient_accumulation_steps": s.grad_accum,
            "bf16": {"enabled": s.bf16}, "fp16": {"enabled": False}, "gradient_clipping": 1.0,
            "zero_optimization": zero}


_FSDP_STRATEGY = {"full_shard": "FULL_SHARD", "shard_grad_op": "SHARD_GRAD_OP", "hybrid_shard": "HYBRID_SHARD",
                  "no_shard": "NO_SHARD"}


def fsdp_config(s: Setup) -> dict:
    """An accelerate config (`accelerate launch --config_file`) for FSDP.

    accelerate's FSDP offloads parameters with their gradients and optimizer step together
    (fsdp_offload_params); an optimizer-only offload, and TP / PP / CP, are refused rather than dropped.
    hybrid_shard shards inside a group of `shard_group` GPUs (default: GPUs per node, FSDP1's intra-node
    group) and replicates across groups; another group size is written as FSDP2 with accelerate's
    parallelism_config (dp_shard_size x dp_replicate_size).

    Source: accelerate-fsdp"""
    lay = s.layout
    if lay.engine != "fsdp" or lay.fsdp is None:
        raise LlmsizeError("FSDP export needs an FSDP layout (--fsdp full_shard|shard_grad_op|hybrid_shard)")
    given = [f"--{k} {v}" for k, v in (("tp", lay.tp), ("pp", lay.pp), ("cp", lay.cp)) if v > 1]
    if given:
        raise LlmsizeError(f"FSDP export: accelerate's FSDP config cannot express {', '.join(given)}; export "
                           "megatron or torchtitan for 3D parallelism")
    if lay.offload_optimizer != "none" and lay.offload_params == "none":
        raise LlmsizeError("FSDP export: FSDP offloads parameters and optimizer states together "
                           "(--offload-params cpu); an optimizer-only offload is DeepSpeed ZeRO (export deepspeed)")
    if "nvme" in (lay.offload_optimizer, lay.offload_params):
        raise LlmsizeError("FSDP export: FSDP offloads to CPU memory only; NVMe offload is DeepSpeed ZeRO-Infinity")
    if lay.fsdp != "hybrid_shard" and s.shard_group is not None:
        raise LlmsizeError("FSDP export: a shard group is for --fsdp hybrid_shard only")
    group = s.hybrid_group if lay.fsdp == "hybrid_shard" else lay.dp
    if lay.fsdp == "hybrid_shard" and (lay.gpus % group or group < 1):
        raise LlmsizeError(f"FSDP export: {lay.gpus} GPUs do not split into shard groups of {group}")
    fsdp2 = lay.fsdp == "hybrid_shard" and group != s.procs_per_node
    fc: dict = {"fsdp_activation_checkpointing": s.activation_checkpointing,
                "fsdp_auto_wrap_policy": "TRANSFORMER_BASED_WRAP", "fsdp_cpu_ram_efficient_loading": True,
                "fsdp_offload_params": lay.offload_params != "none", "fsdp_state_dict_type": "SHARDED_STATE_DICT"}
    if fsdp2:
        fc.update(fsdp_version=2, fsdp_reshard_after_forward=True)
    else:
        fc.update(fsdp_backward_prefetch="BACKWARD_PRE", fsdp_forward_prefetch=False,
                  fsdp_sharding_strategy=_FSDP_STRATEGY[lay.fsdp], fsdp_sync_module_states=True,
                  fsdp_use_orig_params=True)
    out = {"compute_environment": "LOCAL_MACHINE", "debug": False, "distributed_type": "FSDP",
           "downcast_bf16": "no", "machine_rank": 0, "main_training_function": "main",
           "mixed_precision": "bf16" if s.bf16 else "no", "num_machines": s.nodes, "num_processes": lay.gpus,
           "rdzv_backend": "static" if s.nodes == 1 else "c10d", "same_network": True, "tpu_env": [],
           "tpu_use_cluster": False, "tpu_use_sudo": False, "use_cpu": False, "fsdp_config": fc}
    if fsdp2:
        out["parallelism_config"] = {"parallelism_config_dp_replicate_size": lay.gpus // group,
                                     "parallelism_config_dp_shard_size": group}
    return out


def to_yaml(obj: dict, indent: int = 0) -> str:
    """A flat/nested mapping as YAML (strings quoted only when needed), without a YAML dependency."""
    lines = []
    for k, v in obj.items():
        pad = " " * indent
        if isinstance(v, dict):
            lines.append(f"{pad}{k}:")
            lines.append(to_yaml(v, indent + 2))
        elif isinstance(v, bool):
            lines.append(f"{pad}{k}: {'true' if v else 'false'}")
        elif isinstance(v, list):
            lines.append(f"{pad}{k}: [{', '.join(map(str, v))}]")
        elif isinstance(v, str) and (v in ("no", "yes", "true", "false", "on", "off") or not v):
            lines.append(f"{pad}{k}: '{v}'")
        else:
            lines.append(f"{pad}{k}: {v}")
    return "\n".join(lines)


def torchrun_command(s: Setup, script: str | None = None) -> str:
    """A torchrun launch line for every node (NODE_RANK and MASTER_ADDR from the environment) running
    `script` (default: the setup's).

    Source: torchrun"""
    args = ["torchrun", f"--nnodes={s.nodes}", f"--nproc-per-node={s.procs_per_node}"]
    if s.nodes > 1:
        args += ["--node-rank=$NODE_RANK", "--rdzv-backend=c10d", "--rdzv-endpoint=$MASTER_ADDR:29500",
                 "--rdzv-id=llmsize"]
    else:
        args += ["--standalone"]
    return shell_text(args + [shlex.quote(script or s.script)])


def export(engine: str, s: Setup) -> str:
    """The text of one export."""
    import json

    if engine == "vllm":
        return vllm_command(s)
    if engine == "llamacpp":
        return llamacpp_command(s)
    if engine == "deepspeed":
        return json.dumps(deepspeed_config(s), indent=2)
    if engine == "fsdp":
        return to_yaml(fsdp_config(s))
    if engine == "torchrun":
        return torchrun_command(s)
    raise LlmsizeError(f"unknown export {engine!r} (known: {', '.join(ENGINES)})")


def engine_setup(engine: str, model: str, layout: Layout, *, max_model_len: int | None = None,
                 gpu_memory_utilization: float = 0.9, kv_cache_dtype: str | None = None,
                 quantization: str | None = None, max_num_seqs: int | None = None, micro_batch: int = 1,
                 grad_accum: int = 1, gpus_per_node: int = 8, script: str = "train.py", kv_unified: bool = False,
                 gpu_layers: int | str | None = None, split_mode: str | None = None,
                 nvme_path: str = "/local_nvme", shard_group: int | None = None,
                 activation_checkpointing: bool = False) -> Setup:
    """The Setup `llmsize export ENGINE MODEL` writes: a preset name becomes its Hugging Face repo (llama.cpp
    needs the GGUF file itself), the KV dtype defaults to the engine's (f16 / auto), and llama.cpp splits
    the model evenly over several GPUs."""
    kv = kv_cache_dtype or ("f16" if engine == "llamacpp" else "auto")
    from llmsize.catalog.presets import find_preset

    p = find_preset(model)
    if engine == "llamacpp" and p is not None and not model.lower().endswith(".gguf"):
        raise LlmsizeError(f"llama.cpp export: {model!r} is a preset, not a GGUF file; pass the .gguf path "
                           f"(e.g. {p.name}-Q4_K_M.gguf); `llmsize fit {p.name} --weights Q4_K_M --gpu GPU --find ngl` "
                           "sizes it first")
    if engine != "llamacpp" and p is not None:
        # vLLM and the training engines shard heads, FFN columns and layers: a layout they would refuse
        # (e.g. 64 heads over TP 3) is refused here, with the reason. llama.cpp splits rows freely.
        # ASSUMES: a MODEL that is no preset is checked by the engine itself (its config is not known here).
        from llmsize.load import load_preset
        from llmsize.parallel import check_layout

        check_layout(load_preset(p).spec, layout)
        model = p.repo if p.repo else model
    split = tuple([1.0] * layout.gpus) if engine == "llamacpp" and layout.gpus > 1 else ()
    return Setup(model=model, layout=layout, max_model_len=max_model_len,
                 gpu_memory_utilization=gpu_memory_utilization, kv_cache_dtype=kv, quantization=quantization,
                 max_num_seqs=max_num_seqs, micro_batch=micro_batch, grad_accum=grad_accum,
                 gpus_per_node=gpus_per_node, script=script, tensor_split=split, kv_unified=kv_unified,
                 gpu_layers=gpu_layers, split_mode=split_mode, nvme_path=nvme_path, shard_group=shard_group,
                 activation_checkpointing=activation_checkpointing)
