"""Measure PyTorch's parameter counts and transformers' generate cache for qwen3_next (Qwen3-Next):
a small config (every part: Gated DeltaNet and gated-attention layers, MoE and dense layers) and the
reference Qwen/Qwen3-Next-80B-A3B-Instruct config (built on the meta device: shapes only).

    /work/venv-truth/bin/python scripts/measure_qwen3_next.py --out tests/data/qwen3_next_truth.json

Params: sum(p.numel() for p in model.parameters()), per module kind. Cache: after model(prompt,
use_cache=True) and one decode step (real tensors, CPU, bf16 weights, transformers' torch fallbacks of
the gated delta rule and the causal conv), the nbytes of every conv state, recurrent state and K/V.
Needs torch 2.13 + transformers 5.23.
"""
from __future__ import annotations

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from measure_ssm_state import _cache_bytes  # noqa: E402

TOK = dict(bos_token_id=0, eos_token_id=0, pad_token_id=0)
SMALL = dict(model_type="qwen3_next", hidden_size=256, intermediate_size=512, num_hidden_layers=4,
             num_attention_heads=4, num_key_value_heads=2, head_dim=64, vocab_size=1000,
             max_position_embeddings=4096, full_attention_interval=2, linear_num_key_heads=2,
             linear_num_value_heads=4, linear_key_head_dim=32, linear_value_head_dim=64, linear_conv_kernel_dim=4,
             num_experts=4, num_experts_per_tok=2, moe_intermediate_size=128, shared_expert_intermediate_size=256,
             mlp_only_layers=[0], partial_rotary_factor=0.25, **TOK)
# Qwen/Qwen3-Next-80B-A3B-Instruct config.json (huggingface.co, 2025-09): 48 layers, 3 of 4 Gated DeltaNet,
# 512 experts top-10 + a shared expert on every layer; published as 80B total, 3B active
REFERENCE = dict(model_type="qwen3_next", vocab_size=151936, hidden_size=2048, intermediate_size=5120,
                 num_hidden_layers=48, num_attention_heads=16, num_key_value_heads=2, head_dim=256,
                 max_position_embeddings=262144, full_attention_interval=4, linear_conv_kernel_dim=4,
                 linear_key_head_dim=128, linear_value_head_dim=128, linear_num_key_heads=16,
                 linear_num_value_heads=32, decoder_sparse_step=1, mlp_only_layers=[], num_experts=512,
                 num_experts_per_tok=10, moe_intermediate_size=512, shared_expert_intermediate_size=512,
                 norm_topk_prob=True, partial_rotary_factor=0.25, rope_theta=10000000, tie_word_embeddings=False,
                 attention_bias=False, rms_norm_eps=1e-6, bos_token_id=151643, eos_token_id=151645)

# parameters only: explicit layer_types, biased attention, MoE every other layer; and no experts at all
VARIANTS = {"small-qwen3-next-layer-types": dict(SMALL, layer_types=["full_attention", "linear_attention",
                                                                     "linear_attention", "full_attention"],
                                                 attention_bias=True, decoder_sparse_step=2, mlp_only_layers=[],
                                                 linear_num_key_heads=4, linear_conv_kernel_dim=3),
            "small-qwen3-next-dense": dict(SMALL, num_experts=0, full_attention_interval=4)}


def _params(m) -> dict:
    by: dict[str, int] = {}
    for n, p in m.named_parameters():
        k = n.split(".")[-2] if n.split(".")[-1] in ("weight", "bias") else n.split(".")[-1]
        by[k] = by.get(k, 0) + p.numel()
    return {"params": sum(p.numel() for p in m.parameters()), "by_leaf": dict(sorted(by.items()))}


def main() -> None:
    path = sys.argv[sys.argv.index("--out") + 1] if "--out" in sys.argv else None
    if path is None:
        sys.exit("usage: measure_qwen3_next.py --out FILE.json")
    import torch
    import transformers
    from transformers import AutoConfig, AutoModelForCausalLM

    torch.manual_seed(0)
    batch, seq = 2, 100  # as scripts/measure_ssm_state.py
    res = dict(method="params: sum(numel) of the model built from the config (meta device for the reference); "
                      "cache: tensors' nbytes after model(prompt, use_cache=True) and one decode step, real tensors "
                      "on CPU, bf16 weights", torch=torch.__version__, transformers=transformers.__version__,
               batch=batch, prompt=seq, models={})
    with torch.device("meta"):
        ref = AutoModelForCausalLM.from_config(AutoConfig.for_model(**REFERENCE))
    res["models"]["Qwen3-Next-80B-A3B-Instruct"] = {"config": REFERENCE, **_params(ref)}
    for name, cfg in VARIANTS.items():
        with torch.device("meta"):
            res["models"][name] = {"config": cfg, **_params(AutoModelForCausalLM.from_config(AutoConfig.for_model(**cfg)))}
    m = AutoModelForCausalLM.from_config(AutoConfig.for_model(**SMALL), dtype=torch.bfloat16).eval()
    x = torch.randint(0, SMALL["vocab_size"], (batch, seq))
    with torch.no_grad():
        out = m(input_ids=x, use_cache=True, logits_to_keep=1)
        cache = out.past_key_values
        m(input_ids=out.logits[:, -1:].argmax(-1), use_cache=True, past_key_values=cache)
    res["models"]["small-qwen3-next"] = {"config": SMALL, **_params(m), **_cache_bytes(cache), "tokens": seq + 1}
    for k, v in res["models"].items():
        print(k, {kk: vv for kk, vv in v.items() if kk != "config"}, flush=True)
    json.dump(res, open(path, "w"), indent=1)


if __name__ == "__main__":
    main()
