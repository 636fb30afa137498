"""The engines' own flag names, copied from their argument parsers, so exports can be checked
without installing the engines. Each list names the file and commit it was read from.

Only flags the exporters emit need be here, with their aliases and accepted values; a test checks
every exported command line against these lists."""
from __future__ import annotations

VLLM_SOURCE = ("vllm-project/vllm vllm/engine/arg_utils.py @001999d2f360c2c5da23a916510c273b1a73d06c (EngineArgs.add_cli_args); "
               "for vLLM 0.34: --swap-space removed (V1 engine has no CPU swap space), --data-parallel-size/-dp and "
               "--enable-expert-parallel added (ParallelConfig; used by vLLM's own DP/EP serve tests)")
# flag -> (aliases, type, choices or None)
VLLM_FLAGS: dict[str, tuple[tuple[str, ...], str, tuple[str, ...] | None]] = {
    "--model": ((), "str", None),
    "--dtype": ((), "str", ("auto", "half", "float16", "bfloat16", "float", "float32")),
    "--kv-cache-dtype": ((), "str", ("auto", "fp8", "fp8_e5m2", "fp8_e4m3")),
    "--max-model-len": ((), "int", None),
    "--pipeline-parallel-size": (("-pp",), "int", None),
    "--tensor-parallel-size": (("-tp",), "int", None),
    "--data-parallel-size": (("-dp",), "int", None),
    "--enable-expert-parallel": ((), "flag", None),
    "--block-size": ((), "int", ("8", "16", "32", "64", "128")),
    "--cpu-offload-gb": ((), "float", None),
    "--gpu-memory-utilization": ((), "float", None),
    "--max-num-batched-tokens": ((), "int", None),
    "--max-num-seqs": ((), "int", None),
    "--quantization": (("-q",), "str", None),
    "--enforce-eager": ((), "flag", None),
    "--enable-prefix-caching": ((), "flag", None),
    "--trust-remote-code": ((), "flag", None),
    "--served-model-name": ((), "str", None),
}
# vllm.model_executor.layers.quantization QUANTIZATION_METHODS entries the exporter may emit
VLLM_QUANTIZATION = ("awq", "fp8", "gptq", "gptq_marlin", "awq_marlin", "bitsandbytes", "compressed-tensors",
                     "gguf", "fbgemm_fp8", "marlin", "experts_int8")

LLAMACPP_SOURCE = ("ggml-org/llama.cpp common/arg.cpp @0c1e57098 (common_params_parser_init; the llama.cpp "
                   "llama-cpp-python 0.3.36 vendors); refreshed by scripts/refresh_llamacpp_flags.py")
LLAMACPP_FLAGS: dict[str, tuple[tuple[str, ...], str, tuple[str, ...] | None]] = {
    "-m": (("--model",), "str", None),
    "-c": (("--ctx-size",), "int", None),
    "-ngl": (("--gpu-layers", "--n-gpu-layers"), "ngl", None),  # N, 'auto' or 'all'
    "-fit": (("--fit",), "str", ("on", "off")),
    "-kvu": (("--kv-unified",), "flag", None),
    "-no-kvu": (("--no-kv-unified",), "flag", None),
    "-ctk": (("--cache-type-k",), "str", ("f32", "f16", "bf16", "q8_0", "q4_0", "q4_1", "iq4_nl", "q5_0", "q5_1")),
    "-ctv": (("--cache-type-v",), "str", ("f32", "f16", "bf16", "q8_0", "q4_0", "q4_1", "iq4_nl", "q5_0", "q5_1")),
    "-ts": (("--tensor-split",), "str", None),
    "-sm": (("--split-mode",), "str", ("none", "layer", "row", "tensor")),
    "-np": (("--parallel",), "int", None),
    "-b": (("--batch-size",), "int", None),
    "-ub": (("--ubatch-size",), "int", None),
    "-fa": (("--flash-attn",), "str", ("on", "off", "auto")),
    "-nkvo": (("--no-kv-offload",), "flag", None),
}

TORCHRUN_SOURCE = "pytorch/pytorch torch/distributed/run.py (get_args_parser)"
TORCHRUN_FLAGS = ("--nnodes", "--nproc-per-node", "--node-rank", "--rdzv-backend", "--rdzv-endpoint", "--rdzv-id",
                  "--master-addr", "--master-port", "--standalone")
