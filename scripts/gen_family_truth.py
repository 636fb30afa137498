"""Measure peak-memory truth for small configs of the families in llmsize.families, with the shared
generator's own `measure()` (torch MemTracker under FakeTensorMode; see its README).

    /work/venv-truth/bin/python scripts/gen_family_truth.py --generator /work/shared/truth \
        --out tests/data/truth_families.jsonl [--only SUBSTR]

Needs torch 2.13 + transformers 5.23 + peft. Cases already in --out are skipped (resumable). Each
configuration is a real model type with small shapes (few layers, narrow), chosen so that every
mode (train, LoRA train, forward, generate) runs in seconds on a CPU.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

DS = dict(model_type="deepseek_v3", hidden_size=512, intermediate_size=1024, moe_intermediate_size=128,
          num_hidden_layers=3, num_attention_heads=8, num_key_value_heads=8, n_routed_experts=8, n_shared_experts=1,
          num_experts_per_tok=2, n_group=1, topk_group=1, first_k_dense_replace=1, kv_lora_rank=64,
          q_lora_rank=96, qk_rope_head_dim=16, qk_nope_head_dim=32, v_head_dim=32, vocab_size=1000,
          max_position_embeddings=4096, tie_word_embeddings=False)
SMALL = dict(hidden_size=256, intermediate_size=512, num_hidden_layers=4, num_attention_heads=4, num_key_value_heads=2,
             vocab_size=1000, max_position_embeddings=4096)
CONFIGS = {
    "tiny-deepseek-v3": DS,
    "tiny-deepseek-v3-noqlora": {**DS, "q_lora_rank": None, "hidden_size": 384, "rope_interleave": False},
    "small-starcoder2": dict(SMALL, model_type="starcoder2", sliding_window=4096, bos_token_id=0, eos_token_id=0),
    "small-olmo3": dict(SMALL, model_type="olmo3", sliding_window=128, tie_word_embeddings=False),
    "small-granite": dict(SMALL, model_type="granite", embedding_multiplier=12.0, residual_multiplier=0.22,
                          logits_scaling=8.0, attention_multiplier=0.015625, tie_word_embeddings=True),
    "small-smollm3": dict(SMALL, model_type="smollm3", tie_word_embeddings=True, pad_token_id=0, bos_token_id=0,
                          eos_token_id=0),
    "small-exaone4": dict(SMALL, model_type="exaone4", sliding_window=128, sliding_window_pattern=4),
    "small-olmo2": dict(SMALL, model_type="olmo2", tie_word_embeddings=False),
    "small-phi": dict(SMALL, model_type="phi", num_key_value_heads=4, resid_pdrop=0.1, bos_token_id=0, eos_token_id=0),
    "small-gemma3-text": dict(SMALL, model_type="gemma3_text", head_dim=64, sliding_window=128,
                              sliding_window_pattern=2, bos_token_id=0, eos_token_id=0, pad_token_id=0),
    "small-qwen3-moe": dict(SMALL, model_type="qwen3_moe", head_dim=64, num_experts=8, num_experts_per_tok=2,
                            moe_intermediate_size=128, decoder_sparse_step=1, tie_word_embeddings=False),
    "small-gpt-oss": dict(SMALL, model_type="gpt_oss", head_dim=64, num_local_experts=8, num_experts_per_tok=2,
                          sliding_window=128, tie_word_embeddings=False, bos_token_id=0, eos_token_id=0,
                          pad_token_id=0),
    "small-stablelm": dict(SMALL, model_type="stablelm", use_qkv_bias=True, bos_token_id=0, eos_token_id=0),
    "small-stablelm-parallel": dict(SMALL, model_type="stablelm", use_parallel_residual=True, bos_token_id=0,
                                    eos_token_id=0),
    "small-gemma": dict(SMALL, model_type="gemma", head_dim=64, bos_token_id=0, eos_token_id=0, pad_token_id=0),
    "small-helium": dict(SMALL, model_type="helium", head_dim=64, bos_token_id=0, eos_token_id=0, pad_token_id=0),
    "small-seed-oss": dict(SMALL, model_type="seed_oss", head_dim=64, bos_token_id=0, eos_token_id=0, pad_token_id=0),
    "small-hunyuan-dense": dict(SMALL, model_type="hunyuan_v1_dense", head_dim=64, bos_token_id=0, eos_token_id=0,
                                pad_token_id=0),
    "small-arcee": dict(SMALL, model_type="arcee", bos_token_id=0, eos_token_id=0, pad_token_id=0),
    "small-olmo1": dict(SMALL, model_type="olmo", bos_token_id=0, eos_token_id=0, pad_token_id=0),
    "small-ernie4_5": dict(SMALL, model_type="ernie4_5", head_dim=64, use_bias=True, bos_token_id=0, eos_token_id=0,
                           pad_token_id=0),
    "small-falcon-7b-style": dict(model_type="falcon", hidden_size=256, num_hidden_layers=4, num_attention_heads=4,
                                  multi_query=True, parallel_attn=True, new_decoder_architecture=False, bias=False,
                                  vocab_size=1000, bos_token_id=0, eos_token_id=0),
    "small-falcon-40b-style": dict(model_type="falcon", hidden_size=256, num_hidden_layers=4, num_attention_heads=4,
                                   num_kv_heads=2, new_decoder_architecture=True, parallel_attn=True, bias=False,
                                   vocab_size=1000, bos_token_id=0, eos_token_id=0),
}
# (mode, batch, seq, new tokens, LoRA kind)
GRID = [("train", 2, 256, 0, None), ("train", 2, 256, 0, "qv"), ("forward", 2, 256, 0, None),
        ("generate", 2, 128, 8, None)]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--generator", required=True, help="folder of generate_truth.py")
    ap.add_argument("--out", required=True)
    ap.add_argument("--only", default="")
    ap.add_argument("--params-out", help="JSON of PyTorch's parameter count per config and per decoder layer")
    a = ap.parse_args()
    sys.path.insert(0, a.generator)
    import generate_truth as gt  # noqa: E402

    measure_all(a, gt, CONFIGS, GRID, "torch MemTracker under FakeTensorMode (shared generate_truth.measure)",
                _count_params)


def measure_all(a, gt, configs: dict, grid: list, tool: str, count_params) -> None:
    """Count parameters (with --params-out), then measure every (config, grid point) not yet in --out."""
    import peft
    import torch
    import transformers

    done = set()
    if os.path.exists(a.out):
        done = {json.loads(x)["id"] for x in open(a.out) if x.strip()}
    src = dict(tool=tool, torch=torch.__version__, transformers=transformers.__version__, peft=peft.__version__,
               device="cpu")
    if a.params_out:
        count_params(a.params_out, src, a.only)
    os.environ["LLMSIZE_TRUTH_DIR"] = a.generator
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from gen_truth_extra import run_cases  # noqa: E402  (one runner for measured cases)

    cases = []
    for name, cfg in configs.items():
        gt.MODELS[name] = dict(cfg)
        for mode, b, s, new, lo in grid:
            w = gt.W(name, mode, b, s, new, lo=gt.lora(name, 16, lo) if lo else None)
            if a.only in gt.case_id(name, w):
                cases.append((name, w))
    run_cases(cases, a.out, src, done)

def _count_params(path: str, src: dict, only: str) -> None:
    """sum(numel) of the model transformers builds (FakeTensorMode), in total and per decoder layer."""
    import torch
    from torch._subclasses.fake_tensor import FakeTensorMode
    from transformers import AutoConfig, AutoModelForCausalLM

    out = json.load(open(path)) if os.path.exists(path) else {"method": "sum(p.numel() for p in "
                                                                       "AutoModelForCausalLM.from_config(cfg).parameters()) "
                                                                       "under FakeTensorMode", **src, "models": {}}
    for name, cfg in CONFIGS.items():
        if only not in name:
            continue
        with FakeTensorMode():
            m = AutoModelForCausalLM.from_config(AutoConfig.for_model(**cfg), dtype=torch.bfloat16)
        body = m.get_decoder() if hasattr(m, "get_decoder") else m.model
        layers = getattr(body, "layers", None) or getattr(body, "h")
        out["models"][name] = {"config": cfg, "model_type": cfg["model_type"],
                               "params": sum(p.numel() for p in m.parameters()),
                               "layer_params": [sum(p.numel() for p in layer.parameters()) for layer in layers]}
    json.dump(out, open(path, "w"), indent=1)


if __name__ == "__main__":
    main()
