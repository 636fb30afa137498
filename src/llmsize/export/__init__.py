"""Turn a planned setup into what each engine reads: a vLLM command line, llama.cpp flags, a DeepSpeed
JSON, an accelerate FSDP config, a torchrun launch line. Each exporter has a parser beside it
(`parse_*`) that reads the output back into the same setup, for round-trip tests."""
from __future__ import annotations

import shlex
from dataclasses import dataclass

from llmsize.errors import LlmsizeError
from llmsize.export.flags import LLAMACPP_FLAGS, VLLM_FLAGS, VLLM_QUANTIZATION
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

    def __post_init__(self) -> None:
        if not self.model:
            raise LlmsizeError("export: a model name or path is needed")
        if not 0 < self.gpu_memory_utilization <= 1:
            raise LlmsizeError("export: gpu_memory_utilization must be in (0, 1]")

    @property
    def nodes(self) -> int:
        return max(1, -(-self.layout.gpus // self.gpus_per_node))

    @property
    def procs_per_node(self) -> int:
        return min(self.layout.gpus, self.gpus_per_node)


def _no_training_states(engine: str, lay: Layout) -> None:
    """A serving engine holds no gradients or optimizer states: ZeRO, FSDP and offloading them are refused."""
    given = [f for f, on in (("--zero", lay.zero > 0 and lay.fsdp is None), ("--fsdp", lay.fsdp is not None),
                             ("--offload-optimizer", lay.offload_optimizer != "none"),
                             ("--offload-params", lay.offload_params != "none")) if on]
    if given:
        raise LlmsizeError(f"{engine} export: {', '.join(given)} shard{'s' * (len(given) == 1)} or offload training "
                           "states; a serving engine has none")


def vllm_command(s: Setup) -> str:
    """`vllm serve` with TP/PP sizes, context, memory share, KV dtype and quantization.

    Source: vllm-memory"""
    lay = s.layout
    _no_training_states("vLLM", lay)
    if lay.dp > 1 or lay.cp > 1:
        raise LlmsizeError("vLLM export: one replica is TP × PP GPUs; run one server per data-parallel replica")
    if s.kv_cache_dtype not in VLLM_FLAGS["--kv-cache-dtype"][2]:  # type: ignore[operator]
        raise LlmsizeError(f"vLLM KV cache dtype must be one of {', '.join(VLLM_FLAGS['--kv-cache-dtype'][2] or ())}")
    if s.quantization is not None and s.quantization not in VLLM_QUANTIZATION:
        raise LlmsizeError(f"vLLM quantization must be one of {', '.join(VLLM_QUANTIZATION)}")
    args = ["vllm", "serve", s.model, "--tensor-parallel-size", str(lay.tp), "--pipeline-parallel-size", str(lay.pp)]
    if s.max_model_len:
        args += ["--max-model-len", str(s.max_model_len)]
    args += ["--gpu-memory-utilization", f"{s.gpu_memory_utilization:g}", "--kv-cache-dtype", s.kv_cache_dtype]
    if s.quantization:
        args += ["--quantization", s.quantization]
    if s.max_num_seqs:
        args += ["--max-num-seqs", str(s.max_num_seqs)]
    return shlex.join(args)


def llamacpp_command(s: Setup) -> str:
    """`llama-server` with GPU layers, context, KV cache types, tensor split and parallel slots.

    Source: llamacpp-args"""
    lay = s.layout
    _no_training_states("llama.cpp", lay)
    if lay.cp > 1 or lay.ep > 1:
        raise LlmsizeError("llama.cpp export: no context or expert parallelism in llama.cpp; use --tp or --pp")
    if lay.tp > 1 and lay.tp != lay.gpus:
        raise LlmsizeError(f"llama.cpp export: TP {lay.tp} must span all {lay.gpus} GPUs (llama.cpp splits one "
                           "model by rows (-sm row) or by layers (-sm layer), not both, and runs one replica)")
    if s.kv_cache_dtype not in LLAMACPP_FLAGS["-ctk"][2]:  # type: ignore[operator]
        raise LlmsizeError(f"llama.cpp KV cache type must be one of {', '.join(LLAMACPP_FLAGS['-ctk'][2] or ())}")
    args = ["llama-server", "-m", s.model, "-ngl", str(s.n_layers if s.n_layers is not None else 999)]
    if s.max_model_len:
        args += ["-c", str(s.max_model_len)]
    args += ["-ctk", s.kv_cache_dtype, "-ctv", s.kv_cache_dtype]
    if s.kv_cache_dtype not in ("f16", "f32", "bf16"):
        args += ["-fa", "on"]  # a quantized V cache needs flash attention in llama.cpp
    if s.tensor_split:
        # TP: each GPU holds a share of every weight matrix's rows (-sm row); otherwise whole layers each
        args += ["-sm", "row" if lay.tp > 1 else "layer", "-ts", ",".join(f"{x:g}" for x in s.tensor_split)]
    if s.max_num_seqs:
        args += ["-np", str(s.max_num_seqs)]
    return shlex.join(args)


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
    if lay.offload_optimizer != "none":
        zero["offload_optimizer"] = {"device": lay.offload_optimizer, "pin_memory": True}
    if lay.offload_params != "none":
        zero["offload_param"] = {"device": lay.offload_params, "pin_memory": True}
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

    Source: accelerate-fsdp"""
    lay = s.layout
    if lay.engine != "fsdp" or lay.fsdp is None:
        raise LlmsizeError("FSDP export needs an FSDP layout (--fsdp full_shard|shard_grad_op|hybrid_shard)")
    return {"compute_environment": "LOCAL_MACHINE", "debug": False, "distributed_type": "FSDP",
            "downcast_bf16": "no", "machine_rank": 0, "main_training_function": "main",
            "mixed_precision": "bf16" if s.bf16 else "no", "num_machines": s.nodes, "num_processes": lay.gpus,
            "rdzv_backend": "static" if s.nodes == 1 else "c10d", "same_network": True, "tpu_env": [],
            "tpu_use_cluster": False, "tpu_use_sudo": False, "use_cpu": False,
            "fsdp_config": {"fsdp_auto_wrap_policy": "TRANSFORMER_BASED_WRAP", "fsdp_backward_prefetch": "BACKWARD_PRE",
                            "fsdp_cpu_ram_efficient_loading": True, "fsdp_forward_prefetch": False,
                            "fsdp_offload_params": lay.offload_params != "none" or lay.offload_optimizer != "none",
                            "fsdp_sharding_strategy": _FSDP_STRATEGY[lay.fsdp],
                            "fsdp_state_dict_type": "SHARDED_STATE_DICT", "fsdp_sync_module_states": True,
                            "fsdp_use_orig_params": True}}


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


def torchrun_command(s: Setup) -> str:
    """A torchrun launch line for every node (NODE_RANK and MASTER_ADDR from the environment).

    Source: torchrun"""
    args = ["torchrun", f"--nnodes={s.nodes}", f"--nproc-per-node={s.procs_per_node}"]
    if s.nodes > 1:
        args += ["--node-rank=$NODE_RANK", "--rdzv-backend=c10d", "--rdzv-endpoint=$MASTER_ADDR:29500",
                 "--rdzv-id=llmsize"]
    else:
        args += ["--standalone"]
    return " ".join(args + [s.script])


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
                 grad_accum: int = 1, gpus_per_node: int = 8, script: str = "train.py") -> Setup:
    """The Setup `llmsize export ENGINE MODEL` writes: a preset name becomes its Hugging Face repo (llama.cpp
    keeps MODEL, the GGUF file), the KV dtype defaults to the engine's (f16 / auto), and llama.cpp splits
    the model evenly over several GPUs."""
    kv = kv_cache_dtype or ("f16" if engine == "llamacpp" else "auto")
    if engine != "llamacpp":  # a preset name becomes the Hugging Face repo vLLM / the training script loads
        from llmsize.catalog.presets import find_preset

        p = find_preset(model)
        if p is not None:
            # vLLM and the training engines shard heads, FFN columns and layers: a layout they would refuse
            # (e.g. 64 heads over TP 3) is refused here, with the reason. llama.cpp splits rows freely.
            # ASSUMES: a MODEL that is no preset is checked by the engine itself (its config is not known here).
            from llmsize.load import load_preset
            from llmsize.parallel import check_layout

            check_layout(load_preset(p).spec, layout)
        model = p.repo if p is not None and p.repo else model
    split = tuple([1.0] * layout.gpus) if engine == "llamacpp" and layout.gpus > 1 else ()
    return Setup(model=model, layout=layout, max_model_len=max_model_len,
                 gpu_memory_utilization=gpu_memory_utilization, kv_cache_dtype=kv, quantization=quantization,
                 max_num_seqs=max_num_seqs, micro_batch=micro_batch, grad_accum=grad_accum,
                 gpus_per_node=gpus_per_node, script=script, tensor_split=split)
