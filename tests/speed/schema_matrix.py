"""Speed cases across the issue's schema (engines x tasks x weights x metrics x null fields x model forms x
catalogue GPUs), for tests/speed/test_schema_matrix.py and by hand:

    PYTHONPATH=src python tests/speed/schema_matrix.py [--all]    # tallies refusals by reason

Every case is one a published benchmark could report; `expected_refusal` names the few that are
physically impossible (the model does not fit, no FP8 units for fp8-mixed training)."""
from __future__ import annotations

import itertools
import json
import math
import sys
from collections import Counter
from collections.abc import Iterator
from typing import Any

ENGINES = ("llama.cpp", "vllm", "sglang", "trt-llm", "transformers", "megatron", "torchtitan", "llm-foundry",
           "deepspeed", "fsdp", "unknown", None, "TensorRT-LLM", "llamacpp", "hf")
WEIGHTS = ("bf16", "BF16", "fp16", "F16", "float16", "bfloat16", "fp32", "F32", "float32", "fp8", "FP8", "fp8_e4m3",
           "fp8-e4m3", "fp8-dynamic", "fp8-block", "int8", "w8a8", "int4", "w4a16", "awq", "AWQ", "gptq", "GPTQ",
           "awq-int4", "gptq-int4", "gptq-int8", "gptq-4bit", "nf4", "bnb-nf4", "nvfp4", "mxfp4", "Q4_0", "Q4_K_M",
           "Q8_0", "Q6_K", "Q5_K_M", "Q2_K", "IQ4_XS", "IQ3_XXS", "q4_0", "Q4_K", "gguf-Q4_K_M", "w8a16",
           "int4_weight_only", "w4a8_awq", "fp8_block", "fp8-tensor", "smoothquant", "8bit", "fp4", "TQ1_0", "auto", "bnb-4bit", None)
KV = ("f16", "fp16", "bf16", "fp8", "fp8_e4m3", "fp8_e5m2", "FP8", "q8_0", "q4_0", "auto", "float16", "int8",
      "fp8_e4m3fn", "nvfp4", "q5_0", "iq4_nl", "f32", None)
MODELS: tuple[Any, ...] = (
    "Llama-2-7b-hf", "meta-llama/Llama-2-7b-hf", "meta-llama/Meta-Llama-3-8B",
    {"knobs": {"hidden": 4096, "layers": 32}},
    {"knobs": {"hidden": 4096, "layers": 32, "heads": 32, "kv_heads": 8, "ffn": 14336, "vocab": 128256,
               "gated": True, "tied": False, "name": "llama-3-8b-like"}},
    {"config": {"model_type": "llama", "hidden_size": 2048, "num_hidden_layers": 16, "num_attention_heads": 32,
                "num_key_value_heads": 8, "intermediate_size": 8192, "vocab_size": 128256,
                "tie_word_embeddings": True, "max_position_embeddings": 131072}},
)
TRAIN_ENGINES = ("megatron", "torchtitan", "llm-foundry", "deepspeed", "fsdp", "transformers", "unknown", None)
PRECISIONS = ("bf16-mixed", "bf16", "fp8-mixed", "fp32", "fp16-mixed", "BF16-mixed", "bf16_mixed", "amp_bf16",
              "fp16", "tf32", None)
RECOMPUTE = ("none", "selective", "full", None, True, False, "FULL")
LAYOUTS: tuple[Any, ...] = (
    None, {}, {"dp": 8}, {"tp": 8, "pp": 2, "dp": None}, {"fsdp": "full_shard"}, {"fsdp": "shard_grad_op"},
    {"fsdp": "hybrid_shard"}, {"fsdp": "no_shard"}, {"fsdp": "_hybrid_shard_zero2"}, {"fsdp": "FULL_SHARD"},
    {"fsdp": True}, {"fsdp": None}, {"zero": 0}, {"zero": 1}, {"zero": 2}, {"zero": 3}, {"zero": None},
    {"tp": 4, "pp": 4, "virtual_stages": 2}, {"tp": 2, "pp": 4, "schedule": "interleaved"},
    {"tp": 2, "pp": 4, "schedule": "1F1B"}, {"pp": 4, "schedule": "zero-bubble"}, {"pp": 4, "schedule": "zb"},
    {"pp": 4, "schedule": "gpipe"}, {"pp": 4, "schedule": "interleaved_1f1b"}, {"pp": 4, "schedule": None},
    {"tp": 2, "cp": 2}, {"ep": 8}, {"dp": 2, "tp": 2, "pp": 2, "cp": 1, "ep": 1, "fsdp": None, "zero": 1,
                                      "virtual_stages": None, "schedule": None},
)
GPUS_SPELLED = ("A100 80GB SXM", "H100 SXM5 80GB", "RTX 4090", "MI300X", "M2 Ultra 76-core", "L40S", "H100-SXM5-80GB",
                "A100-SXM4-80GB", "NVIDIA H100 80GB HBM3", "H200 SXM 141GB", "A100 40GB SXM", "H100 80GB SXM",
                "V100", "T4", "RTX 3090", "Apple M2 Ultra", "M3 Max", "RX 7900 XTX", "B200", "GB200", "MI250X")
DEC_METRIC = {"decode": ("tokens_per_s",), "prefill": ("tokens_per_s",),
              "serve": ("output_tokens_per_s", "ttft_s", "tpot_s"),
              "train": ("tokens_per_s_per_gpu", "model_tflops_per_gpu", "gpu_hours", "days")}


def case(task: str, *, model: Any = "Llama-2-7b-hf", gpu: Any = "H100-SXM", count: Any = 1, engine: Any = "vllm",
         metric: str | None = None, category: str | None = None, **w: Any) -> dict[str, Any]:
    metric = metric or DEC_METRIC[task][0]
    return {"id": "m", "kind": "speed", "category": category, "model": model,
            "hardware": {"gpu": gpu, "count": count, "gpus_per_node": 8}, "engine": engine,
            "workload": {"task": task, **w}, "measured": {"metric": metric, "value": 1.0},
            "source": {"url": "x", "date": "2025-01", "engine_version": None, "note": None}}


def _inference(task: str) -> dict[str, Any]:
    if task == "decode":
        return {"weights": "Q4_0", "kv_dtype": "f16", "batch": 1, "context": 0, "tokens": 128}
    if task == "prefill":
        return {"weights": "Q4_0", "batch": 1, "tokens": 512}
    return {"weights": "bf16", "kv_dtype": "auto", "prompt": 1024, "output": 256, "concurrency": 64,
            "request_rate": None, "tp": 1, "pp": 1, "dp": 1}


def _train_w() -> dict[str, Any]:
    return {"precision": "bf16-mixed", "seq": 4096, "micro_batch": 1, "global_batch": 512, "recompute": "none",
            "layout": {"dp": 8, "tp": 1, "pp": 1}, "tokens": 1e12}


def matrix(full: bool = False) -> Iterator[tuple[str, dict[str, Any]]]:
    """(label, case) pairs; `full` adds every catalogue GPU to each engine x task."""
    from llmsize.catalog.hardware import gpus

    all_gpus = [g.name for g in gpus()]
    gpu_list = all_gpus if full else all_gpus[::7] + ["T4", "V100-SXM2-16GB", "P40", "M2-Ultra", "RX-7900-XTX"]
    # 1. task x engine x GPU at the published defaults
    for task, eng, gpu in itertools.product(("decode", "prefill", "serve", "train"), ENGINES, gpu_list):
        w = _train_w() if task == "train" else _inference(task)
        if task in ("decode", "prefill") and eng not in ("llama.cpp", "llamacpp"):
            w["weights"] = "bf16"
        model = "Meta-Llama-3-8B"
        count = 8 if task == "train" else 1
        yield f"engine-gpu/{task}/{eng}/{gpu}", case(task, model=model, gpu=gpu, engine=eng, count=count, **w)
    # 2. weights x kv x engine on a few GPUs
    for task, wt, eng, gpu in itertools.product(("decode", "prefill", "serve"), WEIGHTS,
                                                ("llama.cpp", "vllm", "trt-llm", "transformers"),
                                                ("H100-SXM", "RTX-4090", "M2-Ultra", "T4", "MI300X")):
        w = _inference(task) | {"weights": wt}
        yield f"weights/{task}/{wt}/{eng}/{gpu}", case(task, gpu=gpu, engine=eng, **w)
    for task, kv, eng in itertools.product(("decode", "serve"), KV, ("llama.cpp", "vllm", "sglang")):
        w = _inference(task) | {"kv_dtype": kv}
        yield f"kv/{task}/{kv}/{eng}", case(task, engine=eng, **w)
    # 3. each field null, each metric, each model form
    for task in ("decode", "prefill", "serve", "train"):
        base = _train_w() if task == "train" else _inference(task)
        for metric in DEC_METRIC[task]:
            for k in [None, *base]:
                w = dict(base) if k is None else base | {k: None}
                yield f"null/{task}/{metric}/{k}", case(task, metric=metric, count=8, engine="unknown", **w)
                w2 = {kk: v for kk, v in w.items() if kk != k}
                yield f"absent/{task}/{metric}/{k}", case(task, metric=metric, count=8, **w2)
            yield f"allnull/{task}/{metric}", case(task, metric=metric, count=None, engine=None,
                                                   **{k: None for k in base})
            yield f"empty/{task}/{metric}", case(task, metric=metric, count=None, engine=None)
            for model in MODELS:
                yield f"model/{task}/{metric}/{json.dumps(model)[:40]}", case(task, model=model, metric=metric, count=8,
                                                                              **base)
    for hw in ({"gpu": "H100-SXM", "count": None, "gpus_per_node": None}, {"gpu": "H100-SXM"},
               {"gpu": "H100-SXM", "count": 16, "gpus_per_node": 4}):
        for task in ("decode", "serve", "train"):
            c = case(task, **(_train_w() if task == "train" else _inference(task)))
            c["hardware"] = hw
            yield f"hardware/{task}/{json.dumps(hw)}", c
    # 4. GPU spellings
    for gpu, task in itertools.product(GPUS_SPELLED, ("decode", "serve", "train")):
        w = _train_w() if task == "train" else _inference(task)
        yield f"gpu-name/{task}/{gpu}", case(task, gpu=gpu, count=8 if task == "train" else 1, **w)
    # 5. decode shapes, serve modes
    for b, ctx, tok in itertools.product((1, 8, 64), (0, 512, 4096), (1, 128, None)):
        yield f"decode-shape/{b}/{ctx}/{tok}", case("decode", batch=b, context=ctx, tokens=tok, weights="bf16",
                                                    engine="vllm")
    for conc, rate, tp, pp, dp in itertools.product(("max", 1, 256, None, "MAX"), (None, 2.0, 0.5, 5),
                                                    (1, 2, 8, None), (1, 2, None), (1, 4, None)):
        w = _inference("serve") | {"concurrency": conc, "request_rate": rate, "tp": tp, "pp": pp, "dp": dp}
        for metric in DEC_METRIC["serve"]:
            yield f"serve-mode/{conc}/{rate}/{tp}/{pp}/{dp}/{metric}", case("serve", metric=metric, count=None,
                                                                          engine="sglang", **w)
    # 6. train variants
    for eng, prec, rc, lay in itertools.product(TRAIN_ENGINES, PRECISIONS, RECOMPUTE, LAYOUTS):
        w = _train_w() | {"precision": prec, "recompute": rc, "layout": lay}
        yield f"train/{eng}/{prec}/{rc}/{json.dumps(lay)}", case("train", engine=eng, count=64, gpu="H100-SXM",
                                                                 metric="tokens_per_s_per_gpu", **w)
    for gpu, prec in itertools.product(("A100-SXM-80GB", "V100-SXM2-32GB", "T4", "MI300X", "M2-Ultra", "RTX-4090",
                                        "TPU-v5p", "P100-PCIe-16GB"), PRECISIONS):
        w = _train_w() | {"precision": prec}
        yield f"train-gpu/{gpu}/{prec}", case("train", gpu=gpu, count=8, engine="megatron",
                                              metric="model_tflops_per_gpu", **w)
    for metric, count, tokens in itertools.product(("gpu_hours", "days"), (None, 2048), (None, 2e12)):
        w = _train_w() | {"tokens": tokens}
        yield f"run/{metric}/{count}/{tokens}", case("train", metric=metric, count=count, engine="unknown", **w)


    # 7. every preset (dense, MoE, MLA, state-space and hybrid, encoder-decoder) in every task and metric
    from llmsize.catalog.presets import presets

    for p, task in itertools.product(presets(), ("decode", "prefill", "serve", "train")):
        w = _train_w() | {"layout": {"dp": 8, "tp": 8}} if task == "train" else _inference(task) | {"weights": "bf16"}
        w |= {"tp": 8} if task == "serve" else {}
        for metric in DEC_METRIC[task] if full else DEC_METRIC[task][:1]:
            yield f"preset/{task}/{p.name}/{metric}", case(task, model=p.name, count=64 if task == "train" else 8,
                                                           engine="vllm" if task != "train" else "megatron",
                                                           metric=metric, **w)


def expected_refusal(label: str, err: str) -> bool:
    """A refusal the setup earns: it is physically impossible (does not fit, no FP8 units, a request rate
    above capacity asking for a median TTFT, AWQ/GPTQ groups of 128 on a width they do not divide), or needs what no default can stand in for (a run's tokens,
    the GPUs of a run in days, a model's width)."""
    return ("does not fit" in err or "has no FP8 units" in err or "overloaded" in err
            or "cannot reach the Hub" in err or "needs workload.tokens" in err or "days needs hardware.count" in err
            or "knobs describe a model with" in err or "no fp32 rate is known for TPU" in err
            or "does not divide the input dimension" in err)


def run(full: bool = False) -> tuple[int, Counter[str], dict[str, str]]:
    from llmsize.validate_speed import parse_speed_cases, predict_or_error

    n, why, example = 0, Counter(), {}
    for label, obj in matrix(full):
        n += 1
        try:
            c = parse_speed_cases([json.dumps(obj)])[0]
            r = predict_or_error(c)
            err = r.error
            if err is None and not (r.predicted and r.predicted > 0 and math.isfinite(r.predicted)):
                err = f"non-positive prediction {r.predicted!r}"
        except Exception as e:  # noqa: BLE001
            err = f"PARSE {type(e).__name__}: {e}"
        if err is not None and not expected_refusal(label, err):
            key = err.split(": ", 1)[-1][:90] if "line" in err[:12] else err[:90]
            why[key] += 1
            example.setdefault(key, label)
    return n, why, example


if __name__ == "__main__":
    total, why, ex = run("--all" in sys.argv)
    print(f"{total} cases, {sum(why.values())} refused")
    for k, v in why.most_common():
        print(f"{v:6d}  {k}\n        e.g. {ex[k]}")
