"""Family traits: what a model family's Hugging Face code does that its config does not say (leaf names,
norm and rotary details, the order and lifetime of tensors in its forward). Each family module in
llmsize.families sets them; the formulas read these flags, never the model type.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

LLAMA_LEAVES: tuple[tuple[str, str], ...] = (
    ("attn_q", "q_proj"), ("attn_k", "k_proj"), ("attn_v", "v_proj"), ("attn_output", "o_proj"),
    ("ffn_gate", "gate_proj"), ("ffn_up", "up_proj"), ("ffn_down", "down_proj"))
LoraAllLinear = Literal["linears", "attention+experts", "attention", "linears+shared_gate", "linears+router",
                        "mixers+experts+shared_gate"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Traits:
    """What a model family's code does that its config does not say: leaf names, the order and
    lifetime of tensors in the Hugging Face forward. Set by the family module (llmsize.families);
    the formulas read these flags, never the model type. Defaults are the Llama code."""

    family: str = "llama"  # the llmsize family module that read the config
    source: str = "hf-llama"  # citation key of the family's modeling code (llmsize.sources)
    gguf_arch: str = ""  # llama.cpp architecture name ("" = none the quantization rules single out)
    assumed: bool = False  # read with another family's reader because the user passed --assume
    leaves: tuple[tuple[str, str], ...] = LLAMA_LEAVES  # tensor role -> nn.Linear leaf name (LoRA targets)
    router_leaf: str = "gate"  # MoE router module name
    norm_plus_one: bool = False  # Gemma RMSNorm: x * (1 + w), the weight product in fp32 (then cast)
    norm_weight_fp32: bool = False  # OLMo RMSNorm: (w * x_fp32).to(dtype), the weight product in fp32
    layernorm_fp32: bool = False  # OLMo 1: layer_norm(x.float()).to(dtype)
    # pre: norm -> branch -> add (Llama); sandwich: norm -> branch -> norm -> add (Gemma 2/3);
    # post: branch -> norm -> add (OLMo 2/3); post_add: branch -> add -> norm (BERT's post-LN)
    norm_placement: Literal["pre", "sandwich", "post", "post_add"] = "pre"
    # Encoders (BERT, RoBERTa): bidirectional attention, no KV cache, nothing to generate
    encoder: bool = False
    embed_norm: bool = False  # BERT: LayerNorm (and dropout) on the summed word + type + position embeddings
    mlm_head: bool = False  # BERT: dense d -> d, activation, LayerNorm before the (tied) vocabulary projection
    loss_fp32: bool = True  # HF loss_function upcasts logits; BERT's CrossEntropyLoss runs in the logits' dtype
    index_buffers: int = 0  # int64 buffers of max_position_embeddings entries (BERT position_ids, token_type_ids)
    position_ids_from_tokens: bool = False  # RoBERTa: positions = cumsum(ids != pad) + pad, per row
    first_attn_norm: bool = True  # ModernBERT: layer 0 has no attention norm (nn.Identity)
    # T5: an encoder stack and a decoder stack with cross-attention, replayed whole (llmsize.memory.t5)
    encoder_decoder: bool = False
    scale_decoder_output: bool = False  # T5 v1.0 (tied config): sequence_output * d^-0.5 before the head
    embed_scale: bool = False  # embeddings * a scalar, rebinding inputs_embeds (Gemma sqrt(d), Granite)
    # ... in the model body, after the embedding module: under LoRA + checkpointing the module's own output
    # (made to require grad by enable_input_require_grads) is a tensor apart from the first layer's input
    embed_scale_in_body: bool = False
    normalizer_buffer: bool = False  # Gemma keeps sqrt(d) as a bf16 scalar buffer
    residual_scale: bool = False  # Granite: residual + branch * residual_multiplier (a tensor per branch)
    logits_scale: bool = False  # Granite: logits / logits_scaling (a tensor of the logits' size)
    rope_fp32: bool = False  # OLMo 2/3: cos/sin stay fp32, rotary products fp32, cast back to q's dtype
    rope_interleaved_fp32: bool = False  # Ernie 4.5: interleaved cos/sin per call, fp32 products
    rope_float_first: bool = False  # Cohere: q, k cast to fp32 first, rotary on even/odd pairs in fp32
    layernorm_ops_fp32: bool = False  # Cohere: LayerNorm written out in fp32 ops (mean, sub, pow, rsqrt, mul)
    rope_upcast: bool = False  # ModernBERT: q.float() and k.float() (twice each) into the rotary, cast back
    rope_per_layer_type: bool = False  # OLMo 3: cos/sin tables and inv_freq per layer type (sliding, full)
    # the block program replayed: the decoder of layers.py, memory.alibi_block (bloom, mpt), memory.gptj_block
    layer_code: Literal["decoder", "bloom", "mpt", "gptj", "mamba2"] = "decoder"
    sinusoid_buffers: bool = False  # GPT-J: each attention keeps an fp32 max_pos x d_rot sin/cos buffer
    mask_saved: bool = False  # the attention mask is saved for backward (masked_fill: MPT)
    eager_only: bool = False  # transformers has no SDPA path for the family: its eager code runs (BLOOM)
    word_embed_norm: bool = False  # a LayerNorm on the word embeddings (BLOOM's word_embeddings_layernorm)
    causal_mask_buffer: bool = False  # GPT-BigCode: a bool n_positions x n_positions buffer (`bias`)
    rope_tables_per_call: bool = False  # GLM-4: cos/sin re-interleaved per layer (1 x q x rot copies, saved)
    rope_cat: bool = False  # q, k reach attention contiguous (b, n, s, d): rotary (or MLA) ends in torch.cat
    # MLA rotary as DeepSeek-V2 writes it: one complex64 freqs_cis table (q x d_rope/2), q_pe/k_pe upcast to
    # fp32, viewed as complex, multiplied, cast back (type_as)
    rope_complex: bool = False
    router_scale_tensor: bool = False  # MoE: top-k weights * routed_scaling_factor, a new fp32 tensor (V2)
    # MLA whose serving engines (llama.cpp, vLLM) cache the expanded per-head K and V, not the latent (MiniCPM3);
    # transformers caches the latent for every MLA family
    mla_expanded_serving: bool = False
    hidden_prescale: bool = False  # MiniCPM: final hidden / (d / dim_model_base) before the LM head (a copy)
    q_prescale: bool = False  # OPT: q_proj(h) * scaling as its own tensor
    mlp_inline: bool = False  # OPT: the MLP rebinds the norm output's variable (it dies at fc1)
    keeps_attn_output: bool = False  # GPT2Block keeps `attn_output` alive to the end of the block
    gated_mlp_dropout: bool = False  # Seed-OSS: the residual dropout also follows the gated MLP
    qk_norm_after_rope: bool = False  # HunYuan: q/k norms applied to the rotated q, k
    keeps_norm_output: bool = False  # StableLM: the input norm's output stays bound to the end of the layer
    eager_softmax_fp32: bool = True  # transformers' eager upcasts scores to fp32 (GPT-2's own does not)
    position_ids_per_row: bool = False  # OPT: position ids and learned positions are b x q, not 1 x q
    routing_fp32: bool = False  # Mixtral keeps the top-k routing weights in fp32
    router_fp32: bool = False  # MoE router: F.linear(x.float(), weight.float()) (DeepSeek-V3, GLM-4.5)
    shared_expert_last: bool = False  # MoE: shared experts run after the routed ones, on the kept input (GLM-4.5)
    lora_experts: bool = True  # MoE router and fused experts are peft targets ("gate", "experts")
    # the MoE router's code: softmax then top-k (Mixtral, Qwen-MoE); topk_softmax: top-k of the logits,
    # softmax over k (gpt-oss; _fp32: of the logits' fp32 copy, GraniteMoE); sparsemixer: Phi-3.5-MoE's two
    # masked softmaxes over the model-dtype logits (top-2 always); ernie: fp32 linear, fp32 softmax, top-k
    # over probs + correction bias, gather, renormalise; llama4: top-k logits, sigmoid, every expert runs
    router_kind: Literal["softmax", "topk_softmax", "topk_softmax_fp32", "sparsemixer", "ernie", "llama4"] = "softmax"
    router_weight_fp32: bool = False  # the router weight (and correction bias) stay fp32 in a bf16 model (ERNIE)
    qk_l2_norm: bool = False  # Llama 4: q, k L2-normalised in fp32 on the rotary layers (use_qk_norm)
    attn_temperature: bool = False  # Llama 4: q scaled per position on the NoPE layers (attn_temperature_tuning)
    rope_complex: bool = False  # Llama 4: rotary as a complex product on fp32 copies of q and k
    rope_half_tables: bool = False  # gpt-oss: cos and sin over d_rot / 2 (emb = freqs, no cat)
    chunked_mask: bool = False  # Llama 4: the chunked-attention mask is per batch row (b x 1 x q x kv bool)
    lora_all_linear: LoraAllLinear = "linears"  # what peft's "all-linear" resolves to
    lora_default: tuple[str, ...] | None = None  # `--lora-r` without --lora-targets: these, else q and v
    # How a fused [q; k; v] output is split. view: slices of it (NeoX, Phi-3); index: q a slice, k and v
    # index copies (Falcon multi-query, fused_qkv[..., [-2], :]); index_expand: per KV group, q a flatten
    # copy, k and v index copies broadcast to every query head and flattened (copies): k, v and the
    # cache then have num_heads heads (Falcon's new decoder architecture).
    qkv_split: Literal["view", "index", "index_expand"] = "view"
    sdpa_direct: bool = False  # the family's code calls torch SDPA on its heads as they are (no repeat_kv)
    mask_always: bool = False  # the causal mask is materialised even for SDPA (allow_is_causal_skip=False)
    parallel_norms_first: bool = False  # parallel block: both norms run before the attention (Falcon-40B)
    parallel_add_inplace: bool = False  # parallel block: mlp_output += attention_output (in place)

    def leaf(self, role: str) -> str:
        return dict(self.leaves).get(role, role)
