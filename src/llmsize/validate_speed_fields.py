"""The fields of a speed case as sources spell them: type checks that make a broken file (exit 2), and
the documented spellings of weights, training precision, recomputation, pipeline schedule and sharding
read as llmsize's names, each reading that is more than a change of case reported as a note.

Source: narayanan2021
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from llmsize.bounds import bound
from llmsize.errors import LlmsizeError

# workload / layout fields that are counts: a positive integer (context: >= 0) or null
_COUNTS = {"decode": ("batch", "tokens", "tp"), "prefill": ("batch", "tokens", "tp", "ubatch"),
           "serve": ("prompt", "output", "tp", "pp", "dp", "ep", "scheduler_steps", "max_model_len", "max_seqs",
                     "num_prompts"),
           "train": ("seq", "micro_batch", "global_batch")}
_LAYOUT_COUNTS = ("dp", "tp", "pp", "cp", "ep", "virtual_stages")
# the `bounds` entry that caps each count of _COUNTS (lengths of tokens: context; sequences at once: batch;
# parallel degrees: gpus)
_BOUND = {"batch": "batch", "tokens": "context", "ubatch": "context", "prompt": "context", "output": "context",
          "max_model_len": "context", "seq": "context", "scheduler_steps": "batch", "max_seqs": "batch",
          "micro_batch": "batch", "global_batch": "global_batch", "num_prompts": "global_batch"}


def _count(v: Any, name: str, low: int = 1, cap: str = "gpus") -> None:
    """A count field: null, or a whole number from `low` to the `cap` bound (`llmsize.bounds`)."""
    ok = not isinstance(v, bool) and isinstance(v, (int, float)) and v == v and abs(v) != float("inf") \
        and v == int(v) and v >= low
    if v is not None and not ok:
        raise LlmsizeError(f"{name} must be an integer >= {low} or null, got {v!r}")
    if v is not None and v > bound(cap):
        raise LlmsizeError(f"{name} must be at most {bound(cap):,} (llmsize's {cap} bound, far above any real "
                           f"run), got {v:,.0f}")


def check_workload(task: str, w: Mapping[str, Any]) -> None:
    """Refuse field values the schema rules out (a count that is not a whole number, a negative context,
    a layout that is not an object); values it allows but llmsize cannot time are the case's own error."""
    for k in _COUNTS[task]:
        _count(w.get(k), f"workload.{k}", cap=_BOUND.get(k, "gpus"))
    if task == "decode":
        _count(w.get("context"), "workload.context", 0, cap="context")
    for k in ("weights", "kv_dtype", "precision"):
        if w.get(k) is not None and not isinstance(w[k], str):
            raise LlmsizeError(f"workload.{k} must be a string or null, got {w[k]!r}")
    for k in ("chunked_prefill", "attention_dp"):
        if w.get(k) is not None and not isinstance(w[k], bool):
            raise LlmsizeError(f"workload.{k} must be true, false or null, got {w[k]!r}")
    c = w.get("concurrency")
    if c is not None and not (isinstance(c, str) and c.lower() == "max"):
        _count(c, "workload.concurrency (or \"max\")", cap="batch")
    for k in ("request_rate",) if task == "serve" else ("tokens",) if task == "train" else ():
        v = w.get(k)
        if k == "request_rate" and is_inf(v):
            continue
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or v <= 0):
            raise LlmsizeError(f"workload.{k} must be a positive number or null, got {v!r}")
    if task == "train":
        lay = w.get("layout")
        if lay is not None and not isinstance(lay, Mapping):
            raise LlmsizeError(f"workload.layout must be an object or null, got {lay!r}")
        for k in (*_LAYOUT_COUNTS, "dp_shard", "dp_replicate"):
            _count((lay or {}).get(k), f"workload.layout.{k}")
        z = (lay or {}).get("zero")
        if z is not None and (isinstance(z, bool) or z not in (0, 1, 2, 3)):
            raise LlmsizeError(f"workload.layout.zero must be 0, 1, 2, 3 or null, got {z!r}")


def is_inf(v: Any) -> bool:
    """A request rate of infinity (vLLM's and SGLang's default, `inf`: every request sent at once)."""
    return (isinstance(v, float) and v == float("inf")) or (isinstance(v, str) and v.strip().lower() in ("inf", "infinity"))


# weight formats as serving benchmarks name them -> (llmsize's format, why), for spellings `llmsize quant`
# does not take as they are
# ASSUMES: a weight-only int4 checkpoint whose method is not named stores int4 in groups of 128 with fp16
#          scales and zeros (AWQ's and GPTQ's default group; their bytes differ by the g_idx alone)
_INT8 = "int8 weights with per-channel scales (the bytes of int8; GEMMs timed on the 16-bit path)"
_INT8_WO = "int8 weight-only, per-channel scales"
_W4A8 = "int4 weights in groups of 128 (AWQ's bytes); GEMMs timed on the 16-bit path"
_E4M3 = "FP8 e4m3, per-channel scales"
_BNB4 = "bitsandbytes 4-bit (NF4; its FP4 variant has the same bytes and kernels)"
_WEIGHTS = {"int4": ("awq-int4-g128", "weight-only int4, group 128 (AWQ's layout)"),
            "int4-weight-only": ("awq-int4-g128", "weight-only int4, group 128 (AWQ's layout)"),
            "int4_weight_only": ("awq-int4-g128", "weight-only int4, group 128 (AWQ's layout)"),
            "w4a16": ("gptq-int4-g128-no-gidx", "W4A16 (llm-compressor: int4 group 128, no g_idx)"),
            "int4-awq": ("awq-int4-g128", "AWQ int4, group 128"), "int4_awq": ("awq-int4-g128", "AWQ int4, group 128"),
            "int4-gptq": ("gptq-int4-g128", "GPTQ int4, group 128"),
            "int4_gptq": ("gptq-int4-g128", "GPTQ int4, group 128"),
            "w4a8": ("awq-int4-g128", _W4A8), "w4a8_awq": ("awq-int4-g128", _W4A8), "w4a8-awq": ("awq-int4-g128", _W4A8),
            "w8a8": ("int8", _INT8), "int8-w8a8": ("int8", _INT8), "w8a8-int8": ("int8", _INT8),
            "smoothquant": ("int8", _INT8), "int8-sq": ("int8", _INT8),
            "w8a16": ("int8", _INT8_WO), "int8-weight-only": ("int8", _INT8_WO), "int8_weight_only": ("int8", _INT8_WO),
            "8bit": ("int8", "bitsandbytes 8-bit (LLM.int8())"), "bnb-8bit": ("int8", "bitsandbytes 8-bit (LLM.int8())"),
            # bitsandbytes' 4-bit NF4 and FP4 store the same bytes (4 bits and an absmax per 64) and run the
            # same dequantising kernels
            "4bit": ("nf4", _BNB4), "bnb-4bit": ("nf4", _BNB4), "bnb_4bit": ("nf4", _BNB4),
            "load_in_4bit": ("nf4", _BNB4), "bnb-nf4": ("nf4", _BNB4), "bnb-fp4": ("nf4", _BNB4),
            "w8a8-fp8": ("fp8", "FP8 e4m3 weights and activations"),
            "fp8-w8a8": ("fp8", "FP8 e4m3 weights and activations"),
            "fp8_e4m3": ("fp8", _E4M3), "float8_e4m3fn": ("fp8", _E4M3), "e4m3": ("fp8", _E4M3),
            "fp8_block": ("fp8-block", "FP8 e4m3, 128x128 block scales"),
            "fp8-per-tensor": ("fp8-tensor", "FP8 e4m3, per-tensor scales"),
            "fp8_per_tensor": ("fp8-tensor", "FP8 e4m3, per-tensor scales")}
# KV-cache dtypes as engines name them that `llmsize quant` does not take as they are: the same bytes
_KV = {"int8": ("fp8", "one byte per value, as fp8 (TensorRT-LLM's INT8 KV cache)"),
       "fp8_e4m3fn": ("fp8_e4m3", "FP8 e4m3"), "float8_e4m3fn": ("fp8_e4m3", "FP8 e4m3"),
       "fp8e4m3": ("fp8_e4m3", "FP8 e4m3"), "fp8e5m2": ("fp8_e5m2", "FP8 e5m2"),
       "nvfp4": ("q4_0", "4-bit values with an 8-bit scale per 16: 4.5 bits a value, q4_0's bytes")}


def kv_dtype(w: Mapping[str, Any], notes: list[str]) -> str | None:
    """The case's KV-cache dtype as `llmsize quant` names it (null stays null: the model's 16-bit dtype)."""
    v = w.get("kv_dtype")
    hit = _KV.get(v.strip().lower()) if v is not None else None
    if hit is None:
        return v
    notes.append(f"kv_dtype {v!r} read as {hit[0]}: {hit[1]}")
    return hit[0]


def weights(w: Mapping[str, Any], notes: list[str], model: Any = None, native: Any = None) -> str:
    """The case's weight format as `llmsize quant` names it. Null takes, most exact first: the format the
    checkpoint stores (`quant.native`: its headers or its config's quantization_config), the one its
    name states (`...-Instruct-FP8`, `...-AWQ`), its config's dtype, else bf16; each said in `notes`."""
    v = w.get("weights")
    if isinstance(v, str) and v.strip().lower() == "auto":  # vLLM's and SGLang's --dtype auto: the checkpoint's own
        notes.append("weights 'auto' read as not given: the checkpoint's own format, as the engines' dtype auto")
        v = None
    if v is None:
        origin = getattr(native, "origin", "default")
        named = named_format(model) if isinstance(model, str) else None
        if origin in ("quantization_config", "safetensors headers", "GGUF header"):
            key, why = native.key, f"the checkpoint's {origin}"
        elif named is not None:
            key, why = named, f"from the model's name {model!r}"
        elif origin == "config dtype":
            # ASSUMES: an fp32 checkpoint is served in fp16 (vLLM's and SGLang's dtype "auto" do so)
            key = "fp16" if native.key == "fp32" else native.key
            why = "the config's dtype" + (" fp32, served in fp16 as vLLM's \"auto\" does" if native.key == "fp32" else "")
        else:
            key, why = "bf16", "llmsize's default"
        notes.append(f"weights not given: {key!r} assumed ({why})")
        return key
    hit = _WEIGHTS.get(v.strip().lower())
    if hit is None:
        return v
    notes.append(f"weights {v!r} read as {hit[0]}: {hit[1]}")
    return hit[0]


# training precision as trainers name it (Lightning, Composer/llm-foundry, DeepSpeed, Megatron flags)
_PRECISION = {"bf16-mixed": "bf16-mixed", "bf16_mixed": "bf16-mixed", "amp_bf16": "bf16-mixed",
              "bf16-amp": "bf16-mixed", "mixed-bf16": "bf16-mixed", "bf16": "bf16", "bf16-true": "bf16",
              "fp16-mixed": "fp16-mixed", "fp16_mixed": "fp16-mixed", "amp_fp16": "fp16-mixed",
              "16-mixed": "fp16-mixed", "fp16": "fp16-mixed", "fp8-mixed": "fp8-mixed", "fp8_mixed": "fp8-mixed",
              "amp_fp8": "fp8-mixed", "fp8": "fp8-mixed", "transformer-engine": "fp8-mixed", "fp32": "fp32",
              "32-true": "fp32", "32": "fp32", "tf32": "fp32", "float32": "fp32", "bfloat16": "bf16",
              "mixed-precision-bf16": "bf16-mixed", "bf16-mixed-precision": "bf16-mixed"}
_WHY = {"fp16": "fp16 training keeps fp32 master weights and a loss scale (DeepSpeed's \"fp16\")",
        "tf32": "fp32 training, matmuls on TF32 tensor cores", "fp8": "FP8 GEMMs, bf16 elsewhere",
        "bf16-true": "pure bf16 (Lightning)"}
_RECOMPUTE = {"none": "none", "selective": "selective", "full": "full", "no": "none", "off": "none",
              "false": "none", "true": "full", "block": "full", "uniform": "full",
              "selective-recompute": "selective", "selective-recomputation": "selective",
              "selective-activation-recomputation": "selective", "full-recompute": "full",
              "full-recomputation": "full", "full-activation-recomputation": "full",
              # Hugging Face's gradient checkpointing, torchtitan's "full" mode, Lightning's: every layer's input kept
              "activation-checkpointing": "full", "gradient-checkpointing": "full", "checkpointing": "full"}
_SCHEDULE = {"1f1b": "1f1b", "interleaved": "interleaved", "zero-bubble": "zero-bubble", "zb": "zero-bubble",
             "zbh1": "zero-bubble", "zbv": "zero-bubble", "zero_bubble": "zero-bubble", "dualpipe": "zero-bubble",
             "interleaved-1f1b": "interleaved", "interleaved_1f1b": "interleaved", "gpipe": "1f1b",
             "looped_bfs": "interleaved", "interleaved1f1b": "interleaved"}
# FSDP's ShardingStrategy (and FSDP2's reshard_after_forward) -> what its traffic is timed as: full_shard
# (ZeRO-3: parameters gathered in forward and backward); the others keep whole parameters where the
# step runs: shard_grad_op is ZeRO-2, no_shard is DDP
# ASSUMES: hybrid_shard (full shard inside a node, replicas across nodes) is timed by its inter-node
#          traffic, a gradient all-reduce as DDP's; its intra-node gathers ride NVLink under compute
_FSDP = {"full_shard": "full_shard", "shard_grad_op": "shard_grad_op", "hybrid_shard": "hybrid_shard",
         "_hybrid_shard_zero2": "hybrid_shard_zero2", "hybrid_shard_zero2": "hybrid_shard_zero2",
         "no_shard": "no_shard", "full": "full_shard", "fsdp2": "full_shard", "true": "full_shard",
         "false": "no_shard"}


def _spelled(key: str) -> str:
    """A spelling with spaces and underscores as hyphens ("bf16 mixed", "full_recompute")."""
    return "-".join(key.replace("_", " ").split())


def _pick(table: Mapping[str, str], v: Any, what: str, notes: list[str]) -> str:
    key = str(v).lower() if isinstance(v, bool) else str(v).strip().lower()
    got = table.get(key)
    if got is None:  # the same words with other separators
        got = next((g for k, g in table.items() if _spelled(k) == _spelled(key)), None)
    if got is None:
        raise LlmsizeError(f"unknown {what} {v!r} (known: {', '.join(sorted(set(table)))})")
    if got != key:
        notes.append(f"{what} {v!r} read as {got}" + (f": {_WHY[key]}" if key in _WHY else ""))
    return got


def train_fields(w: Mapping[str, Any], notes: list[str]) -> dict[str, Any]:
    """The training workload with precision, recompute and the layout's schedule, fsdp and zero read
    as llmsize's names (null stays null: the caller's defaults apply)."""
    out = dict(w)
    if w.get("precision") is not None:
        out["precision"] = _pick(_PRECISION, w["precision"], "precision", notes)
    else:
        out["precision"] = "bf16-mixed"
        notes.append("precision not given: 'bf16-mixed' assumed")
    if w.get("recompute") is not None:
        out["recompute"] = _pick(_RECOMPUTE, w["recompute"], "recompute", notes)
    lay = dict(w.get("layout") or {})
    shard, rep = lay.pop("dp_shard", None), lay.pop("dp_replicate", None)
    if (shard or rep) and lay.get("dp") is None:
        # torchtitan's names: dp_shard GPUs shard parameters (FSDP2), dp_replicate groups of them replicate
        lay["dp"] = (shard or 1) * (rep or 1)
        if (shard or 1) > 1 and lay.get("fsdp") is None:
            lay["fsdp"] = "hybrid_shard" if (rep or 1) > 1 else "full_shard"
        notes.append(f"layout dp_shard {shard}, dp_replicate {rep} read as dp {lay['dp']}"
                     + (f", fsdp {lay['fsdp']}" if lay.get("fsdp") else ""))
    if lay.get("schedule") is not None:
        lay["schedule"] = _pick(_SCHEDULE, lay["schedule"], "pipeline schedule", notes)
    if lay.get("fsdp") is not None:
        lay["fsdp"] = _pick(_FSDP, lay["fsdp"], "fsdp sharding", notes)
    if w.get("layout") is not None:
        out["layout"] = lay
    return out


# the fields each task's prediction reads; any other is said in the notes, never dropped unsaid
_USED = {"decode": ("weights", "kv_dtype", "batch", "context", "tokens", "tp", "flash_attn"),
         "prefill": ("weights", "batch", "tokens", "tp", "flash_attn", "ubatch"),
         "serve": ("weights", "kv_dtype", "prompt", "output", "concurrency", "request_rate", "tp", "pp", "dp",
                   "ep", "attention_dp", "scheduler_steps", "max_seqs", "chunked_prefill", "max_model_len",
                   "num_prompts"),
         "train": ("precision", "seq", "micro_batch", "global_batch", "recompute", "layout", "tokens")}
_LAYOUT = ("dp", "tp", "pp", "cp", "ep", "fsdp", "zero", "virtual_stages", "schedule", "dp_shard", "dp_replicate",
           "tp_overlap", "a2a_overlap", "dispatcher")


def unused(task: str, w: Mapping[str, Any]) -> list[str]:
    """Notes for the workload's (and layout's) given fields that the task's prediction does not read."""
    extra = [f"workload.{k}" for k, v in w.items() if k != "task" and k not in _USED[task] and v is not None]
    if task == "train" and isinstance(w.get("layout"), Mapping):
        extra += [f"workload.layout.{k}" for k, v in w["layout"].items() if k not in _LAYOUT and v is not None]
    return [f"{', '.join(extra)} not used by the {task} model"] if extra else []


def knobs(k: Mapping[str, Any]) -> dict[str, Any]:
    """A case's knobs as `from_knobs` takes them: the CLI's option names with `-` or `_`, null dropped."""
    return {str(n).replace("-", "_"): v for n, v in k.items() if v is not None}


# the tail words of a fine-tuned, re-released or quantized checkpoint's name; the architecture is its base
# model's. A four-digit date tag (Qwen's -2507, DeepSeek's -0528) marks a later training run of the same
# shapes, and -v2 a re-quantization (nvidia/DeepSeek-R1-0528-NVFP4-v2)
_TAIL = re.compile(r"[-_.](instruct|chat|it|hf|base|fp8|dynamic|awq|gptq|int4|int8|w4a16|w8a8|w8a16|gguf|bnb|4bit|8bit|"
                   r"nf4|nvfp4|fp4|mxfp4|quantized|v\d|\d{4})$", re.I)


def named_format(model: str) -> str | None:
    """The weight format a checkpoint's name states: FP8, AWQ, GPTQ (int4, or int8 where it says so), W4A16,
    W8A8, NVFP4; None where it states none (a GGUF repo holds several)."""
    words = set(re.split(r"[-_./]", model.lower()))
    if "nvfp4" in words or "fp4" in words:  # NVIDIA's FP4 releases (ModelOpt) are NVFP4
        return "nvfp4"
    if "mxfp4" in words:
        return "mxfp4"
    if "fp8" in words:
        return "fp8"
    if "awq" in words:
        return "awq-int4-g128"
    if "gptq" in words:
        return "gptq-int8-g128" if "int8" in words else "gptq-int4-g128"
    return next((_WEIGHTS[x][0] for x in ("w4a16", "w8a8") if x in words), None)


def base_preset(model: str) -> tuple[str, str] | None:
    """(preset, what was read past) for a checkpoint name llmsize has no config for: its repo's last part,
    less the tail words of an instruction-tuned or quantized release (`Qwen2.5-7B-Instruct`,
    `nvidia/Llama-3.1-70B-Instruct-FP8`, `TheBloke/Llama-2-7B-GGUF`), is a preset; None if it is not."""
    from llmsize.catalog.presets import find_preset

    name = model.split("@")[0].split(":")[0].rstrip("/").split("/")[-1]
    cand, cut = name, []
    while True:
        p = find_preset(cand) or (find_preset(cand[5:]) if cand.lower().startswith("meta-") else None)
        if p is not None:
            return p.name, "-".join(cut)
        m = _TAIL.search(cand)
        if m is None:
            return None
        cut.insert(0, m.group(1))
        cand = cand[:m.start()]
