"""Megatron-LM `pretrain_gpt.py` arguments for a planned layout: TP, PP, CP, EP, sequence parallelism, the
distributed optimizer, recomputation, batch and the model's shape; launched by torchrun on every node.
Checked against Megatron-LM's own parser (recorded in llmsize.export.megatron_flags)."""
from __future__ import annotations

import math
import shlex
from typing import Any

from llmsize.errors import LlmsizeError
from llmsize.spec import ModelSpec

_NORM = {"rmsnorm": "RMSNorm", "layernorm": "LayerNorm"}
_POS = {"rope": "rope", "learned": "learned_absolute", "none": "none"}


def megatron_args(s: Any, spec: ModelSpec, job: Any, *, virtual_stages: int | None = None,
                  config: dict[str, Any] | None = None, notes: list[str] | None = None) -> str:
    """The launch line: `torchrun ... pretrain_gpt.py --tensor-model-parallel-size ... `. Interleaved
    pipelining: L / (PP x V) layers per virtual stage. The rotary base and Llama 3's RoPE scaling come from
    the model's `config` (Megatron's defaults are base 10,000 and no scaling); a scaling Megatron's flags
    cannot write is said in `notes`.

    Source: megatron-args"""
    from llmsize.export import torchrun_command
    from llmsize.planner.jobs import TrainJob

    lay = s.layout
    if not isinstance(job, TrainJob):
        raise LlmsizeError("Megatron export is for training")
    if spec.ssm is not None:
        raise LlmsizeError(f"Megatron export: {spec.name} has state-space layers; pretrain_gpt.py builds attention "
                           "models only (Megatron's Mamba hybrids use pretrain_mamba.py, which llmsize does not write)")
    if lay.fsdp is not None or lay.zero > 1:
        raise LlmsizeError(f"Megatron export: {lay.label()} shards like ZeRO-{lay.zero}; Megatron's distributed "
                           "optimizer shards optimizer states only (ZeRO-1); export deepspeed/fsdp/torchtitan for it")
    if lay.offload_optimizer != "none" or lay.offload_params != "none":
        raise LlmsizeError("Megatron export: offloading is DeepSpeed's (export deepspeed)")
    if spec.attention.mla or spec.position not in _POS or spec.norms.kind not in _NORM:
        raise LlmsizeError(f"Megatron export: {spec.name} ({spec.model_type}) is not a pretrain_gpt.py GPT model")
    a = spec.attention
    args: list[str] = ["--tensor-model-parallel-size", str(lay.tp), "--pipeline-model-parallel-size", str(lay.pp)]
    if virtual_stages:
        if lay.pp == 1 or spec.num_layers % (lay.pp * virtual_stages):
            raise LlmsizeError(f"Megatron export: {virtual_stages} virtual stages need PP > 1 and {spec.num_layers} "
                               f"layers divisible by PP {lay.pp} x {virtual_stages}")
        args += ["--num-layers-per-virtual-pipeline-stage", str(spec.num_layers // (lay.pp * virtual_stages))]
    if lay.cp > 1:
        args += ["--context-parallel-size", str(lay.cp)]
    if lay.ep > 1:
        args += ["--expert-model-parallel-size", str(lay.ep)]
    if lay.tp > 1:
        args += ["--sequence-parallel"]
    if lay.zero == 1:
        args += ["--use-distributed-optimizer"]
    if job.recompute:
        args += ["--recompute-granularity", "full", "--recompute-method", "uniform", "--recompute-num-layers", "1"]
    args += ["--micro-batch-size", str(lay.micro_batch if lay.micro_batch > 1 else job.micro_batch),
             "--global-batch-size", str(job.global_batch), "--seq-length", str(job.seq_len),
             "--max-position-embeddings", str(spec.max_position_embeddings),
             "--num-layers", str(spec.num_layers), "--hidden-size", str(spec.hidden_size),
             "--num-attention-heads", str(a.num_heads)]
    ffn = spec.mlp.intermediate_size
    args += ["--ffn-hidden-size", str(ffn)]
    if a.num_kv_heads != a.num_heads:
        args += ["--group-query-attention", "--num-query-groups", str(a.num_kv_heads)]
    if a.head_dim * a.num_heads != spec.hidden_size:
        args += ["--kv-channels", str(a.head_dim)]
    if spec.mlp.kind == "gated" and "silu" in spec.mlp.activation:
        args += ["--swiglu"]
    args += ["--normalization", _NORM[spec.norms.kind], "--position-embedding-type", _POS[spec.position]]
    if spec.position == "rope":
        args += _rope_args(config or {}, spec.name, notes if notes is not None else [])
    if not spec.tie_word_embeddings:
        args += ["--untie-embeddings-and-output-weights"]
    if not spec.mlp.bias and not a.o_bias:
        args += ["--disable-bias-linear"]
        if a.qkv_bias:
            args += ["--add-qkv-bias"]
    if a.qk_norm not in (None, "none", False):
        args += ["--qk-layernorm"]
    if spec.moe:
        args += ["--num-experts", str(spec.moe.num_experts), "--moe-router-topk", str(spec.moe.top_k),
                 "--moe-ffn-hidden-size", str(spec.moe.expert_intermediate_size),
                 # the experts' GEMMs grouped, and under EP the all-to-all dispatch the speed model times
                 # (speedmodel/comm.py); Megatron-Core's defaults are per-expert GEMMs and an all-gather
                 "--moe-grouped-gemm"]
        if lay.ep > 1:
            args += ["--moe-token-dispatcher-type", "alltoall"]
    if job.precision in ("bf16-mixed", "bf16", "fp8-mixed"):
        args += ["--bf16"]
    if job.precision == "fp8-mixed":
        args += ["--fp8-format", "hybrid"]  # Transformer Engine: E4M3 forward, E5M2 gradients
    if job.tokens:
        args += ["--train-iters", str(max(1, round(job.tokens / (job.global_batch * job.seq_len))))]
    args += ["--tokenizer-type", "HuggingFaceTokenizer", "--tokenizer-model", s.model]
    return torchrun_command(s, "pretrain_gpt.py") + " \\\n  " + " \\\n  ".join(
        " ".join(shlex.quote(x) for x in pair) for pair in _pairs(args))


# Megatron's Llama 3 scaling (RotaryEmbedding._apply_scaling) fixes these; only the factor is a flag
_LLAMA3_FIXED = {"low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 8192}


def _rope_args(config: dict[str, Any], name: str, notes: list[str]) -> list[str]:
    """--rotary-base from the config's rope_theta (transformers v5: rope_parameters.rope_theta) where it is not
    Megatron's 10,000, and --use-rope-scaling --rope-scaling-factor F for Llama 3's scaling; another scaling
    type, or Llama 3's with other fixed factors than Megatron's, is said in a note (the run would build its
    positions without it).

    Source: megatron-args"""
    params = config.get("rope_parameters") if isinstance(config.get("rope_parameters"), dict) else {}
    theta = config.get("rope_theta", params.get("rope_theta"))
    out: list[str] = []
    if isinstance(theta, (int, float)) and not isinstance(theta, bool) and math.isfinite(theta) and theta != 10000:
        if theta != int(theta):
            notes.append(f"{name}: rope_theta {theta:g} is not a whole number; Megatron's --rotary-base takes one: "
                         f"{int(theta)} written")
        out += ["--rotary-base", str(int(theta))]
    scaling = config.get("rope_scaling") or (params if params.get("rope_type", "default") != "default" else None)
    if isinstance(scaling, dict):
        kind = scaling.get("rope_type", scaling.get("type"))
        if kind == "llama3":
            out += ["--use-rope-scaling", "--rope-scaling-factor", f"{float(scaling.get('factor', 8.0)):g}"]
            other = {k: scaling[k] for k, v in _LLAMA3_FIXED.items() if k in scaling and scaling[k] != v}
            if other:
                notes.append(f"{name}: Llama 3 RoPE scaling with {other}; Megatron's --use-rope-scaling fixes "
                             f"{_LLAMA3_FIXED}")
        elif kind not in (None, "default"):
            notes.append(f"{name}: RoPE scaling {kind!r} from its config is not written (pretrain_gpt.py's rope "
                         "flags express Llama 3's only); the run's positions differ from the checkpoint's")
    return out


def _pairs(args: list[str]) -> list[list[str]]:
    out: list[list[str]] = []
    for x in args:
        if x.startswith("--") or not out:
            out.append([x])
        else:
            out[-1].append(x)
    return out


def parse_megatron(text: str) -> dict[str, Any]:
    """The pretrain_gpt.py arguments of an exported launch, through a parser built from Megatron-LM's recorded
    definitions (unknown flag, missing value or bad choice -> LlmsizeError)."""
    import argparse

    from llmsize.export.megatron_flags import MEGATRON_FLAGS
    from llmsize.export.parse import _Parser

    argv = shlex.split(text.replace("\\\n", " "))
    if "pretrain_gpt.py" not in argv:
        raise LlmsizeError("not a pretrain_gpt.py launch")
    p = _Parser(prog="pretrain_gpt.py", add_help=False, allow_abbrev=False)
    for flag, (names, kind, choices) in MEGATRON_FLAGS.items():
        if kind == "flag":
            p.add_argument(*names, action="store_true")
        else:
            p.add_argument(*names, choices=list(choices) if choices else None)
    ns: argparse.Namespace = p.parse_args(argv[argv.index("pretrain_gpt.py") + 1:])
    return {k: v for k, v in vars(ns).items() if v not in (None, False)}
