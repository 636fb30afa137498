"""Replays of the model's regions (embedding, each kind of decoder layer, head) for given shapes,
reduced to the numbers the phase arithmetic needs. Layers of the same kind are replayed once.

Source: pytorch-autograd
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache

from llmsize.memory.blocks import Cx
from llmsize.memory.layers import embed, head, layer, position_tables
from llmsize.memory.sim import Sim
from llmsize.recurrent import recurrent_state


@dataclass(frozen=True, slots=True)
class Region:
    """One region's bytes, all relative to the region (the caller adds what else is live).

    fw_peak: most bytes live during its forward (its input included); saved: kept for backward;
    out: its output; kept: cache tensors it leaves behind; bw_peak: most bytes live during its
    backward counted from its saved tensors plus the output gradient; bw_end: bytes left after its
    backward (input gradient); pgrad: parameter gradients it produced; in_saved: its input is among
    the saved tensors."""

    fw_peak: int
    saved: int
    out: int
    kept: int = 0
    bw_peak: int = 0
    bw_end: int = 0
    pgrad: int = 0
    in_saved: bool = False
    pre_peak: int = 0  # head only: peak before the LM head (final norm), when the body still holds its inputs
    kept_state: int = 0  # a prefill's conv + SSM state left in the cache (state-space layers)


def layer_mask(cx: Cx) -> bool:
    """Whether this layer gets a materialised mask: eager always, and families that never skip it
    (Falcon); SDPA only for a sliding window no longer than the keys (transformers'
    _ignore_causal_mask_sdpa)."""
    s = cx.spec
    if cx.attn == "eager" or s.traits.mask_always:
        return True
    return cx.sliding and s.sliding_window is not None and cx.kv >= s.sliding_window and cx.q > 1


@lru_cache(maxsize=4096)
def run_layer(cx: Cx, moe: bool, in_rg: bool, backward: bool) -> Region:
    """Replay one decoder layer (forward, then backward when `backward`)."""
    g = Sim(grad=backward)
    x = g.external(cx.T * cx.spec.hidden_size * cx.w, rg=in_rg)
    xst = x.st
    mask = None
    if layer_mask(cx):
        mask = g.external(0, held=True)  # the model-level mask is counted by the caller
    old = None
    if cx.cache and cx.cache_len and cx.mixer != "ssm":  # K, V before the append (freed by torch.cat)
        a, n = cx.spec.attention, cx.cache_len
        if cx.sliding and cx.spec.sliding_window:  # the view of w - 1 tokens pins the last cat (w tokens)
            n = min(n, cx.spec.sliding_window)
        kb = cx.kv_bytes or cx.c
        if a.mla:  # transformers caches the latent and the rotary key
            assert a.kv_lora_rank is not None
            old = (g.external(cx.b * n * a.kv_lora_rank * kb), g.external(cx.b * n * a.qk_rope_head_dim * kb))
        else:
            nkv = cx.spec.cache_kv_heads
            old = (g.external(cx.b * n * nkv * a.head_dim * kb), g.external(cx.b * n * nkv * a.v_dim * kb))
    out, ck, cv = layer(g, cx, x, moe, mask, old)
    fw_peak = g.peak
    kept = (ck.nb if ck is not None else 0) + (cv.nb if cv is not None else 0)
    saved = g.saved_bytes() if backward else 0
    in_saved = backward and xst.saved > 0
    st = 0
    if cx.cache and not cx.cache_len and cx.mixer != "attention":
        rs = recurrent_state(cx.spec, cx.b, cx.c)
        st = rs.total // rs.layers
    if not backward:
        return Region(fw_peak=fw_peak, saved=0, out=out.nb, kept=kept, kept_state=st)
    g.drop(out)  # the next layer owns it (if it saves it, it is counted there)
    start = saved + out.nb
    peak, end, pg = g.backward(out, start)
    return Region(fw_peak=fw_peak, saved=saved, out=out.nb, kept=kept, bw_peak=peak, bw_end=end, pgrad=pg,
                  in_saved=in_saved)


@lru_cache(maxsize=1024)
def run_embed(cx: Cx, out_rg: bool = False) -> tuple[int, int, int, int, bool]:
    """(peak, x_0 bytes, bytes held by the body besides x_0, saved bytes, x_0 is the embedding output
    itself) of the embedding region. `out_rg`: the output requires grad (trained embedding, or
    enable_input_require_grads)."""
    g = Sim(grad=cx.train_base or out_rg)
    x0, held, is_e = embed(g, cx)
    return g.peak, x0.nb, held + position_tables(cx), g.saved_bytes(), is_e


@lru_cache(maxsize=1024)
def run_head(cx: Cx, mode: str, backward: bool) -> Region:
    """Final norm + LM head (+ loss). fw_peak counts the head's input; pre_peak is the part before the
    LM head (the body still holds its embeddings then)."""
    g = Sim(grad=backward)
    x = g.external(cx.T * cx.spec.hidden_size * cx.w, rg=backward)
    loss, logits, pre = head(g, cx, x, mode)
    if not backward:
        out = loss.nb + (logits.nb if logits is not None else 0)
        return Region(fw_peak=g.peak, saved=0, out=out, pre_peak=pre)
    saved = g.saved_bytes()
    fw = g.peak
    g.drop(loss)
    peak, end, pg = g.backward(loss, saved + loss.nb)
    return Region(fw_peak=fw, saved=saved, out=loss.nb, bw_peak=peak, bw_end=end, pgrad=pg, pre_peak=pre)


def kinds(spec, cx: Cx) -> tuple[tuple[Cx, bool], ...]:
    """(layer context, is MoE) for each layer index (the same objects for layers of one kind)."""
    return _kinds(cx)


@lru_cache(maxsize=1024)
def _kinds(cx: Cx) -> tuple[tuple[Cx, bool], ...]:
    spec = cx.spec
    out = []
    memo: dict[tuple[bool, bool, bool, str, bool], Cx] = {}
    ll = None if cx.lora_layers is None else set(cx.lora_layers)
    for i in range(spec.num_layers):
        sl = spec.layer_type(i) == "sliding"
        lo = ll is None or i in ll
        rp = spec.uses_rope(i) or spec.position != "rope"
        mx = spec.mixers[i] if spec.mixers else "attention"
        # layer 0 differs: no attention norm (ModernBERT), a w-byte input to an fp32 residual (Mamba-2)
        first = i == 0 and (not spec.traits.first_attn_norm or (spec.ssm is not None and spec.ssm.residual_fp32))
        lcx = memo.get((sl, lo, rp, mx, first))
        if lcx is None:
            lcx = cx if sl == cx.sliding else replace(cx, sliding=sl)
            if not lo:
                lcx = replace(lcx, lora=frozenset())
            if not rp:
                lcx = replace(lcx, rope=False)
            if mx != "attention":
                lcx = replace(lcx, mixer=mx)
            if first:
                lcx = replace(lcx, first=True)
            memo[(sl, lo, rp, mx, first)] = lcx
        out.append((lcx, spec.is_moe_layer(i)))
    return tuple(out)


def layer_regions(cx: Cx, x0_rg: bool, backward: bool) -> list[Region]:
    """The replay of every layer, each distinct kind replayed once."""
    memo: dict[tuple[int, bool, bool], Region] = {}
    out = []
    rg = x0_rg
    for lcx, moe in _kinds(cx):
        key = (id(lcx), moe, rg)
        r = memo.get(key)
        if r is None:
            r = memo[key] = run_layer(lcx, moe, rg, backward)
        out.append(r)
        rg = rg or _trains(lcx)
    return out


def _trains(cx: Cx) -> bool:
    """Whether a layer's output requires grad even when its input does not: it has trainable weights.
    Assumed of attention layers (every LoRA target list adapts them); a state-space layer trains only
    when a target names one of its own linears (LFM2's conv layers before the first adapted attention
    layer pass no gradient down)."""
    if cx.mixer != "ssm" or cx.train_base:
        return True
    t = cx.spec.traits
    own = {t.leaf(r) for r in ("ssm_in", "ssm_x", "ssm_dt", "ssm_out", "ffn_gate", "ffn_up", "ffn_down")}
    return bool(cx.lora & own)
