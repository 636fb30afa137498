"""The one table of citations. Every formula's docstring ends with `Source:` and a key of SOURCES."""
from __future__ import annotations

SOURCES: dict[str, str] = {
    "vaswani2017": "Vaswani et al. 2017, Attention Is All You Need, sec. 3 (projections W_Q, W_K, W_V, W_O; FFN).",
    "pytorch2023fast": "Team PyTorch 2023, Accelerating Generative AI with PyTorch II: GPT, Fast "
                       "(pytorch.org/blog/accelerating-generative-ai-2): eager Llama-2-7B decode on an A100 at "
                       "25.5 tokens/s is 'heavily CPU overhead bound', the CPU cannot issue the kernels fast "
                       "enough; torch.compile's CUDA graphs remove the overhead.",
    "kaplan2020": "Kaplan et al. 2020, Scaling Laws for Neural Language Models, Table 1 (N ~ 12 L d^2, "
                  "C_forward ~ 2N + 2 L n_ctx d).",
    "hf-generate": "huggingface/transformers src/transformers/generation/utils.py: GenerationMixin.generate runs "
                   "a fixed batch: the padded prompts of every sequence in one forward pass (prefill), then one "
                   "decode step for all of them per new token until each is done; a new request waits for a new "
                   "generate() call.",
    "hf-dynamic-cache": "huggingface/transformers src/transformers/cache_utils.py: DynamicCache.update (v4.36-4.5x; "
                        "DynamicLayer.update in v5) grows each layer's key and value tensors with torch.cat every "
                        "decode step, a fresh allocation and a copy of the whole cache; generate()'s default cache "
                        "(cache_implementation None). Before it, models concatenated past_key_values tuples the "
                        "same way (v4.32 LlamaAttention).",
    "hf-llama": "huggingface/transformers src/transformers/models/llama/modeling_llama.py "
                "(LlamaAttention, LlamaMLP, LlamaRMSNorm).",
    "hf-gpt2": "huggingface/transformers src/transformers/models/gpt2/modeling_gpt2.py (Conv1D c_attn/c_proj/c_fc, "
               "wpe learned positions).",
    "hf-bert": "huggingface/transformers src/transformers/models/bert/modeling_bert.py, v5.23 (BertEmbeddings "
               "word + token type + positions, LayerNorm, dropout; post-LN BertSelfOutput/BertOutput; "
               "BertForMaskedLM: BertLMPredictionHead transform + tied decoder + bias, CrossEntropyLoss).",
    "hf-t5": "huggingface/transformers src/transformers/models/t5/modeling_t5.py and configuration_t5.py, v5.23 "
             "(T5Stack encoder/decoder, relative_attention_bias in the first block, T5LayerCrossAttention, "
             "T5DenseGatedActDense, lm_head tied to shared).",
    "hf-modernbert": "huggingface/transformers src/transformers/models/modernbert/modeling_modernbert.py, v5.23 "
                     "(ModernBertEmbeddings norm, Identity attn_norm in layer 0, fused Wqkv/Wi GeGLU, per-type "
                     "rotary tables, ModernBertPredictionHead, tied decoder with bias).",
    "hf-roberta": "huggingface/transformers src/transformers/models/roberta/modeling_roberta.py, v5.23 "
                  "(create_position_ids_from_input_ids: cumsum of non-pad ids + padding_idx; RobertaLMHead).",
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
    "hf-deepseek-v2": "huggingface/transformers src/transformers/models/deepseek_v2/modeling_deepseek_v2.py, v5.23 "
                      "(complex freqs_cis rotary, optional q_proj, softmax router with greedy or "
                      "group_limited_greedy top-k times routed_scaling_factor, MoE from first_k_dense_replace).",
    "hf-minicpm3": "huggingface/transformers src/transformers/models/minicpm3/modeling_minicpm3.py and "
                   "configuration_minicpm3.py, v5.23 (MLA as DeepSeek-V2 with cos/sin rotary; embeddings * "
                   "scale_emb, residual branches * scale_depth / sqrt(L), hidden / (d / dim_model_base) before "
                   "lm_head; config defaults = openbmb/MiniCPM3-4B).",
    "openbmb-minicpm": "openbmb's remote modeling_minicpm.py for MiniCPM 1/2 (model_type minicpm; as ported in "
                       "mindspore-lab/mindone examples/transformers/minicpm): Llama attention/MLP, "
                       "inputs_embeds * scale_emb, residual + branch * scale_depth / sqrt(L), "
                       "lm_head(hidden / (d / dim_model_base)).",
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
    "cuda-device-query": "NVIDIA CUDA samples deviceQuery (cudaDeviceProp.totalGlobalMem), ROCm rocminfo pool "
                         "size, per GPU in gpus.toml usable_source; torch.cuda.get_device_properties().total_memory "
                         "reports the same total.",
    "hf-rope-scaling": "huggingface/transformers src/transformers/modeling_rope_utils.py (rope_type default, "
                       "linear, dynamic, yarn, longrope, llama3; factor and original_max_position_embeddings).",
    "hf-quantizers": "huggingface/transformers src/transformers/utils/quantization_config.py and quantizers/ "
                     "(quant_method fp8 with weight_block_size, mxfp4, gptq bits/group_size/desc_act, awq, "
                     "bitsandbytes load_in_4bit/bnb_4bit_quant_type/double quant, compressed-tensors config_groups).",
    "qwen-quant-bench": "Qwen documentation, Quantization benchmark (qwen.readthedocs.io, benchmark/"
                        "quantization_benchmark): Qwen2-{0.5B,1.5B,7B,72B}-Instruct, BF16 vs GPTQ-Int8, GPTQ-Int4 and "
                        "AWQ, average of MMLU, C-Eval and IFEval accuracy (greedy decoding).",
    "llama3-lowbit": "Huang et al. 2024, How Good Are Low-bit Quantized LLaMA3 Models? An Empirical Study (arXiv "
                     "2404.14047): 4-bit post-training quantization stays close to 16-bit, 3-bit degrades clearly, "
                     "2-bit collapses; LLaMA3-70B is more robust to low bit widths than 8B.",
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
    "vllm-quantization": "vLLM docs, Quantization > FP8 W8A8: `--quantization fp8` quantizes a 16-bit checkpoint's "
                         "weights to FP8 on load (dynamic scales); AWQ, GPTQ and the other weight-only methods "
                         "read checkpoints already stored in them (their quantization_config).",
    "vllm-fp8-kv": "vLLM docs, Quantized KV Cache (fp8 e4m3 / e5m2 cache: one byte per element, per-layer "
                   "k_scale/v_scale).",
    "trtllm-backends": "NVIDIA TensorRT-LLM docs: PyTorch Backend (available from 0.17, the default backend from "
                       "1.0: a Python model executor) and legacy/tensorrt-backend-removal (the TensorRT engine "
                       "backend, built with trtllm-build and run by the C++ runtime, removed; PyTorch the sole "
                       "backend).",
    "fp8-attention": "Which precision attention's products run in: vLLM docs, Quantized KV Cache ('When using the "
                     "Flash Attention 3 backend with FP8 KV cache, attention operations are also performed in the "
                     "quantized (FP8) domain'); TensorRT-LLM docs, Attention (TRT-LLM backend: FP8 input/output "
                     "and KV cache, FP8 context FMHA); sgl-project/sglang issue 10083 (an FP8 KV cache is "
                     "dequantized to BF16/FP16 when read for attention).",
    # -- design and scaling (llmsize.design) --
    "hoffmann2022": "Hoffmann et al. 2022, Training Compute-Optimal Large Language Models (arXiv 2203.15556): "
                    "Table 3 (Approach 1: ~20 tokens per parameter; 67B -> 5.76e23 FLOPs, 1.5T tokens); sec. 3.3 "
                    "eq. (2) L(N, D) = E + A/N^alpha + B/D^beta with fitted E=1.69, A=406.4, B=410.7, alpha=0.34, "
                    "beta=0.28 (Appendix D.2); eq. (4) N_opt = G(C/6)^a, D_opt = G^-1 (C/6)^b; Table 2 exponents; "
                    "Chinchilla 70B on 1.4T tokens at Gopher's budget (Table 1).",
    "kaplan2020-laws": "Kaplan et al. 2020, Scaling Laws for Neural Language Models (arXiv 2001.08361): eq. (1.1)-(1.3) "
                       "L(N) = (N_c/N)^0.076, N_c = 8.8e13; L(D) = (D_c/D)^0.095, D_c = 5.4e13; L(C_min) = "
                       "(3.1e8/C_min)^0.050 (PF-days); eq. (1.5) L(N, D); Table 5 constants; Table 6 / Fig. 14 "
                       "N_opt = 1.3e9 C_min^0.73, D_opt = 2e10 C_min^0.27; sec. 2.1 C ~ 6NBS (N non-embedding).",
    "besiroglu2024": "Besiroglu, Erdil, Barnett, You 2024, Chinchilla Scaling: A replication attempt (arXiv 2404.10102), "
                     "Table 1 refit of Approach 3: E=1.8172, A=482.01, B=2085.43, alpha=0.3478, beta=0.3658.",
    "pearce2024": "Pearce and Song 2024, Reconciling Kaplan and Chinchilla Scaling Laws (arXiv 2406.12907): Kaplan "
                  "counted non-embedding parameters, Chinchilla all parameters.",
    "sardana2023": "Sardana, Portes, Doubov, Frankle 2023, Beyond Chinchilla-Optimal: Accounting for Inference in "
                   "Language Model Scaling Laws (arXiv 2401.00448), sec. 2: minimise 6 N D_tr + 2 N D_inf subject "
                   "to L(N, D_tr) = l under the Chinchilla Approach 3 loss.",
    "training-tokens": "Published pre-training token counts: Hoffmann et al. 2022 Table 1 (GPT-3 175B and Gopher "
                       "280B: 300B tokens; Chinchilla 70B: 1.4T); Touvron et al. 2023, Llama 2, sec. 2.1 (2T "
                       "tokens); Meta 2024, Introducing Meta Llama 3 and The Llama 3 Herd of Models sec. 3 "
                       "(over 15T tokens).",
    "hf-configs": "config.json of each reference model on Hugging Face (hidden_size, num_hidden_layers): "
                  "HuggingFaceTB/SmolLM2, Qwen/Qwen2.5, meta-llama/Llama-2, Llama-3.1, Llama-3.2, "
                  "mistralai/Mistral-7B-v0.1, google/gemma-2, openai-community/gpt2-xl; GPT-3: Brown et al. 2020 "
                  "Table 2.1.",
    "shazeer2020": "Shazeer 2020, GLU Variants Improve Transformer (arXiv 2002.05202), sec. 2: gated FFN width "
                   "reduced to 2/3 of 4d to keep parameters; Touvron et al. 2023, LLaMA sec. 2.2 and "
                   "meta-llama/llama model.py (multiple_of=256; Llama 3: ffn_dim_multiplier=1.3, multiple_of=1024).",
    "megatron-vocab": "NVIDIA/Megatron-LM arguments.py --make-vocab-size-divisible-by (default 128): the vocabulary "
                      "is padded so embedding GEMMs split evenly and use tensor cores.",
    # -- planner: parallelism, speed, cost (llmsize.parallel, perf, cost, planner, export) --
    "rajbhandari2020": "Rajbhandari et al. 2020, ZeRO: Memory Optimizations Toward Training Trillion Parameter "
                       "Models, sec. 5 (P_os, P_os+g, P_os+g+p: (2 + 2 + K)·Ψ/N_d, K = 12 for mixed-precision Adam).",
    "deepspeed-memory": "DeepSpeed docs/code-docs/source/memory.rst (estimate_zero2/zero3_model_states_mem_needs: "
                        "ZeRO-2 4Ψ + 16Ψ/N, ZeRO-3 4·largest layer + 18Ψ/N; t5-3b on 8 GPUs: 15.93/5.31/6.10/0.79/"
                        "0.12 GB per GPU).",
    "zhao2023": "Zhao et al. 2023, PyTorch FSDP: Experiences on Scaling Fully Sharded Data Parallel, sec. 3 "
                "(FULL_SHARD, SHARD_GRAD_OP, HYBRID_SHARD).",
    # -- state-space and hybrid models (families/mamba2.py, jamba.py, granitemoehybrid.py, falcon_h1.py, lfm2.py) --
    "mamba2-state": "Dao & Gu 2024, Transformers are SSMs (Mamba-2, arXiv 2405.21060), sec. 6-7: a recurrent "
                    "state of H x P x N per layer replaces the KV cache; huggingface/transformers "
                    "src/transformers/cache_utils.py v5.23.0 (LinearAttentionLayer: conv_states zeros of "
                    "(b, conv channels, kernel) in the model dtype, recurrent_states zeros_like the scan's fp32 "
                    "final state).",
    "hf-mamba2": "huggingface/transformers src/transformers/models/mamba2/modeling_mamba2.py v5.23.0 (Mamba2Mixer "
                 "in_proj/conv1d/dt_bias/A_log/D/norm/out_proj, mamba2_chunk_scan fp32 final state).",
    "hf-jamba": "huggingface/transformers src/transformers/models/jamba/modeling_jamba.py v5.23.0 (JambaMambaMixer "
                "in_proj/conv1d/x_proj/dt_proj/A_log/D/out_proj and dt/B/C RMSNorms; attention and expert layer "
                "periods).",
    "hf-granitemoehybrid": "huggingface/transformers src/transformers/models/granitemoehybrid/"
                           "modeling_granitemoehybrid.py v5.23.0 (GraniteMoeHybridMambaLayer, shared_mlp "
                           "input_linear/output_linear, block_sparse_moe router and experts).",
    "hf-falcon-h1": "huggingface/transformers src/transformers/models/falcon_h1/modeling_falcon_h1.py v5.23.0 "
                    "(FalconH1DecoderLayer: attention and FalconH1Mixer in parallel, then the MLP).",
    "hf-lfm2": "huggingface/transformers src/transformers/models/lfm2/modeling_lfm2.py v5.23.0 (Lfm2ShortConv "
               "in_proj/conv/out_proj, Lfm2Attention q/k layernorms, Lfm2MLP auto-adjusted width).",
    "hf-qwen3-next": "huggingface/transformers src/transformers/models/qwen3_next/modeling_qwen3_next.py v5.23.0 "
                     "(Qwen3NextGatedDeltaNet in_proj_qkvz/in_proj_ba/conv1d/norm/out_proj, gated Qwen3NextAttention "
                     "q_proj 2x, Qwen3NextSparseMoeBlock shared_expert + shared_expert_gate, RMSNorm x(1 + w)).",
    "korthikanti2022": "Korthikanti et al. 2022, Reducing Activation Recomputation in Large Transformer Models, "
                       "Table 2 (sbh(10 + 24/t) per layer with TP, 34sbh/t with sequence parallelism).",
    "lepikhin2021": "Lepikhin et al. 2021, GShard: Scaling Giant Models with Conditional Computation and Automatic "
                    "Sharding (ICLR 2021): expert parallelism dispatches and combines tokens with all-to-all.",
    "deepseek-v3-train": "DeepSeek-AI 2024, DeepSeek-V3 Technical Report (arXiv 2412.19437) sec. 3.2: DualPipe "
                         "overlaps each chunk's expert all-to-all and PP sends with another chunk's compute (fully "
                         "hidden); dispatch sends a token once over IB to each node holding its experts, then "
                         "forwards it over NVLink (at most 4 nodes per token); 2,048 H800s, 180K GPU-hours per "
                         "trillion tokens, 2,664K for 14.8T tokens of pre-training (Table 1). Megatron-Core's "
                         "equivalent: --overlap-moe-expert-parallel-comm (Megatron-Bridge 0.1.0 changelog: EP A2A "
                         "overlap with computation in 1F1B and non-pipelined training), default off.",
    "liu2025folding": "Liu et al. 2025, MoE Parallel Folding: Heterogeneous Parallelism Mappings for Efficient "
                      "Large-Scale MoE Model Training with Megatron Core (arXiv 2504.14960): the MoE layers take "
                      "their own expert TP x EP x expert DP grouping of the attention's TP x CP x DP ranks.",
    "liu2023ring": "Liu, Zaharia and Abbeel 2023, Ring Attention with Blockwise Transformers for Near-Infinite "
                   "Context: each context-parallel rank passes its key/value block around a ring, overlapped "
                   "with the block's attention.",
    "wang2022overlap": "Wang et al. 2022, Overlap Communication with Dependent Computation via Decomposition in "
                       "Large Deep Learning Models (ASPLOS 2023): a TP collective split into chunks pipelined with "
                       "the matmul that produces or consumes it (Megatron --tp-comm-overlap, torch async TP).",
    "megatron-readme-2024": "NVIDIA/Megatron-LM README @937571c (2024-07), Training Speed and Scalability: GPT "
                            "1.7B-462B on 48-6144 H100, MFU 41-48% with --overlap-grad-reduce, "
                            "--overlap-param-gather and --tp-comm-overlap (images/model_table.png).",
    "qi2024zb": "Qi et al. 2024, Zero Bubble Pipeline Parallelism (ICLR 2024): splitting the backward into input "
                "and weight gradients fills the 1F1B bubble (ZB-V: no bubble at 1F1B's activation memory).",
    "narayanan2021": "Narayanan et al. 2021, Efficient Large-Scale Language Model Training on GPU Clusters Using "
                     "Megatron-LM, sec. 2.2 (1F1B: stage s keeps p - s micro-batches in flight) and sec. 5.1 "
                     "(end-to-end time 8TP/(nX): GPT-3 175B, 300B tokens, 1024 A100s at 140 TFLOP/s: ~34 days).",
    "megatron-memory": "NVIDIA/Megatron-LM megatron/training/theoretical_memory_usage.py (18 bytes/param, "
                       "6 + 12/d with the distributed optimizer; first stage holds L layers of activations).",
    "megatron-pr482": "NVIDIA/Megatron-LM pull request 482, tools/get_training_info/README.md: Llama2 7B bf16, "
                      "MBS 2, GBS 2048, flash-attn + distributed optimizer, torch.cuda.max_memory_allocated on "
                      "8 H800s: DP8 69.1 (estimated 68.8), DP4 PP2 49.8 (49.5), DP4 TP2 MBS4 55.7 (55.5) GB.",
    "kwon2023": "Kwon et al. 2023, Efficient Memory Management for LLM Serving with PagedAttention (vLLM), sec. 4 "
                "(KV blocks fill what weights and the profiled activation peak leave).",
    "vllm-memory": "vllm-project/vllm worker memory profiling (gpu_memory_utilization × total memory - weights - "
                   "non-torch memory - activation peak = KV cache); vllm/engine/arg_utils.py flags.",
    "chowdhery2022": "Chowdhery et al. 2022, PaLM, appendix B (MFU; 6N + 12·L·H·Q·T FLOPs per token) and Table 3 "
                     "(MFU: PaLM 46.2%, Gopher 32.5%, MT-NLG 30.2%).",
    "dubey2024": "Llama Team 2024, The Llama 3 Herd of Models, Table 4 (405B: BF16 MFU 38-43% on 8K-16K H100s), "
                 "sec. 3.3.2 (the embedding and output layer unbalance the first and last pipeline stages: "
                 "one fewer layer on each), sec. 3.3.4 (higher than 90% effective training time over a "
                 "54-day snapshot) "
                 "and the Llama 3.1 model card (405B: 30.84M H100-80GB GPU-hours).",
    "touvron2023": "Touvron et al. 2023, LLaMA: Open and Efficient Foundation Language Models, sec. 2.4 (65B: "
                   "380 tokens/s/GPU on 2048 A100-80GB, 1.4T tokens) and Table 15 (1,022,362 GPU-hours).",
    "kleinrock1975": "Kleinrock 1975, Queueing Systems, Vol. 1: Theory, sec. 3.5 (M/M/c, the Erlang C "
                     "probability of waiting) and ch. 5 (M/G/1: a deterministic service halves the M/M/1 wait); the "
                     "half-M/M/c wait for M/D/c is the heavy-traffic approximation (Cosmetatos 1976).",
    "agrawal2024": "Agrawal et al. 2024, Taming Throughput-Latency Tradeoff in LLM Inference with Sarathi-Serve "
                   "(OSDI '24), sec. 4 (chunked prefills ride in decode iterations: stall-free batching); "
                   "NVIDIA/TensorRT-LLM tensorrt_llm/bench/build/tuning.py finetune_setting (trtllm-bench: "
                   "max_num_tokens = max_batch_size x (1 + ISL/OSL), batch capped at 4096).",
    "williams2009": "Williams, Waterman and Patterson 2009, Roofline: an insightful visual performance model for "
                    "multicore architectures, CACM 52(4) (attainable rate min(peak, intensity x bandwidth); "
                    "below the ridge point both ceilings are approached only when loads and math overlap).",
    "trtllm-kv-fraction": "NVIDIA TensorRT-LLM docs, How to Change KV Cache Behavior / KvCacheConfig: "
                          "free_gpu_memory_fraction (default 0.9) is the share of the GPU memory free after the "
                          "model is loaded that the KV cache takes.",
    "sglang-mem-fraction": "SGLang server arguments: --mem-fraction-static, the share of GPU memory for static "
                           "allocation, the model weights and the KV cache pool; activations and CUDA graphs use "
                           "the rest. Its default when none is given: sgl-project/sglang "
                           "python/sglang/srt/server_args.py @469c63e54e7d94591617ef9590c6aa26d54dc1bb, "
                           "ServerArgs._handle_gpu_memory_settings (chunked prefill size and CUDA-graph batch "
                           "limit by GPU memory; u = (M - R)/M with R = 512 + 1.5 C + 2 G + tp pp/8 1024 MiB, at "
                           "least 10 GiB above 60 GiB).",
    "trtllm-xqa": "NVIDIA/TensorRT-LLM docs/source/blogs/XQA-kernel.md (v0.8: XQA, a grouped-query generation "
                  "kernel; Llama-70B 128/2048 on H200 2.4x (1 GPU) and 1.9x (8 GPUs) the throughput without it) "
                  "and docs/source/gpt_attention.md of v0.6-v0.7 (masked MHA: one thread block per query head; "
                  "XQA experimental, opt-in, then default with a heuristic).",
    "vllm-chunked-prefill": "vllm-project/vllm PR 6666 (merged 2024-07-23: chunked prefill on by default for "
                            "models whose max_model_len exceeds 32K), PR 11061 (V1 always chunks prefills) and "
                            "vllm/core/scheduler.py (V0 without chunked prefill schedules waiting prompts as a "
                            "prefill-only step before the running decodes); sgl-project/sglang "
                            "python/sglang/srt/server_args.py (enable_mixed_chunk: bool = False, every release) "
                            "and managers/scheduler.py get_next_batch_to_run (a new prefill batch runs before the "
                            "decode batch); Agrawal et al. 2024 (Sarathi-Serve) sec. 3 (prefill-prioritizing "
                            "schedulers stall ongoing decodes: generation stalls).",
    "vllm-custom-ar": "vllm-project/vllm vllm/distributed/device_communicators/custom_all_reduce.py and "
                      "csrc/custom_all_reduce.cuh (TP all-reduce inside one node of 2, 4, 6 or 8 GPUs over NVLink / "
                      "XGMI, messages up to 8 MB: ranks read peers' IPC buffers and meet at an in-kernel barrier; "
                      "disabled for more than two PCIe-only GPUs and across nodes); vllm/worker/model_runner.py "
                      "_use_captured_graph (v0.6: a batch replays a CUDA graph only when decode_only; a prompt's "
                      "pass launches its kernels from the host).",
    "dao2022": "Dao et al. 2022, FlashAttention: Fast and Memory-Efficient Exact Attention with IO-Awareness, "
               "sec. 2.2 (standard attention writes S = QK^T and P = softmax(S) to HBM and reads them back: "
               "Theta(N^2) memory accesses; FlashAttention keeps them on chip).",
    "llamacpp-graphs": "ggml-org/llama.cpp PR 6766 (Introduction of CUDA Graphs, merged 2024-05-08; tg of Llama 2 "
                       "7B Q4_0 RTX 3090 116 -> 128 t/s, RTX 4090 138 -> 147) and issue 6763 (H100 PCIe Q4_K_M "
                       "143 -> 164 t/s); ggml-cuda.cu enables graphs on compute capability >= 8.0 (PR 25749 added "
                       "Volta/Turing in 2026).",
    "llamacpp-dequant": "ggml-org/llama.cpp ggml/src/ggml-cuda/mmvq.cu and vecdotq.cuh (vec_dot_q2_K_q8_1, "
                        "vec_dot_q3_K_q8_1: each weight's bit fields and 16-weight sub-block scales are unpacked on "
                        "the vector ALUs inside the decode mat-vec) and PR 4766's llama-bench table "
                        "(https://github.com/ggml-org/llama.cpp/pull/4766, January 2024: RTX 3090 7B tg128 Q2_K 92.69, "
                        "Q3_K_S 87.26, Q4_0 133 tokens/s; P40 Q2_K 33.52, Q3_K_S 30.93), from which the operations "
                        "per weight of each block type are solved.",
    "pope2022": "Pope et al. 2022, Efficiently Scaling Transformer Inference, sec. 2-3 (decode is memory-bandwidth "
                "bound: each step reads the weights and the KV cache; prefill is compute-bound).",
    "databricks2023": "Databricks 2023, LLM Inference Performance Engineering: Best Practices (model bandwidth "
                      "utilization, MBU, reached by decode kernels, well below 100%).",
    "ren2021": "Ren et al. 2021, ZeRO-Offload: Democratizing Billion-Scale Model Training (USENIX ATC 2021, arXiv "
               "2101.06840), sec. 4 (the optimizer states and step on the CPU; 16-bit gradients go to the host "
               "during backward, overlapped with it, and the updated 16-bit parameters come back over PCIe before "
               "the next forward); Rajbhandari et al. 2021, ZeRO-Infinity (SC21, arXiv 2104.07857): offloaded "
               "parameters fetched, with prefetch, for the forward and the backward pass.",
    "nvidia-dgx-h100": "NVIDIA DGX BasePOD reference architecture, Core Components (docs.nvidia.com/dgx-basepod/"
                       "reference-architecture-infrastructure-foundation-enterprise-ai/latest/core-components.html): "
                       "DGX H100 / H200, eight GPUs, '2 TB of DDR5 system memory', eight 3.84 TB U.2 NVMe drives for "
                       "storage/cache; MLCommons inference v4.1 NVIDIA H200-SXM-141GBx8 system description: "
                       "host_memory_configuration 32x 64GB (= 2 TiB), 2x Intel Xeon Platinum 8480C; ServeTheHome, "
                       "Intel Xeon Max 9480 deep-dive p. 3 (Xeon Platinum 8480+: 8 DDR5 channels); WWT, Memory "
                       "Population Guidelines for Intel 4th Gen Xeon Scalable (4800 MT/s with one DIMM per "
                       "channel, 4400 MT/s with two).",
    "jacobs2023": "Jacobs et al. 2023, DeepSpeed Ulysses; Liu et al. 2023, Ring Attention (sequence/context "
                  "parallelism: activations split over c GPUs).",
    "deepspeed-config": "DeepSpeed docs/_pages/config-json.md and deepspeed/runtime/zero/config.py "
                        "(zero_optimization stage, offload_optimizer/offload_param device, bf16, "
                        "train_micro_batch_size_per_gpu, gradient_accumulation_steps).",
    "accelerate-fsdp": "huggingface/accelerate src/accelerate/commands/config/config_args.py (ClusterConfig) and "
                       "docs/source/usage_guides/fsdp.md (fsdp_config: fsdp_sharding_strategy, fsdp_offload_params).",
    "torchrun": "PyTorch torch.distributed.run (torchrun --nnodes --nproc-per-node --node-rank --rdzv-backend "
                "--rdzv-endpoint).",
    "llamacpp-args": "ggml-org/llama.cpp common/arg.cpp @145b6280 (-ngl, -c, -ctk/-ctv and kv_cache_types, "
                     "-ts, -sm, -np).",
    "ainslie2023": "Ainslie et al. 2023, GQA: Training Generalized Multi-Query Transformer Models from Multi-Head "
                   "Checkpoints (arXiv 2305.13245): uptrained GQA reaches quality close to MHA at a speed close to MQA.",
    "shazeer2019": "Shazeer 2019, Fast Transformer Decoding: One Write-Head is All You Need (arXiv 1911.02150): MQA.",
    "jiang2024": "Jiang et al. 2024, Mixtral of Experts (arXiv 2401.04088): 8 experts, top-2 routing, 47B total / "
                 "13B active parameters.",
    "dai2024": "Dai et al. 2024, DeepSeekMoE (arXiv 2401.06066): fine-grained expert segmentation and shared experts.",
    "mishra2021": "Mishra et al. 2021, Accelerating Sparse Deep Neural Networks (arXiv 2104.08378): 2:4 sparsity on "
                  "Ampere sparse tensor cores; compressed values plus a 2-bit index per kept value.",
    "sun2023": "Sun, Liu, Bair, Kolter 2023, A Simple and Effective Pruning Approach for LLMs (Wanda, arXiv "
               "2306.11695); locuslab/wanda README LLaMA-2 table (WikiText perplexity, dense / SparseGPT / Wanda, "
               "unstructured 50%, 4:8, 2:4).",
    "frantar2023": "Frantar and Alistarh 2023, SparseGPT: Massive Language Models Can Be Accurately Pruned in One-Shot "
                   "(arXiv 2301.00774).",
    "muralidharan2024": "Muralidharan et al. 2024, Compact Language Models via Pruning and Knowledge Distillation "
                        "(Minitron, arXiv 2407.14679): 15B -> 8B/4B with up to 40x fewer training tokens.",
    "sreenivas2024": "Sreenivas et al. 2024, LLM Pruning and Distillation in Practice: The Minitron Approach (arXiv "
                     "2408.11796), table 1: Llama-3.1-8B MMLU 65.3 -> Llama-3.1-Minitron 4B-Width 60.5 / 4B-Depth "
                     "58.7 (4.5B parameters, 94B tokens); Mistral NeMo 12B 69.0 -> MN-Minitron-8B 69.5 (380B).",
    "xia2023": "Xia, Gao, Zeng, Chen 2023, Sheared LLaMA (arXiv 2310.06694); princeton-nlp/Sheared-LLaMA model "
               "cards: Llama-2-7B average 64.6 -> 2.7B 56.7 and 1.3B 51.0 with 50B tokens.",
    "sanh2019": "Sanh et al. 2019, DistilBERT (arXiv 1910.01108), abstract: 40% smaller, 60% faster, retains 97% "
                "of BERT's language understanding (GLUE).",
    # -- memory model (llmsize.memory) --------------------------------------------------------------
    "pytorch-autograd": "PyTorch autograd engine (torch/csrc/autograd/engine.cpp: a node's saved variables are "
                        "released after it runs; input_buffer.cpp sums gradients in place) and derivatives.yaml "
                        "(what each op saves for backward).",
    "pytorch-sdpa": "PyTorch aten/src/ATen/native/transformers/attention.cpp (_scaled_dot_product_attention_math "
                    "upcasts half inputs to fp32 on CPU; flash attention for CPU saves out and logsumexp) and "
                    "sdp_utils_cpp.cpp (dropout, or a value head size unlike the query/key one, rules out the "
                    "fused CPU kernel).",
    "pytorch-fsdp2": "PyTorch torch/distributed/fsdp/_fully_shard/ (torch 2.13): _fsdp_param.py (dim-0 torch.chunk "
                     "sharding padded to W·⌈d0/W⌉ rows), _fsdp_collectives.py (foreach_all_gather output, "
                     "foreach_reduce: reduce-scatter input padded in reduce_dtype, output cast to the sharded dtype), "
                     "_fsdp_param_group.py (wait_for_unshard keeps the previous group's all-gather output until the "
                     "next copy-out in forward; one-group backward prefetch; reduce_scatter_states keeps one "
                     "reduce-scatter input), _fsdp_state.py (root's post-forward frees the last all-gather output); "
                     "measured per rank in tests/data/dist_calib.jsonl (FSDPMemTracker, fake process group).",
    "pytorch-tp": "PyTorch torch/distributed/tensor/parallel/style.py (ColwiseParallel shards the weight's output "
                  "dim, RowwiseParallel the input dim and all-reduces the output) and transformers' "
                  "base_model_tp_plan; measured per rank in tests/data/tp_calib.jsonl (MemTracker, fake process "
                  "group).",
    "pytorch-ddp": "PyTorch DistributedDataParallel docs (gradient_as_bucket_view: 'gradients will be views pointing "
                   "to different offsets of allreduce communication buckets ... the saved memory size will be equal "
                   "to the total gradients size'); torch/csrc/distributed/c10d/reducer.cpp (initialize_buckets).",
    "deepspeed-zero-config": "deepspeedai/DeepSpeed deepspeed/runtime/zero/config.py (defaults: reduce_bucket_size "
                             "5e8, allgather_bucket_size 5e8, stage3_prefetch_bucket_size 5e7, "
                             "stage3_max_live_parameters 1e9, stage3_param_persistence_threshold 1e5 elements) and "
                             "stage_1_and_2.py / stage3.py (ipg buffer of reduce_bucket_size elements when "
                             "contiguous_gradients).",
    "hf-starcoder2": "huggingface/transformers src/transformers/models/starcoder2/modeling_starcoder2.py "
                     "(LayerNorm, use_bias projections, c_fc/c_proj GELU MLP, residual_dropout), v5.23.0.",
    "hf-glm4": "huggingface/transformers src/transformers/models/glm4/modeling_glm4.py (fused gate_up_proj, "
               "post_self_attn_layernorm and post_mlp_layernorm, partial interleaved rotary ending in torch.cat), "
               "v5.23.0.",
    "hf-glm4-moe": "huggingface/transformers src/transformers/models/glm4_moe/modeling_glm4_moe.py (sigmoid router "
                   "with e_score_correction_bias, shared experts, first_k_dense_replace dense layers), v5.23.0.",
    "hf-granitemoe": "huggingface/transformers src/transformers/models/granitemoe/modeling_granitemoe.py "
                     "(GraniteMoeTopKRouter: top-k logits, then softmax over the k; fused experts), v5.23.0.",
    "hf-nemotron": "huggingface/transformers src/transformers/models/nemotron/modeling_nemotron.py "
                   "(NemotronLayerNorm1P: layer_norm with weight + 1; relu2 MLP up_proj/down_proj; partial rotary "
                   "ending in torch.cat), v5.23.0.",
    "hf-gpt-bigcode": "huggingface/transformers src/transformers/models/gpt_bigcode/modeling_gpt_bigcode.py "
                      "(multi_query c_attn split, attention through ALL_ATTENTION_FUNCTIONS, resid/embd/attn "
                      "dropouts), v5.23.0.",
    "hf-cohere": "huggingface/transformers src/transformers/models/cohere/modeling_cohere.py (CohereLayerNorm in "
                 "fp32 ops, q/k cast to fp32 before the interleaved rotary, parallel attention and MLP, logits * "
                 "logit_scale), v5.23.0.",
    "hf-cohere2": "huggingface/transformers src/transformers/models/cohere2/modeling_cohere2.py (rotary only on "
                  "sliding-window layers), v5.23.0.",
    "hf-bloom": "huggingface/transformers src/transformers/models/bloom/modeling_bloom.py (word_embeddings_layernorm, "
                "build_alibi_tensor, baddbmm attention on reshaped head copies, dropout_add, BloomGelu), v5.23.0.",
    "hf-mpt": "huggingface/transformers src/transformers/models/mpt/modeling_mpt.py (build_mpt_alibi_tensor in fp32, "
              "masked_fill of a bool mask, softmax of .float() scores, bias-free LayerNorms and linears), v5.23.0.",
    "hf-gptj": "huggingface/transformers src/transformers/models/gptj/modeling_gptj.py (per-layer embed_positions "
               "buffer repeated and gathered, rotate_every_two, fp32 scores in _attn, parallel block), v5.23.0.",
    "hf-granite": "huggingface/transformers src/transformers/models/granite/modeling_granite.py "
                  "(embedding_multiplier, residual_multiplier, logits / logits_scaling), v5.23.0.",
    "hf-smollm3": "huggingface/transformers src/transformers/models/smollm3/modeling_smollm3.py (use_rope = "
                  "no_rope_layers[layer_idx]: NoPE layers), v5.23.0.",
    "hf-exaone4": "huggingface/transformers src/transformers/models/exaone4/modeling_exaone4.py (post-attention and "
                  "post-feedforward norms, q/k norms, rotary only on sliding layers), v5.23.0.",
    "hf-phi": "huggingface/transformers src/transformers/models/phi/modeling_phi.py (parallel attention and MLP "
              "on one input_layernorm, partial rotary, dense/fc1/fc2 with biases, lm_head bias), v5.23.0.",
    "hf-stablelm": "huggingface/transformers src/transformers/models/stablelm/modeling_stablelm.py (LayerNorm, "
                   "partial rotary with torch.cat, sequential or parallel residual), v5.23.0.",
    "hf-olmo": "huggingface/transformers src/transformers/models/olmo/modeling_olmo.py (OlmoLayerNorm: "
               "F.layer_norm(x.float(), no weight or bias).to(dtype)), v5.23.0.",
    "hf-phimoe": "huggingface/transformers src/transformers/models/phimoe/modeling_phimoe.py, v5.23 "
                 "(PhimoeDecoderLayer nn.LayerNorm, sparsemixer top-2 router, PhimoeExperts grouped_mm, "
                 "lm_head_bias).",
    "hf-ernie4_5_moe": "huggingface/transformers src/transformers/models/ernie4_5_moe/modeling_ernie4_5_moe.py, "
                       "v5.23 (Ernie4_5_MoeTopKRouter fp32 with moe_statics correction bias, shared_experts, "
                       "moe_layer_start_index/end_index/interval, _keep_in_fp32_modules_strict).",
    "hf-llama4": "huggingface/transformers src/transformers/models/llama4/modeling_llama4.py, v5.23 "
                 "(Llama4TextMoe: Llama4Router top-k + sigmoid, hidden_states.repeat over experts, torch.bmm "
                 "Llama4TextExperts, shared_expert; Llama4TextAttention: complex rotary, Llama4TextL2Norm, "
                 "attn_temperature_tuning, chunked attention; Llama4TextConfig no_rope_layers, moe_layers).",
    "hf-ernie4_5": "huggingface/transformers src/transformers/models/ernie4_5/modeling_ernie4_5.py "
                   "(apply_rotary_pos_emb: repeat_interleave'd fp32 cos/sin, q.float() products), v5.23.0.",
    "pytorch-memtracker": "PyTorch torch/distributed/_tools/mem_tracker.py (MemTracker: live tensor bytes per "
                          "category, peak snapshot) run under torch._subclasses.fake_tensor.FakeTensorMode, the "
                          "method of the shared truth generator (generate_truth.py).",
    "pytorch-optim": "PyTorch torch/optim/sgd.py and adamw.py (_multi_tensor_* foreach paths: momentum_buffer, "
                     "exp_avg, exp_avg_sq in the parameter dtype, a float32 step tensor per parameter, "
                     "_foreach_sqrt temporary).",
    "hf-cache": "huggingface/transformers src/transformers/cache_utils.py (DynamicLayer.update: torch.cat of the "
                "old and new keys/values; DynamicSlidingWindowLayer keeps sliding_window - 1 tokens).",
    "hf-masks": "huggingface/transformers src/transformers/masking_utils.py (_ignore_causal_mask_sdpa: no mask "
                "tensor for causal SDPA unless a sliding window is reached; eager_mask: b x 1 x q x kv float).",
    "hf-moe": "huggingface/transformers src/transformers/integrations/moe.py (grouped_mm_experts_forward: "
              "sort by expert, gather, grouped [gate; up] and down matmuls, weighting, re-order, sum over top-k).",
    "hf-loss": "huggingface/transformers src/transformers/loss/loss_utils.py (ForCausalLMLoss: logits.float(), "
               "cross_entropy = log_softmax + nll_loss).",
    "korthikanti2022": "Korthikanti et al. 2022, Reducing Activation Recomputation in Large Transformer Models "
                       "(arXiv 2205.05198), sec. 4.1: activations per layer s·b·h·(34 + 5·a·s/h) bytes in 16-bit.",
    "rajbhandari2020": "Rajbhandari et al. 2020, ZeRO (arXiv 1910.02054), sec. 3.1: mixed-precision Adam holds "
                       "16 bytes per parameter (2 weights + 2 gradients + 12 fp32 master, momentum, variance).",
    "loshchilov2019": "Loshchilov and Hutter 2019, Decoupled Weight Decay Regularization (AdamW): two moment "
                      "estimates per parameter; PyTorch torch/optim/adamw.py keeps them in the parameter dtype.",
    "chen2016": "Chen et al. 2016, Training Deep Nets with Sublinear Memory Cost (arXiv 1604.06174): keep layer "
                "inputs, recompute each layer in backward; torch.utils.checkpoint (non-reentrant).",
    "chen2023-lion": "Chen et al. 2023, Symbolic Discovery of Optimization Algorithms (Lion, arXiv 2302.06675): "
                     "one momentum state per parameter.",
    "shazeer2018": "Shazeer and Stern 2018, Adafactor (arXiv 1804.04235): factored second moments (row and "
                   "column statistics) for matrices.",
    "dettmers2022": "Dettmers et al. 2022, 8-bit Optimizers via Block-wise Quantization (arXiv 2110.02861); "
                    "bitsandbytes paged optimizers keep states in CUDA unified memory.",
    "kwon2023-vllm": "Kwon et al. 2023, Efficient Memory Management for LLM Serving with PagedAttention (vLLM, "
                     "arXiv 2309.06180): KV cache in fixed-size blocks (16 tokens); vllm-project/vllm#10511 memory "
                     "profiling log (Llama-3-8B, H100, TP1: total 79.22 GiB, util 0.90, weights 14.96, non_torch "
                     "1.79, activation peak 1.26, KV 53.29 GiB); vLLM logs 'Estimated CUDA graph memory: 0.36 / "
                     "0.73 GiB'.",
    "pytorch-cuda-alloc": "PyTorch CUDA caching allocator (c10/cuda/CUDACachingAllocator.cpp): 512-byte rounding, "
                          "2 MiB / 20 MiB segments, reserved > allocated by fragmentation; pytorch/pytorch#40989 "
                          "(peak allocated 15006 MB, peak reserved 16726 MB: +11%).",
    "cuda-context": "CUDA context (driver, loaded kernels, cuBLAS workspace) outside PyTorch's allocator: "
                    "pytorch/pytorch#107667 (ptrblck, 2023: ~300 MB with lazy module loading since CUDA 11.7, "
                    ">1000 MB before) and #28113 (200+ to 700+ MB by machine); llmsize uses 500 MiB.",
    "llamacpp-compute": "ggml-org/llama.cpp@0c1e57098 src/llama-context.cpp (sched_reserve/graph_reserve: the "
                        "pp graph of min(n_ctx, n_ubatch) tokens, n_seq_max sequences, full KV) and "
                        "ggml/src/ggml-alloc.c (ggml_gallocr: inputs first, best-fit free list, parents freed "
                        "after their last child, in-place reuse for ggml_op_can_inplace ops); checked on "
                        "tests/data/llamacpp_buffers.jsonl.",
    "llamacpp-context": "ggml-org/llama.cpp@0c1e57098 src/llama-context.cpp llama_context::llama_context "
                        "(n_ctx = GGML_PAD(n_ctx, 256); n_ctx_seq = pad(n_ctx / n_seq_max, 256) unless kv_unified; "
                        "n_batch = min(n_ctx, n_batch); n_ubatch = min(n_batch, n_ubatch); output_reserve) and "
                        "src/llama-kv-cache-iswa.cpp (SWA cells = pad(min(size, n_swa·(np if unified) + n_ubatch), "
                        "256)).",
    "llamacpp-kv": "ggml-org/llama.cpp@0c1e57098 src/llama-kv-cache.cpp llama_kv_cache::llama_kv_cache (per layer "
                   "K, V = ggml_new_tensor_3d(type, n_embd_k/v_gqa, kv_size, n_stream); one stream per sequence "
                   "unless unified; buffer per device).",
    "llamacpp-model-buffers": "ggml-org/llama.cpp@0c1e57098 src/llama-model.cpp load_tensors (mmap: "
                              "ggml_backend_dev_buffer_from_host_ptr over the file range of the buffer's tensors; "
                              "else ggml_backend_alloc_ctx_tensors_from_buft, tensors padded to the buffer "
                              "alignment: CPU 32, CUDA 128 with one 512-value row pad per quantized tensor, "
                              "ggml-cuda.cu get_alloc_size) and src/llama-model-loader.cpp (host buffer replaced "
                              "by CPU under mmap).",
    "llamacpp-repack": "ggml-org/llama.cpp@0c1e57098 ggml/src/ggml-cpu/repack.cpp "
                       "ggml_repack_get_optimal_repack_type (x86: Q4_0, Q4_K, IQ4_NL, MXFP4 with AVX2 and Q2_K with "
                       "AVX-512, ne[1] % 8 == 0) and extra_buffer_type::supports_op (2-D MUL_MAT weights).",
    "llamacpp-offload": "ggml-org/llama.cpp@0c1e57098 src/llama-model.cpp load_tensors (i_gpu_start = "
                        "max(n_layer + 1 - ngl, 0); output layer on the GPU when ngl > n_layer; input layer on the "
                        "CPU); common/common.h fit_params_target 1024 MiB; ggml-cuda.cu offload_op (batches >= "
                        "GGML_OP_OFFLOAD_MIN_BATCH = 32 run on the GPU).",
    "llamacpp-split": "ggml-org/llama.cpp src/llama-model.cpp load_tensors (splits = cumulative -ts normalised; "
                      "layer il of n_layer + 1 slots on upper_bound(splits, il/act_gpu_layers); the output layer "
                      "is slot n_layer; the input layer on the CPU), src/llama-context.cpp (pipeline_parallel when "
                      "n_devices > 1, every layer offloaded, -sm layer, KV offloaded, no tensor overrides) and "
                      "ggml/src/ggml-backend.cpp (n_copies = GGML_SCHED_MAX_COPIES = 4 under pipeline parallelism: "
                      "each split's inputs copied per copy as graph leafs, allocated first, kept).",
    "megatron-args": "NVIDIA/Megatron-LM megatron/training/arguments.py @d98e8a64 (add_megatron_arguments, flags "
                     "generated from TransformerConfig/TrainingConfig by ArgumentGroupFactory); recorded in "
                     "llmsize/export/megatron_flags.py by scripts/refresh_megatron_flags.py.",
    "torchao-float8": "pytorch/ao torchao/float8/float8_linear.py @7ca1bfbe (matmul_with_hp_or_float8_args: saves "
                      "the high-precision input and weight, casts input/weight to e4m3 in forward, grad_output to "
                      "e5m2 twice and weight/input again in backward) and torchao/float8/fsdp_utils.py (float8 "
                      "all-gather of FSDP2 weights); torchtitan docs/float8.md (linears except the output head).",
    "torchtitan-config": "pytorch/torchtitan torchtitan/config/job_config.py @v0.2.2 (73a0e697; JobConfig: job, model, "
                         "training, parallelism, activation_checkpoint, quantize.linear.float8), the last release that "
                         "reads TOML (#2386 replaced it by a Python registry); recorded in "
                         "llmsize/export/torchtitan_fields.py.",
    "vllm-batch-defaults": "vllm-project/vllm vllm/engine/arg_utils.py EngineArgs.get_batch_defaults and "
                           "_set_default_max_num_seqs_and_batched_tokens_args (V1): `vllm serve` "
                           "(OPENAI_API_SERVER) defaults to max_num_batched_tokens 2048 and max_num_seqs 256, "
                           "or 8192 and 1024 where the device has at least 70 GiB and its name lacks 'a100' "
                           "(PR 17885); then T = min(T, max_num_seqs x max_model_len), seqs = min(seqs, T); "
                           "gpu_model_runner.profile_run runs T tokens and the sampler over the seqs.",
    "vllm-worker": "vllm-project/vllm@35d5cda1 vllm/v1/worker/gpu_worker.py (determine_available_memory: "
                   "requested = total x gpu_memory_utilization; memory_profiling of profile_run -> weights, "
                   "torch_peak_increase, non_torch_increase; CUDA graph estimate subtracted by default since "
                   "v0.21) and vllm/v1/core/kv_cache_utils.py (hybrid KV groups of equal layer count).",
}


def cite(key: str) -> str:
    """The citation text of `key`; a missing key is a programming error."""
    return SOURCES[key]
