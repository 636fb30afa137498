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
TOK = dict(bos_token_id=0, eos_token_id=0, pad_token_id=0)
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
    "small-falcon-mha": dict(model_type="falcon", hidden_size=256, num_hidden_layers=3, num_attention_heads=8,
                             multi_query=False, parallel_attn=True, new_decoder_architecture=False, bias=False,
                             vocab_size=1000, **TOK),
    "small-falcon-40b-ln1": dict(model_type="falcon", hidden_size=384, num_hidden_layers=3, num_attention_heads=6,
                                 num_kv_heads=1, new_decoder_architecture=True, num_ln_in_parallel_attn=1,
                                 ffn_hidden_size=1000, bias=False, vocab_size=1000, **TOK),
    "small-nemotron": dict(SMALL, model_type="nemotron", partial_rotary_factor=0.5, tie_word_embeddings=False,
                           **TOK),
    "small-glm4": dict(SMALL, model_type="glm4", partial_rotary_factor=0.5, attention_bias=True, **TOK),
    "small-glm4-moe": dict(SMALL, model_type="glm4_moe", n_routed_experts=8, moe_intermediate_size=128,
                           first_k_dense_replace=1, n_shared_experts=1, num_experts_per_tok=2, n_group=1,
                           topk_group=1, partial_rotary_factor=0.5, **TOK),
    "small-granitemoe": dict(SMALL, model_type="granitemoe", num_local_experts=8, num_experts_per_tok=2,
                             embedding_multiplier=12.0, residual_multiplier=0.22, logits_scaling=8.0,
                             attention_multiplier=0.015625, tie_word_embeddings=True, **TOK),
    "small-gpt-bigcode": dict(model_type="gpt_bigcode", n_embd=256, n_layer=4, n_head=4, n_positions=4096,
                              vocab_size=1000, multi_query=True, **TOK),
    "small-gpt-bigcode-mha": dict(model_type="gpt_bigcode", n_embd=384, n_layer=3, n_head=6, n_positions=1024,
                                  vocab_size=1000, multi_query=False, resid_pdrop=0.0, embd_pdrop=0.0,
                                  attn_pdrop=0.0, **TOK),
    "small-cohere": dict(SMALL, model_type="cohere", **TOK),
    "small-cohere2": dict(SMALL, model_type="cohere2", sliding_window=128, sliding_window_pattern=4, **TOK),
    "small-bloom": dict(model_type="bloom", hidden_size=256, n_layer=4, n_head=4, vocab_size=1000, **TOK),
    "small-bloom-dropout": dict(model_type="bloom", hidden_size=384, n_layer=3, n_head=6, vocab_size=1000,
                                hidden_dropout=0.1, attention_dropout=0.1, **TOK),
    "small-mpt": dict(model_type="mpt", d_model=256, n_heads=4, n_layers=4, expansion_ratio=4, max_seq_len=4096,
                      vocab_size=1000, **TOK),
    "small-mpt-b": dict(model_type="mpt", d_model=384, n_heads=6, n_layers=3, max_seq_len=1024, vocab_size=1000,
                        **TOK),
    "small-gptj": dict(model_type="gptj", n_embd=256, n_layer=4, n_head=4, rotary_dim=32, n_positions=4096,
                       vocab_size=1000, tie_word_embeddings=False, **TOK),
    "small-gptj-b": dict(model_type="gptj", n_embd=384, n_layer=3, n_head=6, rotary_dim=64, n_positions=1024,
                         n_inner=1000, vocab_size=1000, tie_word_embeddings=False, **TOK),
    # state-space and hybrid models (issue #14 item 2): recurrent/conv state beside or instead of the KV cache
    "small-mamba2": dict(model_type="mamba2", hidden_size=256, num_heads=8, head_dim=64, state_size=32, n_groups=2,
                         num_hidden_layers=4, vocab_size=1000, conv_kernel=4, chunk_size=64, bos_token_id=0,
                         eos_token_id=0, pad_token_id=0),
    "small-jamba": dict(SMALL, model_type="jamba", num_experts=4, num_experts_per_tok=2, expert_layer_period=2,
                        expert_layer_offset=1, attn_layer_period=2, attn_layer_offset=1, mamba_d_state=16,
                        bos_token_id=0, eos_token_id=0, pad_token_id=0),
    "small-granitemoehybrid": dict(SMALL, model_type="granitemoehybrid", intermediate_size=128, num_local_experts=4,
                                   num_experts_per_tok=2, shared_intermediate_size=256,
                                   layer_types=["mamba", "attention", "mamba", "mamba"], mamba_n_heads=8,
                                   mamba_d_state=32, mamba_chunk_size=64, position_embedding_type="rope",
                                   embedding_multiplier=12.0, residual_multiplier=0.22, logits_scaling=8.0,
                                   attention_multiplier=0.015625, bos_token_id=0, eos_token_id=0, pad_token_id=0),
    "small-granitemoehybrid-dense": dict(SMALL, model_type="granitemoehybrid", num_local_experts=0,
                                         shared_intermediate_size=512, layer_types=["mamba", "mamba", "attention",
                                                                                    "mamba"],
                                         mamba_n_heads=8, mamba_d_state=32, mamba_n_groups=2, mamba_chunk_size=64,
                                         tie_word_embeddings=True, bos_token_id=0, eos_token_id=0, pad_token_id=0),
    "small-falcon-h1": dict(SMALL, model_type="falcon_h1", head_dim=64, mamba_d_ssm=384, mamba_n_heads=6,
                            mamba_d_state=32, mamba_chunk_size=64, mamba_rms_norm=True, bos_token_id=0,
                            eos_token_id=0, pad_token_id=0),
    "small-lfm2": dict(SMALL, model_type="lfm2", intermediate_size=768, layer_types=["conv", "conv", "full_attention",
                                                                                     "conv"],
                       bos_token_id=0, eos_token_id=0, pad_token_id=0),
}
# parameters only (too large to trace every mode here): each type's transformers default config, which
# is its reference model's shape (e.g. JambaConfig() is Jamba-v0.1, 52B)
REFERENCE = {f"default-{t}": dict(model_type=t) for t in ("mamba2", "jamba", "granitemoehybrid", "falcon_h1", "lfm2")}
# Measured with this script (--pending) but not modelled yet: llmsize refuses these types (an unknown
# model_type); their truth is kept out of truth_families.jsonl.
PENDING = {
    "small-phimoe": dict(SMALL, model_type="phimoe", num_local_experts=8, num_experts_per_tok=2, **TOK),
    "tiny-deepseek-v2": dict(DS, model_type="deepseek_v2", **TOK),
    "small-llama4-text": dict(SMALL, model_type="llama4_text", head_dim=64, num_local_experts=4,
                              num_experts_per_tok=1, intermediate_size_mlp=512, interleave_moe_layer_step=2, **TOK),
    "small-ernie4-5-moe": dict(SMALL, model_type="ernie4_5_moe", head_dim=64, moe_num_experts=8, moe_k=2,
                               moe_intermediate_size=128, moe_layer_start_index=1, moe_num_shared_experts=1, **TOK),
    "small-qwen3-next": dict(SMALL, model_type="qwen3_next", head_dim=64, full_attention_interval=2, linear_num_key_heads=2,
                             linear_num_value_heads=4, linear_key_head_dim=32, linear_value_head_dim=64, num_experts=4,
                             num_experts_per_tok=2, moe_intermediate_size=128, shared_expert_intermediate_size=256,
                             mlp_only_layers=[0], **TOK),  # 14q: parameters exact, memory refused (trace)
}
# LoRA "qv" targets of the types the shared generator's QV table does not name (fused qkv, MLA queries)
QV = {"gpt_bigcode": ["c_attn"], "bloom": ["query_key_value"], "mpt": ["Wqkv"],
      "deepseek_v2": ["q_b_proj", "kv_b_proj"]}
# types whose transformers code has no SDPA path (measured with eager attention, as transformers runs them)
NO_SDPA = {"gptj", "bloom", "mpt"}
# (mode, batch, seq, new tokens, LoRA kind)
GRID = [("train", 2, 256, 0, None), ("train", 2, 256, 0, "qv"), ("forward", 2, 256, 0, None),
        ("generate", 2, 128, 8, None)]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--generator", required=True, help="folder of generate_truth.py")
    ap.add_argument("--out", required=True)
    ap.add_argument("--only", default="")
    ap.add_argument("--pending", action="store_true", help="measure the PENDING configs (not modelled yet)")
    ap.add_argument("--params-out", help="JSON of PyTorch's parameter count per config and per decoder layer")
    a = ap.parse_args()
    sys.path.insert(0, a.generator)
    import generate_truth as gt  # noqa: E402

    configs = {**CONFIGS, **(PENDING if a.pending else {})}
    measure_all(a, gt, configs, GRID, "torch MemTracker under FakeTensorMode (shared generate_truth.measure)",
                lambda path, src, only: _count_params(path, src, only, configs))


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

    gt.QV.update(QV)
    gt.NO_SDPA.update(NO_SDPA)
    # Mamba2ForCausalLM has no SDPA path (it has no attention); peft adapts its in_proj (not out_proj)
    gt.NO_SDPA = {*gt.NO_SDPA, "mamba2"}
    gt.QV.setdefault("mamba2", ["in_proj"])
    _generate_via_trace(gt)
    cases = []
    for name, cfg in configs.items():
        gt.MODELS[name] = dict(cfg)
        for mode, b, s, new, lo in grid:
            w = gt.W(name, mode, b, s, new, lo=gt.lora(name, 16, lo) if lo else None)
            if a.only in gt.case_id(name, w):
                cases.append((name, w))
    run_cases(cases, a.out, src, done)


def _generate_via_trace(gt) -> None:
    """Mamba2ForCausalLM returns its cache as `cache_params`, which the shared generator's decode loop does
    not pass on: measure generate for such models with `llmsize trace` (the same MemTracker method, in our
    own code, which passes whichever cache the output carries)."""
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src"))
    from llmsize.memory.workload import Workload
    from llmsize.trace import trace

    orig = gt.measure

    def measure(name, w, real=False, tracker=None):
        if w["mode"] != "generate" or gt.MODELS[name]["model_type"] not in ("mamba2",):
            return orig(name, w, real, tracker)
        r = trace(gt.MODELS[name], Workload(mode="generate", batch=w["batch"], seq_len=w["seq_len"],
                                             new_tokens=w["new_tokens"], attn_impl=w["attn_implementation"]))
        return dict(params=r.params, trainable_params=0, weights_bytes=r.breakdown.get("params", 0),
                    peak_bytes=r.peak_bytes, peak_breakdown=r.breakdown, measured_by="llmsize trace"), 0

    gt.measure = measure


def _count_params(path: str, src: dict, only: str, configs: dict) -> None:
    """sum(numel) of the model transformers builds (FakeTensorMode), in total and per decoder layer."""
    import torch
    from torch._subclasses.fake_tensor import FakeTensorMode
    from transformers import AutoConfig, AutoModelForCausalLM

    out = json.load(open(path)) if os.path.exists(path) else {"method": "sum(p.numel() for p in "
                                                                       "AutoModelForCausalLM.from_config(cfg).parameters()) "
                                                                       "under FakeTensorMode", **src, "models": {}}
    for name, cfg in {**configs, **REFERENCE}.items():
        if only not in name:
            continue
        conf = AutoConfig.for_model(**cfg)
        if name in REFERENCE:  # record the whole config.json transformers would write for it
            cfg = json.loads(json.dumps({k: v for k, v in conf.to_dict().items() if not k.startswith("_")},
                                        default=str).replace("Infinity", '"inf"'))  # strict JSON
        with FakeTensorMode():
            m = AutoModelForCausalLM.from_config(conf, dtype=torch.bfloat16)
        body = m.get_decoder() if hasattr(m, "get_decoder") else getattr(m, "model", None)
        layers = getattr(body, "layers", None) or getattr(body, "h", None) or next(
            x for x in m.modules() if isinstance(x, torch.nn.ModuleList))  # the decoder blocks
        out["models"][name] = {"config": cfg, "model_type": cfg["model_type"],
                               "params": sum(p.numel() for p in m.parameters()),
                               "layer_params": [sum(p.numel() for p in layer.parameters()) for layer in layers]}
    json.dump(out, open(path, "w"), indent=1)


if __name__ == "__main__":
    main()
