"""Record Megatron-LM's own argument definitions (megatron/training/arguments.py add_megatron_arguments, which
also generates flags from TransformerConfig and the other config dataclasses) for the flags llmsize's
Megatron export emits: option strings, whether each takes a value, and its choices. Writes
src/llmsize/export/megatron_flags.py; tests check exports against it with an argparse built from it.

    python scripts/refresh_megatron_flags.py MEGATRON_CHECKOUT COMMIT

Optional GPU-only imports (triton, transformer_engine, apex, ...) are stubbed: only the parser is built."""
from __future__ import annotations

import argparse
import importlib.abc
import importlib.machinery
import os
import pprint
import sys
import types
from unittest import mock

EMITTED = ("--tensor-model-parallel-size", "--pipeline-model-parallel-size", "--num-layers-per-virtual-pipeline-stage",
           "--context-parallel-size", "--expert-model-parallel-size", "--sequence-parallel",
           "--use-distributed-optimizer", "--recompute-granularity", "--recompute-method", "--recompute-num-layers",
           "--micro-batch-size", "--global-batch-size", "--seq-length", "--max-position-embeddings", "--num-layers",
           "--hidden-size", "--ffn-hidden-size", "--num-attention-heads", "--group-query-attention",
           "--num-query-groups", "--kv-channels", "--bf16", "--fp16", "--swiglu", "--normalization",
           "--position-embedding-type", "--untie-embeddings-and-output-weights", "--disable-bias-linear",
           "--num-experts", "--moe-router-topk", "--moe-ffn-hidden-size", "--vocab-size", "--qk-layernorm",
           "--train-iters", "--fp8-format", "--add-qkv-bias", "--tokenizer-type", "--tokenizer-model", "--make-vocab-size-divisible-by",
           "--rotary-base", "--use-rope-scaling", "--rope-scaling-factor", "--moe-token-dispatcher-type",
           "--moe-grouped-gemm")
STUB = ("transformer_engine", "apex", "flash_attn", "modelopt", "wandb",
        "tensorstore", "zarr", "flashinfer", "nvtx", "mamba_ssm", "causal_conv1d")


# Megatron modules that import triton kernels unconditionally (torch must not see a fake triton)
KERNELS = ("megatron.core.transformer.moe.ops", "megatron.core.fusions.fused_mla_yarn_rope_apply",
           "megatron.core.ssm.ops")


class _Stubs(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in STUB or name.startswith(KERNELS):
            return importlib.machinery.ModuleSpec(name, self, is_package=True)
        return None

    def create_module(self, spec):
        m = mock.MagicMock(name=spec.name)
        m.__path__ = []
        m.__spec__ = spec
        m.__version__ = "0.0.0"
        return m

    def exec_module(self, module):
        return None


def main() -> None:
    root, commit = sys.argv[1], sys.argv[2]
    import torch.utils.flop_counter  # noqa: F401  (before the stubs: torch must see no triton)

    import typing

    if not hasattr(typing, "override"):  # Python < 3.12
        typing.override = lambda f: f  # type: ignore[attr-defined]
    sys.meta_path.insert(0, _Stubs())
    sys.path.insert(0, root)
    from megatron.training.arguments import add_megatron_arguments

    p = argparse.ArgumentParser(allow_abbrev=False)
    add_megatron_arguments(p)
    table = {}
    for a in p._actions:
        for s in a.option_strings:
            if s in EMITTED:
                takes = a.nargs != 0
                table[s] = (tuple(a.option_strings), "value" if takes else "flag",
                            tuple(str(c) for c in a.choices) if a.choices else None)
    missing = sorted(set(EMITTED) - set(table))
    out = os.path.join(os.path.dirname(__file__), "..", "src", "llmsize", "export", "megatron_flags.py")
    with open(out, "w") as f:
        f.write('"""Megatron-LM pretrain_gpt.py arguments llmsize emits, recorded from Megatron-LM\'s own parser by\n'
                'scripts/refresh_megatron_flags.py: option strings, value or flag, choices."""\n'
                "from __future__ import annotations\n\n"
                f'MEGATRON_SOURCE = "NVIDIA/Megatron-LM megatron/training/arguments.py @{commit} (add_megatron_arguments)"\n'
                "MEGATRON_FLAGS: dict[str, tuple[tuple[str, ...], str, tuple[str, ...] | None]] = ")
        f.write(pprint.pformat(table, width=116, sort_dicts=True) + "\n")
    print(f"{len(table)} flags recorded; not in Megatron's parser: {missing or 'none'}")


if __name__ == "__main__":
    main()
