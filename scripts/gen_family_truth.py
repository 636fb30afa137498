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
    # the released StarCoder2 configs (3b/7b/15b) set all three dropouts to 0.1
    "small-starcoder2-dropout": dict(SMALL, model_type="starcoder2", sliding_window=4096, bos_token_id=0,
                                     eos_token_id=0, attention_dropout=0.1, residual_dropout=0.1, embedding_dropout=0.1),
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
    # multi-head latent attention families of issue #14 (14l): DeepSeek-V2 (complex rotary, softmax router,
    # greedy or group-limited top-k) and MiniCPM3 (MLA + muP-style scale_emb / scale_depth / dim_model_base)
    "tiny-deepseek-v2": dict(DS, model_type="deepseek_v2", **TOK),
    "tiny-deepseek-v2-lite": dict(DS, model_type="deepseek_v2", q_lora_rank=None, hidden_size=384,
                                  topk_method="group_limited_greedy", n_group=4, topk_group=2, n_shared_experts=2,
                                  routed_scaling_factor=16.0, **TOK),
    "small-minicpm3": dict(SMALL, model_type="minicpm3", num_hidden_layers=3, num_key_value_heads=4, q_lora_rank=96,
                           kv_lora_rank=64, qk_nope_head_dim=32, qk_rope_head_dim=16, scale_emb=12,
                           scale_depth=1.4, dim_model_base=64, tie_word_embeddings=True, **TOK),
    "small-minicpm3-noqlora": dict(SMALL, model_type="minicpm3", hidden_size=384, intermediate_size=768,
                                   num_hidden_layers=2, num_attention_heads=6, num_key_value_heads=6,
                                   q_lora_rank=None, kv_lora_rank=48, qk_nope_head_dim=48, qk_rope_head_dim=16,
                                   v_head_dim=32, scale_emb=10, scale_depth=1.4, dim_model_base=256,
                                   tie_word_embeddings=False, **TOK),
    # a vocabulary large enough that the LM head (and MiniCPM's pre-head scaling) holds the peak
    "small-minicpm3-bigvocab": dict(SMALL, model_type="minicpm3", num_hidden_layers=2, num_key_value_heads=4,
                                    q_lora_rank=64, kv_lora_rank=32, qk_nope_head_dim=32, qk_rope_head_dim=32,
                                    v_head_dim=48, vocab_size=50000, scale_emb=12.5, scale_depth=1.4,
                                    dim_model_base=128, tie_word_embeddings=False, **TOK),
    # MoE types of issue #14 (helper 14e): measured into tests/data/truth_families_14e.jsonl
    "small-phimoe": dict(SMALL, model_type="phimoe", num_local_experts=8, num_experts_per_tok=2, **TOK),
    "small-llama4-text": dict(SMALL, model_type="llama4_text", head_dim=64, num_local_experts=4,
                              num_experts_per_tok=1, intermediate_size_mlp=512, interleave_moe_layer_step=2, **TOK),
    "small-ernie4-5-moe": dict(SMALL, model_type="ernie4_5_moe", head_dim=64, moe_num_experts=8, moe_k=2,
                               moe_intermediate_size=128, moe_layer_start_index=1, moe_num_shared_experts=1, **TOK),
    "small-qwen3-next": dict(SMALL, model_type="qwen3_next", head_dim=64, full_attention_interval=2, linear_num_key_heads=2,
                             linear_num_value_heads=4, linear_key_head_dim=32, linear_value_head_dim=64, num_experts=4,
                             num_experts_per_tok=2, moe_intermediate_size=128, shared_expert_intermediate_size=256,
                             mlp_only_layers=[0], **TOK),  # 14q: parameters exact; 14q2: forward/generate replayed
    # one key head for four value heads (reshapes that stay views), wider key heads (14q2)
    "small-qwen3-next-g1": dict(SMALL, model_type="qwen3_next", head_dim=32, full_attention_interval=2,
                                linear_num_key_heads=1, linear_num_value_heads=4, linear_key_head_dim=48,
                                linear_value_head_dim=32, num_experts=4, num_experts_per_tok=2,
                                moe_intermediate_size=128, shared_expert_intermediate_size=256, **TOK),
}
# extra workloads off the grid, per config (mode, batch, seq, new tokens, LoRA kind[, generator W() keywords])
OFF_GRID_BY_CONFIG = {n: [("train", 1, 200, 0, None), ("generate", 3, 100, 5, None)]
            for n in ("tiny-deepseek-v2", "tiny-deepseek-v2-lite", "small-minicpm3", "small-minicpm3-noqlora",
                      "small-minicpm3-bigvocab")}
OFF_GRID_BY_CONFIG["small-qwen3-next"] = [("forward", 1, 200, 0, None), ("generate", 3, 100, 5, None),
                                          ("forward", 1, 2048, 0, None), ("generate", 1, 1500, 3, None),
                                          # eager attention: the gated attention layer holds the peak
                                          ("forward", 1, 1024, 0, None, dict(attn="eager")),
                                          ("generate", 2, 600, 3, None, dict(attn="eager"))]
OFF_GRID_BY_CONFIG["small-qwen3-next-g1"] = [("forward", 3, 100, 0, None), ("generate", 1, 77, 4, None),
                                             ("train", 3, 100, 0, "qv")]
OFF_GRID_BY_CONFIG["small-qwen3-next"].append(("train", 1, 200, 0, None))
for _n in ("tiny-deepseek-v2", "small-minicpm3"):  # fp32 weights: AMP training, fp32 generate (the rotary's dtypes)
    OFF_GRID_BY_CONFIG[_n] += [("train", 2, 128, 0, None, dict(wd="float32", ac="bfloat16")),
                     ("generate", 2, 64, 4, None, dict(wd="float32"))]
# Reference checkpoints of the MLA families (issue #14, 14l): parameters only. The shapes of the Hub config.json
# files of deepseek-ai/DeepSeek-V2-Lite, deepseek-ai/DeepSeek-V2, openbmb/MiniCPM-2B-sft-bf16 and -1B-sft-bf16
# (the Hub was not reachable: shapes as Megatron-Bridge's deepseek_v2 recipes and the DeepSeek-V2 paper quote
# them; PyTorch's counts give the model cards' 15.7B, 236B, 2.4B and 1.2B without embeddings); MiniCPM3-4B is
# transformers' MiniCPM3Config(), whose defaults are that checkpoint's.
_DSV2 = dict(model_type="deepseek_v2", attention_bias=False, first_k_dense_replace=1, hidden_act="silu",
             kv_lora_rank=512, max_position_embeddings=163840, moe_layer_freq=1, n_shared_experts=2,
             norm_topk_prob=False, num_experts_per_tok=6, qk_nope_head_dim=128, qk_rope_head_dim=64, v_head_dim=128,
             vocab_size=102400, tie_word_embeddings=False, rms_norm_eps=1e-6, bos_token_id=100000,
             eos_token_id=100001)
_MINICPM = dict(model_type="minicpm", hidden_act="silu", tie_word_embeddings=True, scale_emb=12, dim_model_base=256,
                scale_depth=1.4, rms_norm_eps=1e-5, rope_theta=10000.0, bos_token_id=1, eos_token_id=2)
REFERENCE_MLA = {
    "DeepSeek-V2-Lite": dict(_DSV2, hidden_size=2048, intermediate_size=10944, moe_intermediate_size=1408,
                             n_group=1, n_routed_experts=64, num_attention_heads=16, num_hidden_layers=27,
                             num_key_value_heads=16, q_lora_rank=None, routed_scaling_factor=1.0, topk_group=1,
                             topk_method="greedy"),
    "DeepSeek-V2": dict(_DSV2, hidden_size=5120, intermediate_size=12288, moe_intermediate_size=1536, n_group=8,
                        n_routed_experts=160, num_attention_heads=128, num_hidden_layers=60, num_key_value_heads=128,
                        q_lora_rank=1536, routed_scaling_factor=16.0, topk_group=3, topk_method="group_limited_greedy"),
    "MiniCPM3-4B": dict(model_type="minicpm3"),
    "MiniCPM-2B-sft-bf16": dict(_MINICPM, hidden_size=2304, intermediate_size=5760, num_attention_heads=36,
                                num_key_value_heads=36, num_hidden_layers=40, vocab_size=122753,
                                max_position_embeddings=2048),
    "MiniCPM-1B-sft-bf16": dict(_MINICPM, hidden_size=1536, intermediate_size=3840, num_attention_heads=24,
                                num_key_value_heads=8, num_hidden_layers=52, vocab_size=73440,
                                max_position_embeddings=4096),
}
# model_type minicpm is remote code: counted as LlamaForCausalLM of the same shapes (its modules are Llama's:
# q/k/v/o, gate/up/down, two RMSNorms per layer, a final norm, the embedding tied to lm_head)
COUNT_AS = {"minicpm": "llama"}
# a second shape per MoE type of 14e (other knobs: biases, MoE placement, chunked attention shorter than the
# prompt), measured on OFF_GRID workloads (batch, length and new tokens outside GRID)
OFF_GRID_CONFIGS = {
    "offgrid-phimoe": dict(model_type="phimoe", hidden_size=384, intermediate_size=320, num_hidden_layers=3,
                           num_attention_heads=6, num_key_value_heads=2, num_local_experts=4, num_experts_per_tok=2,
                           attention_bias=True, lm_head_bias=True, vocab_size=1000, max_position_embeddings=4096,
                           **TOK),
    "offgrid-phimoe-jitter": dict(model_type="phimoe", hidden_size=256, intermediate_size=384, num_hidden_layers=3,
                                  num_attention_heads=4, num_key_value_heads=1, num_local_experts=6,
                                  num_experts_per_tok=2, input_jitter_noise=0.01, router_jitter_noise=0.01,
                                  sliding_window=160, vocab_size=1000, max_position_embeddings=4096, **TOK),
    "offgrid-llama4-text": dict(model_type="llama4_text", hidden_size=384, intermediate_size=256,
                                intermediate_size_mlp=640, num_hidden_layers=4, num_attention_heads=6,
                                num_key_value_heads=2, head_dim=64, num_local_experts=4, num_experts_per_tok=1,
                                interleave_moe_layer_step=1, no_rope_layer_interval=2, attention_chunk_size=128,
                                use_qk_norm=False, vocab_size=1000, max_position_embeddings=4096, **TOK),
    "offgrid-ernie4-5-moe": dict(model_type="ernie4_5_moe", hidden_size=384, intermediate_size=768,
                                 num_hidden_layers=4, num_attention_heads=6, num_key_value_heads=2, head_dim=64,
                                 use_bias=True, moe_num_experts=6, moe_k=3, moe_intermediate_size=96,
                                 moe_num_shared_experts=2, moe_layer_start_index=0, moe_layer_end_index=2,
                                 moe_layer_interval=2, tie_word_embeddings=False, vocab_size=1000,
                                 max_position_embeddings=4096, **TOK),
}
# kept aside while modelling the 14e types (measured after): checkpointing, fp32 weights with bf16 autocast,
# eager attention, on the small and off-grid configs: (config, (mode, batch, seq, new), W keywords)
HELD_OUT = [(n, args, kw) for t in ("phimoe", "llama4-text", "ernie4-5-moe") for n, args, kw in (
    (f"small-{t}", ("train", 1, 512), dict(gc=True)),
    (f"offgrid-{t}", ("train", 1, 256), dict(wd="float32", ac="bfloat16")),
    (f"small-{t}", ("forward", 2, 128), dict(attn="eager")),
    (f"offgrid-{t}", ("generate", 1, 64, 12), dict(attn="eager")))]
OFF_GRID = [("train", 1, 384, 0, None), ("train", 1, 384, 0, "qv"), ("forward", 3, 200, 0, None),
            ("generate", 1, 300, 5, None)]
# parameters only (too large to trace every mode here): each type's transformers default config, which
# is its reference model's shape (e.g. JambaConfig() is Jamba-v0.1, 52B)
REFERENCE = {f"default-{t}": dict(model_type=t) for t in ("mamba2", "jamba", "granitemoehybrid", "falcon_h1", "lfm2")}
# reference checkpoints of the 14e MoE types, parameters only: the config.json fields that shape the model,
# as quoted in public sources (HF repos are not reachable from here); counted as given (not re-serialised)
_SCOUT = dict(model_type="llama4_text", attention_bias=False, attention_chunk_size=8192, attn_scale=0.1,
              attn_temperature_tuning=True, floor_scale=8192, head_dim=128, hidden_act="silu", hidden_size=5120,
              interleave_moe_layer_step=1, intermediate_size=8192, intermediate_size_mlp=16384,
              max_position_embeddings=262144, moe_layers=list(range(48)), no_rope_layers=[0 if i % 4 == 3 else 1
                                                                                      for i in range(48)],
              num_attention_heads=40, num_experts_per_tok=1, num_hidden_layers=48, num_key_value_heads=8,
              num_local_experts=16, rms_norm_eps=1e-05, rope_theta=500000.0, tie_word_embeddings=False,
              use_qk_norm=True, vocab_size=202048, torch_dtype="bfloat16", pad_token_id=200018,
              bos_token_id=200000, eos_token_id=[200001, 200007, 200008])
REFERENCE_CONFIGS = {
    # microsoft/Phi-3.5-MoE-instruct config.json, as listed field by field in microsoft/PhiCookBook's
    # Phi-3.5-MoE fine-tuning notes (the rope_scaling longrope tables left out: no parameters)
    "ref-phimoe-Phi-3.5-MoE-instruct": dict(
        model_type="phimoe", attention_bias=True, attention_dropout=0.0, hidden_act="silu", hidden_size=4096,
        input_jitter_noise=0.01, intermediate_size=6400, lm_head_bias=True, max_position_embeddings=131072,
        num_attention_heads=32, num_experts_per_tok=2, num_hidden_layers=32, num_key_value_heads=8,
        num_local_experts=16, rms_norm_eps=1e-05, rope_theta=10000.0, router_aux_loss_coef=0.0,
        router_jitter_noise=0.01, sliding_window=131072, tie_word_embeddings=False, torch_dtype="bfloat16",
        vocab_size=32064, bos_token_id=1, eos_token_id=32000),
    # baidu/ERNIE-4.5-21B-A3B-PT config.json as quoted by MindIE's ernie_moe config test and
    # llm_memory_calculator's ERNIE_45_21B_A3B fixture
    "ref-ernie4-5-moe-ERNIE-4.5-21B-A3B-PT": dict(
        model_type="ernie4_5_moe", hidden_act="silu", hidden_size=2560, intermediate_size=12288,
        max_position_embeddings=131072, moe_intermediate_size=1536, moe_k=6, moe_layer_end_index=27,
        moe_layer_interval=1, moe_layer_start_index=1, moe_num_experts=64, moe_num_shared_experts=2,
        num_attention_heads=20, num_hidden_layers=28, num_key_value_heads=4, head_dim=128, rms_norm_eps=1e-05,
        rope_theta=500000.0, tie_word_embeddings=True, use_bias=False, vocab_size=103424, torch_dtype="bfloat16",
        pad_token_id=0, bos_token_id=1, eos_token_id=2),
    # meta-llama/Llama-4-Scout-17B-16E config.json text_config (Llama4Config dump quoted in a public
    # Llama 4 notes file, transformers 4.51.0; its rope_scaling llama3 table left out: no parameters)
    "ref-llama4-Scout-17B-16E": _SCOUT,
    # meta-llama/Llama-4-Maverick-17B-128E text_config: TensorRT-LLM's LLAMA_4_MAVERICK_TWO_LAYER_CONFIG with
    # its 48 layers restored (the test cut them to 2 and added no_rope_layer_interval=2)
    "ref-llama4-Maverick-17B-128E": {**_SCOUT, "interleave_moe_layer_step": 2, "num_local_experts": 128,
                                     "use_qk_norm": False, "max_position_embeddings": 1048576,
                                     "moe_layers": list(range(1, 48, 2))},
}
# Measured with this script (--pending) but not modelled yet: llmsize refuses these types (an unknown
# model_type); their truth is kept out of truth_families.jsonl.
PENDING: dict = {}
# LoRA "qv" targets of the types the shared generator's QV table does not name (fused qkv, MLA queries)
QV = {"gpt_bigcode": ["c_attn"], "bloom": ["query_key_value"], "mpt": ["Wqkv"],
      "deepseek_v2": ["q_b_proj", "kv_b_proj"], "minicpm3": ["q_b_proj", "kv_b_proj"]}
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
    ap.add_argument("--held-out", help="also measure HELD_OUT into this file (cases kept aside)")
    a = ap.parse_args()
    sys.path.insert(0, a.generator)
    import generate_truth as gt  # noqa: E402

    configs = {**CONFIGS, **(PENDING if a.pending else {})}
    tool = "torch MemTracker under FakeTensorMode (shared generate_truth.measure)"
    measure_all(a, gt, configs, GRID, tool,
                lambda path, src, only: _count_params(path, src, only, {**configs, **OFF_GRID_CONFIGS}))
    a.params_out = None  # counted above
    measure_all(a, gt, OFF_GRID_CONFIGS, OFF_GRID, tool, None)
    if a.held_out:  # other workload knobs (checkpointing, autocast, eager attention) on the same configs
        cases = [(n, gt.W(n, *args, **kw)) for n, args, kw in HELD_OUT if a.only in n]  # --only: by config
        from gen_truth_extra import run_cases  # noqa: E402
        done = {json.loads(x)["id"] for x in open(a.held_out) if x.strip()} if os.path.exists(a.held_out) else set()
        import peft, torch, transformers  # noqa: E401,E402
        run_cases(cases, a.held_out, dict(tool=tool, torch=torch.__version__, transformers=transformers.__version__,
                                          peft=peft.__version__, device="cpu"), done)


def measure_all(a, gt, configs: dict, grid: list, tool: str, count_params) -> None:
    """Count parameters (with --params-out), then measure every (config, grid point) not yet in --out."""
    os.environ["LLMSIZE_TRUTH_DIR"] = a.generator
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from gen_truth_extra import measured_ids, run_cases, source  # noqa: E402  (one runner for measured cases)

    done = measured_ids(a.out)
    src = source(tool)
    if a.params_out:
        count_params(a.params_out, src, a.only)

    gt.QV.update(QV)
    gt.NO_SDPA.update(NO_SDPA)
    # Mamba2ForCausalLM has no SDPA path (it has no attention); peft adapts its in_proj (not out_proj)
    gt.NO_SDPA = {*gt.NO_SDPA, "mamba2"}
    gt.QV.setdefault("mamba2", ["in_proj"])
    _generate_via_trace(gt)
    cases = []
    for name, cfg in configs.items():
        gt.MODELS[name] = dict(cfg)
        for mode, b, s, new, lo, *kw in grid + OFF_GRID_BY_CONFIG.get(name, []):
            w = gt.W(name, mode, b, s, new, lo=_mla_lora(gt.lora(name, 16, lo), cfg) if lo else None, **dict(*kw))
            if a.only in gt.case_id(name, w):
                cases.append((name, w))
    run_cases(cases, a.out, src, done)


def _mla_lora(lo: dict, cfg: dict) -> dict:
    """MLA without a low-rank query (q_lora_rank null) has q_proj where the others have q_b_proj."""
    if cfg.get("kv_lora_rank") and "q_lora_rank" in cfg and cfg["q_lora_rank"] is None:
        lo = dict(lo, target_modules=[{"q_b_proj": "q_proj", "q_a_proj": "q_proj"}.get(t, t)
                                      for t in lo["target_modules"]])
    return lo


def _generate_via_trace(gt) -> None:
    """Mamba2ForCausalLM returns its cache as `cache_params`, which the shared generator's decode loop does
    not pass on: measure generate for such models with `llmsize trace` (the same MemTracker method, in our
    own code, which passes whichever cache the output carries)."""
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src"))
    from llmsize.memory.workload import Workload
    from llmsize.trace import trace

    if getattr(gt.measure, "wrapped", False):
        return
    orig = gt.measure

    class FrozenSafeTracker(gt.GlobalPeakMemTracker):
        """The generator marks frozen parameters as hooked in train mode only; ERNIE 4.5 MoE's router
        correction bias is a frozen nn.Parameter in every mode (MemTracker cannot hook it)."""

        def track_external(self, *external):
            super().track_external(*external)
            for m in external:
                for p in (m.parameters() if hasattr(m, "parameters") else ()):
                    if not p.requires_grad:
                        self._param_to_grad_hook_handles.setdefault(p, (gt._NoHandle(), gt._NoHandle()))

    def measure(name, w, real=False, tracker=None):
        if w["mode"] != "generate" or gt.MODELS[name]["model_type"] not in ("mamba2",):
            return orig(name, w, real, tracker or FrozenSafeTracker)
        r = trace(gt.MODELS[name], Workload(mode="generate", batch=w["batch"], seq_len=w["seq_len"],
                                             new_tokens=w["new_tokens"], attn_impl=w["attn_implementation"]))
        return dict(params=r.params, trainable_params=0, weights_bytes=r.breakdown.get("params", 0),
                    peak_bytes=r.peak_bytes, peak_breakdown=r.breakdown, measured_by="llmsize trace"), 0

    measure.wrapped = True
    gt.measure = measure


def _count_params(path: str, src: dict, only: str, configs: dict) -> None:
    """sum(numel) of the model transformers builds (FakeTensorMode), in total and per decoder layer."""
    import torch
    from torch._subclasses.fake_tensor import FakeTensorMode
    from transformers import AutoConfig, AutoModelForCausalLM

    out = json.load(open(path)) if os.path.exists(path) else {"method": "sum(p.numel() for p in "
                                                                       "AutoModelForCausalLM.from_config(cfg).parameters()) "
                                                                       "under FakeTensorMode", **src, "models": {}}
    for name, cfg in {**configs, **REFERENCE, **REFERENCE_CONFIGS, **REFERENCE_MLA}.items():
        if only not in name:
            continue
        conf = AutoConfig.for_model(**{**cfg, "model_type": COUNT_AS.get(cfg["model_type"], cfg["model_type"])})
        if name in REFERENCE or cfg == {"model_type": "minicpm3"}:  # record the whole config.json transformers would write for it
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
