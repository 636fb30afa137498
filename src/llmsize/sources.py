"""The one table of citations. Every formula's docstring ends with `Source:` and a key of SOURCES."""
from __future__ import annotations

SOURCES: dict[str, str] = {
    "vaswani2017": "Vaswani et al. 2017, Attention Is All You Need, sec. 3 (projections W_Q, W_K, W_V, W_O; FFN).",
    "kaplan2020": "Kaplan et al. 2020, Scaling Laws for Neural Language Models, Table 1 (N ~ 12 L d^2, "
                  "C_forward ~ 2N + 2 L n_ctx d).",
    "hf-llama": "huggingface/transformers src/transformers/models/llama/modeling_llama.py "
                "(LlamaAttention, LlamaMLP, LlamaRMSNorm).",
    "hf-gpt2": "huggingface/transformers src/transformers/models/gpt2/modeling_gpt2.py (Conv1D c_attn/c_proj/c_fc, "
               "wpe learned positions).",
    "hf-gpt-neox": "huggingface/transformers src/transformers/models/gpt_neox/modeling_gpt_neox.py "
                   "(fused query_key_value, parallel residual).",
    "hf-opt": "huggingface/transformers src/transformers/models/opt/modeling_opt.py "
              "(OPTLearnedPositionalEmbedding offset 2, project_in/out).",
    "hf-falcon": "huggingface/transformers src/transformers/models/falcon/modeling_falcon.py "
                 "(multi-query fused QKV, ln_attn/ln_mlp).",
    "hf-phi3": "huggingface/transformers src/transformers/models/phi3/modeling_phi3.py (qkv_proj, gate_up_proj).",
    "hf-gemma2": "huggingface/transformers src/transformers/models/gemma2/modeling_gemma2.py "
                 "(pre/post attention and feed-forward norms).",
    "hf-qwen3": "huggingface/transformers src/transformers/models/qwen3/modeling_qwen3.py (q_norm/k_norm over head_dim).",
    "hf-olmo2": "huggingface/transformers src/transformers/models/olmo2/modeling_olmo2.py (q_norm/k_norm over all heads).",
    "hf-mixtral": "huggingface/transformers src/transformers/models/mixtral/modeling_mixtral.py "
                  "(router gate, experts w1/w2/w3).",
    "hf-qwen2-moe": "huggingface/transformers src/transformers/models/qwen2_moe/modeling_qwen2_moe.py "
                    "(shared_expert, shared_expert_gate).",
    "hf-deepseek-v3": "huggingface/transformers src/transformers/models/deepseek_v3/modeling_deepseek_v3.py "
                      "(MLA q_a/q_b/kv_a_proj_with_mqa/kv_b projections, e_score_correction_bias buffer).",
    "deepseek-v2": "DeepSeek-AI 2024, DeepSeek-V2, sec. 2.1 (multi-head latent attention, eq. 9-19).",
    "hf-gpt-oss": "huggingface/transformers src/transformers/models/gpt_oss/modeling_gpt_oss.py "
                  "(attention sinks, experts with biases, router bias).",
    "hf-siglip": "huggingface/transformers src/transformers/models/siglip/modeling_siglip.py (vision tower).",
    "textbook": "The per-component textbook sum: attention 4d^2, FFN 2*d*4d + d + 4d, two LayerNorms of 2d "
                "per layer, plus V*d embeddings (as in the original llmsize calculator).",
    "shoeybi2019": "Shoeybi et al. 2019, Megatron-LM (tensor parallelism of attention heads and MLP columns).",
    "peft-lora": "Hu et al. 2021, LoRA, sec. 4.1 (W + BA, A: r x k, B: d x r); huggingface/peft "
                 "src/peft/tuners/lora/layer.py.",
}


def cite(key: str) -> str:
    """The citation text of `key`; a missing key is a programming error."""
    return SOURCES[key]
