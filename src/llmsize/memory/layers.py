"""Decoder layers, embeddings and the head of each model family, replayed on a `Sim`.

The program is the Hugging Face pre-norm decoder, shaped by the spec's facts (norm kind, parallel
residual, dropout rates and soft-caps read from the config) and the family traits (llmsize.families:
sandwich norms, scaled embeddings, what the forward keeps alive). No model type is tested here.

Source: hf-llama
"""
from __future__ import annotations

from dataclasses import replace

from llmsize.memory.alibi_block import bloom_layer, mpt_layer
from llmsize.memory.attention import attention
from llmsize.memory.gptj_block import gptj_layer
from llmsize.memory.llama4_block import llama4_moe
from llmsize.memory.blocks import (F32, Cx, cast, dropout, gated_mlp, layernorm, layernorm_ops_fp32, linear,
                                   plain_mlp, rmsnorm)
from llmsize.memory.blocks import add_promoted as _add
from llmsize.memory.blocks import scaled as _scaled
from llmsize.memory.moe import moe_block
from llmsize.memory.sim import Sim, Tn
from llmsize.memory.ssm_mixer import mixer as ssm_mixer

def norm(g: Sim, cx: Cx, x: Tn) -> Tn:
    """The family's normalisation over d."""
    s, d = cx.spec, cx.spec.hidden_size
    if s.norms.kind == "layernorm" and s.traits.layernorm_fp32:  # OLMo 1: in fp32, cast back
        x32 = cast(g, x, cx.T * d * F32)
        o32 = layernorm(g, cx, x32, d, cx.train_base and s.norms.affine, s.norms.bias)
        g.drop(x32)
        out = cast(g, o32, x.nb)
        g.drop(o32)
        return out
    if s.norms.kind == "layernorm" and s.traits.layernorm_ops_fp32:
        return layernorm_ops_fp32(g, cx, x, d, cx.train_base)
    if s.norms.kind == "layernorm":
        return layernorm(g, cx, x, d, cx.train_base, s.norms.bias)
    return rmsnorm(g, cx, x, d, cx.train_base, gemma=s.traits.norm_plus_one or s.traits.norm_weight_fp32)


def mlp(g: Sim, cx: Cx, x: Tn, moe: bool) -> Tn:
    s = cx.spec
    if moe and s.traits.router_kind == "llama4":  # every expert on every token (torch.bmm)
        return llama4_moe(g, cx, x)
    if moe:
        return moe_block(g, cx, x)
    m = s.mlp
    t = s.traits
    if m.kind == "gated":  # the family's leaf names, so LoRA adapters land where peft puts them (LFM2: w1/w3/w2)
        return gated_mlp(g, cx, x, m.intermediate_size, m.fused_gate_up, m.activation, m.bias,
                         leaves=(t.leaf("ffn_gate"), t.leaf("ffn_up"), t.leaf("ffn_down")),
                         p_drop=s.hidden_dropout if t.gated_mlp_dropout else 0.0)
    return plain_mlp(g, cx, x, m.intermediate_size, m.activation, (t.leaf("ffn_up"), t.leaf("ffn_down")),
                     s.hidden_dropout, consume=t.mlp_inline)


def layer(g: Sim, cx: Cx, x: Tn, moe: bool, mask: Tn | None,
          old: tuple[Tn, Tn] | None = None) -> tuple[Tn, Tn | None, Tn | None]:
    """One decoder layer on input x (T x d); the caller's handle on x is released at the end.
    Returns (output, cached keys, cached values)."""
    s, t = cx.spec, cx.spec.traits
    if t.layer_code == "bloom":
        return bloom_layer(g, cx, x, mask, old)
    if t.layer_code == "mpt":
        return mpt_layer(g, cx, x, mask, old)
    if t.layer_code == "gptj":
        return gptj_layer(g, cx, x, mask, old)
    if t.layer_code == "mamba2":
        from llmsize.memory.ssm_block import mamba2_block
        return mamba2_block(g, cx, x)
    if t.norm_placement == "post_add":  # BERT's post-LN encoder layer
        from llmsize.memory.encoder import encoder_layer
        return encoder_layer(g, cx, x, mask)
    if s.parallel_residual:
        return _parallel_layer(g, cx, x, mask, old)
    if cx.mixer == "hybrid":  # Falcon-H1: attention and a Mamba-2 mixer in parallel (states stay live)
        from llmsize.memory.hybrid import hybrid_layer

        return hybrid_layer(g, cx, x, mask, old, norm, mlp, _add)[:3]
    res = g.view(x)
    pre = t.norm_placement != "post"  # OLMo 2/3 normalise only the branch outputs
    h = norm(g, cx, x) if pre and not cx.first else g.view(x)  # ModernBERT layer 0: attn_norm is nn.Identity
    if cx.mixer == "ssm":  # its conv and SSM state stay live (the cache); run_layer counts them
        a, ck, cv = ssm_mixer(g, cx, h)[0], None, None
    else:
        a, ck, cv = attention(g, cx, h, mask, old)
    keep_h = h if t.keeps_norm_output else None
    if keep_h is None:
        g.drop(h)
    if s.hidden_dropout:  # resid_dropout (GPT-2, inside the attention) / dropout (OPT)
        a2 = dropout(g, cx, a, s.hidden_dropout)
        g.drop(a)
        a = a2
    keep_a = g.view(a) if t.keeps_attn_output else None  # GPT2Block keeps `attn_output` to the end
    if t.norm_placement != "pre":  # Gemma 2/3 sandwich, OLMo 2/3 post: a norm on the attention output
        a2 = norm(g, cx, a)
        g.drop(a)
        a = a2
    if t.residual_scale:
        a = _scaled(g, a)
    h2 = _add(g, res, a)
    g.drop(a, res)
    n = norm(g, cx, h2) if pre else g.view(h2)
    m = mlp(g, cx, n, moe)
    if not t.mlp_inline:  # OPT's MLP is inline: fc1's output took over the norm output's variable
        g.drop(n)
    if t.norm_placement != "pre":
        m2 = norm(g, cx, m)
        g.drop(m)
        m = m2
    if t.residual_scale:
        m = _scaled(g, m)
    out = _add(g, h2, m)
    g.drop(m, h2, keep_a, keep_h, x, *g.keep)
    g.keep.clear()
    return out, ck, cv


def _parallel_layer(g: Sim, cx: Cx, x: Tn, mask: Tn | None,
                    old: tuple[Tn, Tn] | None) -> tuple[Tn, Tn | None, Tn | None]:
    """GPT-NeoX: out = mlp(ln2(x)) + attn(ln1(x)) + x (dropout on both branches when configured).
    Falcon-40B runs both norms before the attention (`parallel_norms_first`) and adds the attention
    output into the MLP output in place (`parallel_add_inplace`).

    Source: hf-gpt-neox"""
    t = cx.spec.traits
    shared = cx.spec.norms.per_layer == 1  # Falcon-7B, Phi: one norm output feeds both branches
    h = norm(g, cx, x)
    n = norm(g, cx, x) if t.parallel_norms_first and not shared else None
    a, ck, cv = attention(g, cx, h, mask, old)
    keep_h = g.view(h) if t.keeps_norm_output else None  # Falcon: attention_layernorm_out to the end
    if not shared:
        g.drop(h)
    p = cx.spec.hidden_dropout
    if p:
        a2 = dropout(g, cx, a, p)
        g.drop(a)
        a = a2
    if n is None:
        n = h if shared else norm(g, cx, x)
    m = mlp(g, cx, n, False)  # the plain MLP applies the residual dropout itself
    g.drop(n)
    if t.parallel_add_inplace:  # mlp_output += attention_output: the same storage, nothing saved
        y = Tn(m.st, m.nb, m.rg or a.rg)
        m.st.refs += 1
        g.op((m, a), (y,))
    else:
        y = _add(g, m, a)
    g.drop(m)
    g.drop(a)
    out = _add(g, y, x)
    g.drop(y, x, keep_h, *g.keep)
    g.keep.clear()
    return out, ck, cv


def position_tables(cx: Cx) -> int:
    """Rotary cos and sin (1 x q x d_rot each, hidden-state dtype) and the int64 positions, made once
    per forward and used by every layer (saved by the rotary products in training).

    B_pos = 2 q d_rot w + q 8   (OPT: b q 8 position ids)

    Source: hf-llama"""
    s = cx.spec
    if s.traits.embed_norm and s.position == "learned":  # BERT: position ids die inside the embeddings module
        return 0
    ids = (cx.T if s.traits.position_ids_per_row else cx.q) * 8
    # ALiBi models make no position ids
    if s.position == "alibi" and s.traits.layer_code == "mpt":  # MPT: n_h x 1 x max_seq_len, fp32
        return s.attention.num_heads * s.max_position_embeddings * F32
    if s.position == "alibi":  # the ALiBi bias, (b n_h) x 1 x kv in the compute dtype
        return cx.b * s.attention.num_heads * cx.kv * cx.w
    if s.position != "rope" or s.traits.sinusoid_buffers:  # GPT-J gathers its tables inside each layer
        return ids
    a = s.attention
    if a.mla and s.traits.rope_complex:  # DeepSeek-V2: one complex64 freqs_cis, q x (d_rope / 2) x 8 bytes
        return cx.q * a.qk_rope_head_dim * 4 + ids
    rot = a.qk_rope_head_dim if a.mla else max(2, int(a.head_dim * s.rotary_fraction)) // 2 * 2
    rot = a.head_dim if rot == a.head_dim else rot  # the same number, kept as d_h in closed forms
    kinds = len(set(s.layer_types)) if s.traits.rope_per_layer_type and s.layer_types else 1
    rot = rot // 2 if s.traits.rope_half_tables else rot  # gpt-oss: tables over d_rot / 2
    return kinds * 2 * cx.q * rot * (F32 if s.traits.rope_fp32 else cx.w) + ids


def embed(g: Sim, cx: Cx) -> tuple[Tn, int, bool]:
    """Token (+ position) embeddings. Returns (x_0, bytes the model body keeps referenced besides x_0
    until it returns: inputs_embeds / position embeddings held by Python variables).

    Source: hf-llama"""
    s = cx.spec
    if s.traits.embed_norm and s.position == "learned":  # BERT: word + type + position embeddings, LayerNorm, dropout
        from llmsize.memory.encoder import encoder_embed
        return encoder_embed(g, cx)
    T, d, w = cx.T, s.hidden_size, cx.w
    g.new(position_tables(cx))
    if s.traits.embed_norm:  # ModernBERT: dropout(LayerNorm(tok_embeddings(ids))); no positions added
        from llmsize.memory.encoder import normed_embed
        return normed_embed(g, cx)  # kept: the caller counts them as held (inference) or saved (training)
    e = g.new(T * s.word_embed_dim * w, g.grad)
    g.op((), (e,), pgrad=s.vocab_size * s.word_embed_dim * w if cx.train_base else 0)
    t = s.traits
    if s.embed_dim:  # OPT-350m project_in
        e2 = linear(g, cx, e, s.word_embed_dim, d, "project_in")
        g.drop(e)
        e = e2
    if s.position == "learned":
        pos = g.new((T if t.position_ids_per_row else cx.q) * d * w)
        g.op((), (pos,), pgrad=(s.max_position_embeddings + s.position_offset) * d * w if cx.train_base else 0)
        x = _add(g, e, pos)
        if not s.embed_dropout:  # GPT-2 drops out the embeddings (embd_pdrop); OPT does not
            return x, e.nb + pos.nb, False
        x2 = dropout(g, cx, x, s.embed_dropout)
        g.drop(x)
        return x2, e.nb + pos.nb, False
    if t.word_embed_norm:  # BLOOM: word_embeddings_layernorm; inputs_embeds stays bound in the body
        x = layernorm(g, cx, e, s.word_embed_dim, cx.train_base, s.norms.bias)
        if e.st.saved:  # saved by the norm in training: counted once, with the saved activations
            g.drop(e)
            return x, 0, False
        return x, e.nb, False
    if t.embed_scale:  # Gemma's scaled embedding, Granite's embedding_multiplier: embedding * sqrt(d) inside the module
        x = g.new(e.nb, e.rg)
        g.op((e,), (x,))
        g.drop(e)
        return x, 0, True
    if s.embed_dropout and cx.training:  # StarCoder2: dropout(inputs_embeds); inputs_embeds stays bound in the body
        return dropout(g, cx, e, s.embed_dropout), e.nb, False
    return e, 0, True


def head(g: Sim, cx: Cx, x: Tn, mode: str) -> tuple[Tn, Tn | None, int]:
    """Final norm, LM head and (train) the loss: logits.float(), log_softmax, nll.

    mode "train": returns (loss, None, pre); "forward": (norm output, logits over all tokens, pre);
    "generate": logits of the last token only (logits_to_keep=1). `pre` is the peak before the LM head
    (while the model body still runs); g.peak is reset to measure the rest.

    Source: hf-loss"""
    s = cx.spec
    if s.traits.mlm_head:  # BERT: prediction-head transform, tied decoder + bias, CrossEntropyLoss
        from llmsize.memory.encoder import mlm_head
        return mlm_head(g, cx, x, mode)
    d, V = s.hidden_size, s.vocab_size
    hN = norm(g, cx, x) if s.norms.final else g.view(x)
    g.drop(x)
    if s.embed_dim:
        h2 = linear(g, cx, hN, d, s.word_embed_dim, "project_out")
        g.drop(hN)
        hN = h2
    pre, g.peak = g.peak, g.live
    sub = replace(cx, q=1) if mode == "generate" else cx
    # MiniCPM: hidden / (d / dim_model_base) on every position (before logits_to_keep); hN stays bound
    hs = _scaled(g, g.view(hN)) if s.traits.hidden_prescale else g.view(hN)
    logits = linear(g, sub, hs, s.word_embed_dim, V, "lm_head", s.lm_head_bias)
    if s.traits.logits_scale:  # Granite: logits / logits_scaling
        logits = _scaled(g, logits)
    if s.final_softcap is not None:  # final logit soft-capping: logits / cap -> tanh -> * cap
        t1 = g.new(logits.nb, logits.rg)
        g.op((logits,), (t1,))
        g.drop(logits)
        t2 = g.new(logits.nb, logits.rg)
        g.op((t1,), (t2,), (t2,))
        g.drop(t1)
        logits = g.new(t2.nb, t2.rg)
        g.op((t2,), (logits,))
        g.drop(t2)
    if mode != "train":
        g.drop(hs)  # a local of the forward, gone when it returns
        return hN, logits, pre
    rows = sub.T
    l32 = cast(g, logits, rows * V * F32)
    lsm = g.new(rows * V * F32, True)
    g.op((l32,), (lsm,), (lsm,))
    g.drop(l32)
    loss = g.new(F32, True)
    g.op((lsm,), (loss,))
    g.drop(lsm, logits, hN, hs)
    return loss, None, pre
