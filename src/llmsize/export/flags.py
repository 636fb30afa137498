"""The engines' own flag names, copied from their argument parsers, so exports can be checked
without installing the engines. Each list names the file and commit it was read from.

Only flags the exporters emit need be here, with their aliases and accepted values; a test checks
every exported command line against these lists."""
from __future__ import annotations

from llmsize.export.vllm_flags import VLLM_ALL_FLAGS, VLLM_SOURCE, VLLM_VERSION  # noqa: F401  (re-exported)

# `vllm serve` options as vLLM's parser declares them (scripts/refresh_vllm_flags.py records every option from
# vLLM's source): flag -> (aliases, kind, choices argparse enforces). vLLM 0.34 has no --swap-space.
VLLM_FLAGS: dict[str, tuple[tuple[str, ...], str, tuple[str, ...] | None]] = {
    flag: (aliases, kind, choices) for flag, (aliases, kind, choices, _) in VLLM_ALL_FLAGS.items()}
# values vLLM lists for an option whose type hint is `Literal[...] | str` (argparse shows them as the metavar
# and the config validation checks them): --kv-cache-dtype (CacheDType), --quantization (QuantizationMethods)
VLLM_VALUES: dict[str, tuple[str, ...]] = {flag: v[3] for flag, v in VLLM_ALL_FLAGS.items() if v[3]}
VLLM_QUANTIZATION = VLLM_VALUES["--quantization"]

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
