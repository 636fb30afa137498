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
    # -- quantization and weight files (quant/, adapters/safetensors.py, adapters/gguf.py) --
    "ggml-common": "ggml-org/llama.cpp ggml/src/ggml-common.h (block_q4_0 ... block_iq4_xs, block_tq1_0, "
                   "block_mxfp4, block_nvfp4: struct layouts and their sizeof static_asserts; QK_K = 256).",
    "ggml-h": "ggml-org/llama.cpp ggml/include/ggml.h (enum ggml_type ids: F32=0 ... BF16=30, TQ1_0=34, "
              "TQ2_0=35, MXFP4=39, NVFP4=40, Q1_0=41, Q2_0=42).",
    "gguf-spec": "ggml-org/ggml docs/gguf.md (GGUF v3: magic, version, tensor and KV counts, typed KV values, "
                 "tensor infos with dims/type/offset, data aligned to general.alignment, default 32).",
    "llama-quant": "ggml-org/llama.cpp src/llama-quant.cpp at 007dbbf3 (tensor_allows_quantization, "
                   "llama_tensor_get_type_impl incl. use_more_bits, tensor_type_fallback, "
                   "llama_ftype_get_default_type).",
    "llama-convert": "ggml-org/llama.cpp convert_hf_to_gguf.py (1-D tensors, *_norm.weight, ffn_gate_inp, "
                     "position embeddings and non-.weight tensors are written as F32).",
    "llama-quantize-help": "ggml-org/llama.cpp tools/quantize/quantize.cpp QUANT_OPTIONS (size and perplexity "
                           "increase per preset @ Llama-3-8B) and tools/quantize/README.md (Llama-3.1-8B "
                           "bits/weight and GiB per preset).",
    "llama-kv-cache": "ggml-org/llama.cpp common/arg.cpp --cache-type-k/-v (f32, f16, bf16, q8_0, q4_0, q4_1, "
                      "iq4_nl, q5_0, q5_1): the cache is stored in ggml blocks of that type.",
    "safetensors-format": "huggingface/safetensors README (8-byte little-endian header size N, N bytes of JSON "
                          "header with dtype/shape/data_offsets per tensor and optional __metadata__).",
    "bnb-4bit": "bitsandbytes-foundation/bitsandbytes bitsandbytes/functional.py quantize_4bit / QuantState.as_dict "
                "(packed uint8 pairs, blocksize 64, absmax fp32 or with double quant uint8 absmax + fp32 "
                "nested_absmax per 256 blocks + 256-entry nested_quant_map, 16-entry quant_map, JSON quant_state).",
    "bnb-int8": "bitsandbytes nn/modules.py Linear8bitLt._save_to_state_dict (int8 weight, SCB fp32 per output "
                "row, weight_format uint8); Dettmers et al. 2022, LLM.int8(), sec. 3.",
    "qlora": "Dettmers et al. 2023, QLoRA: Efficient Finetuning of Quantized LLMs, sec. 3 (NF4, double "
             "quantization of the quantization constants, paged optimizers).",
    "gptq": "Frantar et al. 2022, GPTQ; AutoGPTQ/GPTQModel QuantLinear layout (qweight int32 [in*bits/32, out], "
            "qzeros int32 [groups, out*bits/32], scales fp16 [groups, out], g_idx int32 [in]).",
    "awq": "Lin et al. 2023, AWQ; AutoAWQ WQLinear_GEMM layout (qweight int32 [in, out*bits/32], qzeros int32 "
           "[in/group, out*bits/32], scales fp16 [in/group, out]).",
    "fp8-llm-compressor": "vllm-project/llm-compressor FP8 / FP8_DYNAMIC schemes and compressed-tensors "
                          "float-quantized format (float8_e4m3fn Linear weights, weight_scale per tensor or "
                          "per output channel; lm_head ignored).",
    "deepseek-v3-fp8": "DeepSeek-AI 2024, DeepSeek-V3 Technical Report sec. 3.3, and its config.json "
                       "quantization_config (fp8 e4m3, weight_block_size [128, 128], weight_scale_inv fp32 "
                       "per block).",
    "ocp-mx": "Open Compute Project, OCP Microscaling Formats (MX) Specification v1.0 (MXFP4: 32 E2M1 values "
              "sharing one E8M0 scale).",
    "gpt-oss-mxfp4": "OpenAI 2025, gpt-oss-120b & gpt-oss-20b model card (MoE weights in MXFP4: *_blocks uint8 "
                     "and *_scales uint8; other weights bf16).",
    "nvfp4": "NVIDIA TensorRT Model Optimizer NVFP4 (16 E2M1 values per FP8 E4M3 scale plus one FP32 "
             "per-tensor scale; weight, weight_scale, weight_scale_2, input_scale).",
    "vllm-fp8-kv": "vLLM docs, Quantized KV Cache (fp8 e4m3 / e5m2 cache: one byte per element, per-layer "
                   "k_scale/v_scale).",
}


def cite(key: str) -> str:
    """The citation text of `key`; a missing key is a programming error."""
    return SOURCES[key]
