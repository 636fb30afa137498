"""llama.cpp's compute buffer: the peak of ggml's graph allocator over the worst-case prompt graph.

llama.cpp reserves the compute buffer once (llama_context::sched_reserve -> graph_reserve) for a ubatch of
n_tokens = min(n_ctx, n_ubatch) tokens over n_seq_max sequences with one output per token and the KV
cache at full size (llama_kv_cache_context: n_kv = cache size). ggml-alloc.c (ggml_gallocr) then walks
the graph in order: graph inputs (token ids, positions, the KQ mask) are allocated first, every node gets
a block from a best-fit free list, a parent is freed after its last child, and element-wise ops (ADD,
MUL, RMS_NORM, ROPE, SOFT_MAX, UNARY, SCALE) reuse their parent's block in place. The buffer is the
allocator's high-water mark, so it is the largest set of tensors alive at one time. For a decoder
that set is one of:

* output: the logits [n_vocab, n_tokens] f32 and the final-norm activations (two [d, T] f32 alive:
  the residual stream and its normalised copy);
* attention without flash attention: KQ [n_kv, T, n_head] f32 (soft_max runs in place on it), the KQ
  mask [n_kv, T] f32, Q [n_head·d_k, T] and the new K, V rows, with the residual stream and the
  normalised input alive; with flash attention (GGML_OP_FLASH_ATTN_EXT) no KQ is materialised and the
  mask is f16;
* feed-forward: gate, up and their product [d_ff, T] f32 with the residual stream.

Non-unified KV over s sequences splits the tokens into s streams of T/s, each attending to its own
n_ctx_seq cells, so KQ = n_ctx_seq · T · n_head · 4 in all. Sliding-window layers attend to the SWA
cache's cells. The terms are checked against llama.cpp's own reserved sizes in
tests/data/llamacpp_buffers.jsonl (CPU backend): within 5% on every measured row."""
from __future__ import annotations

from dataclasses import dataclass

from llmsize.engines.llamacpp import LlamaParams, contexts
from llmsize.errors import LlmsizeError
from llmsize.spec import ModelSpec

F32 = 4


@dataclass(frozen=True, slots=True)
class Compute:
    """The compute buffer and the phase that sets it (each phase's live bytes)."""

    output: int
    attention: int
    ffn: int
    inputs: int  # token ids, positions, output ids and the KQ mask(s): the graph inputs

    @property
    def total(self) -> int:
        return max(self.output, self.attention, self.ffn)

    @property
    def phase(self) -> str:
        return max((("output", self.output), ("attention", self.attention), ("ffn", self.ffn)),
                   key=lambda kv: kv[1])[0]


def compute_buffer(spec: ModelSpec, p: LlamaParams) -> Compute:
    """The compute buffer llama.cpp reserves on one backend running the whole graph.

    T = min(n_ctx, n_ubatch) (a multiple of n_seq_max), X = d·T·4
    output    = V·T·4 + 2X   (last MoE layer with shared experts: see _below_logits)
    attention = n_kv·T·n_h·4 (no FA) + mask(n_kv·T·(2 FA | 4)) + (n_h·d_k + 2·n_kv_h·d_k)·T·4 + 2X
                (MLA: n_h·(2·d_k + 2·r + d_rope)·T·4 for the queries)
    ffn       = 3·d_ff·T·4 + 2X   (MoE: 3·k·n_ff_exp·T·4 + k·d·T·4 + X, and attention + k·n_ff_exp·T·4
                                   unless MLA: the expert block freed before the next layer's KQ)
    buffer    = max(output, attention, ffn)

    Source: llamacpp-compute"""
    if spec.ssm is not None:
        raise LlmsizeError(f"{spec.name}: llama.cpp's recurrent-state (r/s) and state-space compute buffers are not "
                           f"modelled by llmsize; the llama.cpp view covers attention-only models")
    c = contexts(spec, p)
    seqs = p.n_seq_max
    t = -(-min(c.n_ctx, c.n_ubatch) // seqs) * seqs
    x = spec.hidden_size * t * F32
    a = spec.attention
    sliding = spec.sliding_window is not None and "sliding" in spec.layer_types
    full = any(spec.layer_type(i) != "sliding" for i in range(spec.num_layers))
    n_kv = c.kv_size if full or not sliding else c.swa_size
    mask_el = 2 if p.flash_attn else F32
    masks = [n_kv] + ([c.swa_size] if sliding and full else [])
    mask = sum(m * t * mask_el for m in masks)
    small = 3 * t * 4  # token ids, positions, output ids (int32)
    if a.mla and not spec.traits.mla_expanded_serving:  # absorbed MLA (deepseek2): attention runs over the latent cache, K = [r + rope], V = K[:r]
        r = a.kv_lora_rank or 0
        # q and its roped copy (n_h·(nope+rope)), q_nope·W_kb in the latent (n_h·r), the concatenated
        # latent query (n_h·(r+rope)); the peak is at that concat, before KQ. With flash attention the
        # latent output (n_h·r) and W_vb's (n_h·d_v) come after the queries are freed, below that peak
        qkv = a.num_heads * (2 * a.head_dim + r + r + a.qk_rope_head_dim) * t * F32
    else:
        qkv = (a.num_heads * a.head_dim + 2 * a.num_kv_heads * a.head_dim) * t * F32
    kq = 0 if p.flash_attn else n_kv * t * a.num_heads * F32
    if spec.moe:  # build_moe_ffn: MUL_MAT_ID writes [n_ff_exp, k, T] per projection, [d, k, T] for down
        ff = spec.moe.expert_intermediate_size * spec.moe.top_k
        # gate, up and their product [n_ff_exp, k, T] plus the chosen experts' down outputs [d, k, T]
        # (summed over k only afterwards) with the residual ffn_inp
        ffn = 3 * ff * t * F32 + spec.hidden_size * spec.moe.top_k * t * F32 + x
        # ASSUMES: the block the previous MoE layer's expert activations [n_ff_exp, k, T] leave free is
        # below the attention phase's KQ block and not reused by it, so it counts in that phase's peak
        # (qwen3moe: every run peaking at attention was short by exactly k·n_ff_exp·T·4 without it); the
        # absorbed-MLA graph refills that hole with its latent-query tensors, so MLA does not add it
        hole = 0 if a.mla else ff * t * F32
    else:
        ffn, hole = 3 * spec.mlp.intermediate_size * t * F32 + 2 * x, 0
    return Compute(output=spec.vocab_size * t * F32 + _below_logits(spec, t) + small,
                   attention=kq + mask + qkv + 2 * x + hole + small,
                   ffn=ffn + mask + small,
                   inputs=mask + small + x)


def _below_logits(spec: ModelSpec, t: int) -> int:
    """Where the logits start: the bytes the allocator holds below them when result_output is placed.

    Dense or MoE without shared experts: the embeddings input and the final-norm block, 2X. A last MoE
    layer with shared experts keeps ffn_norm alive through the routed experts (the shared expert reads it
    afterwards), so no X-sized hole is left low and the expert-sum block (moe_out, X) lands above the
    expert stack; the logits, larger than any hole below, go on top of it:
      base  = 3X (inp_embd, ffn_inp, ffn_norm) + 3·E·T·4 (router logits, biased probs, argsort)
      F     = k·n_ff_exp·T·4 (gate, up, their product), D = k·d·T·4 (the experts' down outputs)
      below = base + 2F + X  if D <= 2F (down refills gate+up, moe_out takes the product's block)
              base + X       otherwise (down goes on top; gate, up and product merge below moe_out)

    Source: llamacpp-compute"""
    x = spec.hidden_size * t * F32
    m = spec.moe
    if m is None or not m.shared_intermediate_size or not spec.is_moe_layer(spec.num_layers - 1):
        return 2 * x
    # ASSUMES: ggml-alloc best fit as traced for tiny-deepseek2 (GGML_ALLOCATOR_DEBUG): result_output
    # lands directly above moe_out of the last layer; the D > 2F branch is the same rule, not measured
    f, d = m.top_k * m.expert_intermediate_size * t * F32, m.top_k * spec.hidden_size * t * F32
    base = 3 * x + 3 * m.num_experts * t * F32
    return base + (2 * f if d <= 2 * f else 0) + x
