"""Encoder models (BERT, RoBERTa) replayed on a `Sim`: the post-LN layer, the embeddings with their
LayerNorm, and the masked-LM head with its loss. Chosen by traits (norm_placement "post_add",
embed_norm, mlm_head); no model type is tested here.

Symbols: T = b x s tokens, d hidden, f FFN width, V vocab, w bytes of the weights' dtype, c of the
compute dtype.

Source: hf-bert
"""
from __future__ import annotations

from llmsize.memory.attention import attention
from llmsize.memory.blocks import F32, Cx, act, act_kind, cast, dropout, layernorm, linear
from llmsize.memory.sim import Sim, Tn


def _add(g: Sim, a: Tn, b: Tn) -> Tn:
    y = g.new(max(a.nb, b.nb), a.rg or b.rg)
    g.op((a, b), (y,))
    return y


def _post_ln(g: Sim, cx: Cx, branch: Tn, res: Tn) -> Tn:
    """BertSelfOutput / BertOutput: LayerNorm(dropout(branch) + residual); the dropout output (in eval:
    the dense output itself) and the sum die when the LayerNorm returns (unless saved).

    h = LN(drop(y) + x): saves the sum (T d) and mean/rstd; the dropout noise (T d)."""
    dr = dropout(g, cx, branch, cx.spec.hidden_dropout)
    g.drop(branch)
    sm = _add(g, dr, res)
    out = layernorm(g, cx, sm, cx.spec.hidden_size, cx.train_base, cx.spec.norms.bias)
    g.drop(sm, dr)  # hidden_states (the dropout output, or the dense output in eval) lives through the norm
    return out


def encoder_layer(g: Sim, cx: Cx, x: Tn, mask: Tn | None) -> tuple[Tn, None, None]:
    """BertLayer: h = LN(x + drop(dense(attn(x)))); out = LN(h + drop(dense(act(dense(h))))).
    The layer input x stays bound (BertLayer's hidden_states) until the layer returns, h until the
    feed-forward chunk returns.

    Source: hf-bert"""
    s, t = cx.spec, cx.spec.traits
    a, _, _ = attention(g, cx, x, mask, None)
    h = _post_ln(g, cx, a, x)
    d, f = s.hidden_size, s.mlp.intermediate_size
    u = linear(g, cx, h, d, f, t.leaf("ffn_up"), s.mlp.bias)
    a2 = act(g, u, act_kind(s.mlp.activation))
    g.drop(u)
    m = linear(g, cx, a2, f, d, t.leaf("ffn_down"), s.mlp.bias)
    out = _post_ln(g, cx, m, h)  # intermediate_output stays bound through BertOutput
    g.drop(a2, h, x, *g.keep)
    g.keep.clear()
    return out, None, None


def encoder_embed(g: Sim, cx: Cx) -> tuple[Tn, int, bool]:
    """BertEmbeddings: LN(word(ids) + type(type_ids) + pos(pos_ids)), then dropout. The token-type ids
    are a gather over the zero buffer (1 x s int64; b x s for RoBERTa, whose position ids are made per
    row from the tokens: ne, cumsum, long). inputs_embeds and the type and position embeddings stay
    bound until the module returns. Returns (x_0, bytes held besides x_0 = 0, True: the model body
    keeps x_0 (embedding_output) referenced to its end).

    Source: hf-bert"""
    s, t = cx.spec, cx.spec.traits
    T, d, w = cx.T, s.hidden_size, cx.w
    rows = T if t.position_ids_per_row else cx.q
    ids = [g.new(rows * 8)] if t.position_ids_from_tokens else []  # RoBERTa position ids (b x s int64)
    tt = g.new(rows * 8)  # gathered token-type ids
    tb = cx.train_base
    e = g.new(T * d * w, g.grad)
    g.op((), (e,), pgrad=s.vocab_size * d * w if tb else 0,
         ptemp=s.vocab_size * d * w if tb and s.tie_word_embeddings else 0)
    te = g.new(T * d * w, g.grad)
    g.op((), (te,), pgrad=s.type_vocab_size * d * w if tb else 0)
    x1 = _add(g, e, te)
    pos = g.new(rows * d * w, g.grad)
    g.op((), (pos,), pgrad=(s.max_position_embeddings + s.position_offset) * d * w if tb else 0)
    x2 = _add(g, x1, pos)
    g.drop(x1)
    ln = layernorm(g, cx, x2, d, tb, s.norms.bias)
    g.drop(x2)
    out = dropout(g, cx, ln, s.embed_dropout)
    g.drop(ln, e, te, pos, tt, *ids)
    return out, 0, True


def normed_embed(g: Sim, cx: Cx) -> tuple[Tn, int, bool]:
    """ModernBertEmbeddings: drop(norm(tok_embeddings(ids))); the body's mask_kwargs keep x_0 referenced to
    its end (returns (x_0, 0, True)).

    Source: hf-modernbert"""
    s = cx.spec
    d, w, tb = s.hidden_size, cx.w, cx.train_base
    e = g.new(cx.T * d * w, g.grad)
    g.op((), (e,), pgrad=s.vocab_size * d * w if tb else 0,
         ptemp=s.vocab_size * d * w if tb and s.tie_word_embeddings else 0)
    ln = layernorm(g, cx, e, d, tb, s.norms.bias)
    g.drop(e)
    out = dropout(g, cx, ln, s.embed_dropout)
    g.drop(ln)
    return out, 0, True


def mlm_head(g: Sim, cx: Cx, x: Tn, mode: str) -> tuple[Tn, Tn | None, int]:
    """BertOnlyMLMHead: LN(act(dense(x))) -> decoder (V, tied) + bias; train: CrossEntropyLoss on the
    logits' dtype (log_softmax T x V x c saved, then nll). The body's output x stays bound
    (sequence_output) through the head and the loss. Returns (loss or the transform output, logits,
    peak before the head).

    Source: hf-bert"""
    s = cx.spec
    d, V, c = s.hidden_size, s.vocab_size, cx.c
    if s.norms.final:  # ModernBERT: final_norm inside the body, whose tables and masks die when it returns
        x2 = layernorm(g, cx, x, d, cx.train_base, s.norms.bias)
        g.drop(x)
        x = x2
        pre, g.peak = g.peak, g.live
    else:
        pre = g.peak
    y = linear(g, cx, x, d, d, s.traits.leaf("head_transform"), s.head_transform_bias)
    a = act(g, y, act_kind(s.mlp.activation))
    g.drop(y)
    ln = layernorm(g, cx, a, d, cx.train_base, s.norms.bias)
    g.drop(a)
    logits = linear(g, cx, ln, d, V, "lm_head", s.lm_head_bias)
    g.drop(ln)
    if mode != "train":
        return x, logits, pre
    lg = cast(g, logits, cx.T * V * F32) if s.traits.loss_fp32 else g.view(logits)  # HF loss_function upcasts
    lsm = g.new(lg.nb, True)
    g.op((lg,), (lsm,), (lsm,))
    g.drop(lg)
    loss = g.new(c, True)
    g.op((lsm,), (loss,))
    g.drop(lsm, logits, x)
    return loss, None, pre


def embed_backward(cx: Cx) -> int:
    """Peak bytes of the embeddings' backward beyond the gradients already made: the gradient of x_0
    (T d w) through dropout, LayerNorm and the sums, then dense gradients of the position, type and
    word tables (V d w, plus the sum with the tied decoder's gradient); ModernBERT: the word table only.

    Source: hf-bert"""
    g = Sim(grad=True)
    out, _, _ = (encoder_embed if cx.spec.position == "learned" else normed_embed)(g, cx)
    saved = g.saved_bytes()
    g.drop(out)
    peak, _, _ = g.backward(out, saved + out.nb)
    return peak
