"""The peak: the largest live set over the phases of a workload, as named terms.

peak = max over phases p, moments t of  Σ (tensors live at t)
     = weights + optimizer states + gradients so far + saved activations + KV cache + working set

Source: rajbhandari2020
"""
from __future__ import annotations

from dataclasses import replace

from llmsize.errors import LlmsizeError
from llmsize.memory import ssm
from llmsize.memory.blocks import Cx
from llmsize.memory.infer import forward_points, generate_points
from llmsize.memory.optimizer import optimizer_memory
from llmsize.memory.regions import kinds, layer_regions
from llmsize.memory.terms import MemoryEstimate, MemTerm
from llmsize.memory.train import Point, best_by_phase, train_points
from llmsize.memory.weights import lora_targets, mask_buffer, weights
from llmsize.memory.workload import KV_DTYPE_BYTES, Workload
from llmsize.recurrent import STATE_TERM, recurrent_state
from llmsize.spec import ModelSpec


def replayable(spec: ModelSpec, mode: str) -> None:
    """Refuse (LlmsizeError, exit 2) a workload the replay cannot size exactly (generation on an encoder)
    rather than print a wrong number."""
    if spec.traits.encoder and mode == "generate":
        raise LlmsizeError(f"{spec.name} is an encoder ({spec.traits.family} family): it does not generate and keeps no KV "
                           f"cache; size a forward pass (infer --forward) or training")


def context(spec: ModelSpec, wl: Workload) -> Cx:
    """The shapes and dtypes every region is replayed with; refuses what the replay does not model."""
    replayable(spec, wl.mode)
    if spec.traits.encoder_decoder and wl.grad_checkpointing:
        raise LlmsizeError(f"{spec.name}: the encoder-decoder replay models training without gradient checkpointing; "
                           f"`llmsize trace {spec.name} --mode {wl.mode}` measures PyTorch's own peak with it")
    train = wl.mode == "train"
    lo = wl.lora
    return Cx(spec=spec, b=wl.batch, q=wl.seq_len, kv=wl.seq_len, w=wl.w_bytes, c=wl.c_bytes,
              amp=wl.autocast is not None, train_base=train and lo is None,
              lora=lora_targets(spec, wl), lora_r=lo.r if lo else 0, training=train,
              # ASSUMES: a family without an SDPA path runs its eager code (what transformers picks for it)
              attn="eager" if wl.attn_impl == "eager" or spec.traits.eager_only else "sdpa",
              cache=wl.mode == "generate",
              kv_bytes=KV_DTYPE_BYTES[wl.kv_cache_dtype] if wl.kv_cache_dtype else 0,
              lora_layers=lo.layers if lo else None)


def estimate(spec: ModelSpec, workload: Workload, *, weights_bytes_override: int | None = None,
             weight_bits: float | None = None) -> MemoryEstimate:
    """Peak memory of `workload` on `spec`: bytes, phase, and the terms live there.

    weights_bytes_override: bytes of the stored (e.g. quantized) base weights; weight_bits: their bits
    per weight, which adds the dequantisation buffer of the largest linear (n_in x n_out x c) to every
    forward working set when below 16.

    Source: rajbhandari2020"""
    if not isinstance(spec, ModelSpec):
        raise LlmsizeError("estimate() needs a ModelSpec")
    if not isinstance(workload, Workload):
        raise LlmsizeError("estimate() needs a Workload")
    if weights_bytes_override is not None and (not isinstance(weights_bytes_override, int)
                                               or weights_bytes_override < 0):
        raise LlmsizeError("weights_bytes_override must be a non-negative number of bytes")
    wl = workload
    replayable(spec, wl.mode)
    wt = weights(spec, wl, weights_bytes_override)
    cx = context(spec, wl)
    W = wt.total_bytes + wt.buffers
    deq = wt.largest_linear * cx.c if weight_bits is not None and weight_bits < 16 else 0
    notes: list[str] = []
    if spec.traits.encoder_decoder:
        notes.append(seq2seq_note(wl))
    if wl.mode == "train" and not spec.traits.encoder_decoder:
        om = optimizer_memory(wl.opt, wt)
        g_total = wt.trainable_bytes
        g_prev = g_total if wl.grad_accumulation > 1 else 0
        x0_rg = wl.lora is None or wl.grad_checkpointing
        best = train_points(spec, cx, W=W, M=om.states, G_total=g_total, G_prev=g_prev, step_temp=om.step_temp,
                            gc=wl.grad_checkpointing, x0_rg=x0_rg, tied=spec.tie_word_embeddings)
    elif spec.traits.encoder_decoder:  # T5: the whole model replayed per step (memory.seq2seq)
        from llmsize.memory import seq2seq
        om = optimizer_memory(wl.opt, wt) if wl.mode == "train" else None
        best = seq2seq.points(spec, cx, wl, W, om, wt.trainable_bytes)
    elif ssm.replayed(spec, wl.mode):  # a pure Mamba-2 model
        om = None
        best = ssm.points(spec, cx, W, wl.mode, wl.new_tokens)
    elif wl.mode == "forward":
        om = None
        pts, _ = forward_points(spec, cx, W)
        best = best_by_phase(pts)
    else:
        om = None
        best = generate_points(spec, cx, W, wl.new_tokens)
    if deq:
        for p in best.values():
            if p.phase in ("forward", "prefill", "decode"):
                p.work += deq
                p.total += deq
    peak = max(best.values(), key=lambda p: p.total)
    terms = _terms(spec, wl, cx, wt, peak, om, deq)
    return MemoryEstimate(model=spec.name, peak_bytes=peak.total, peak_phase=peak.phase, terms=tuple(terms),
                          trainable_params=wt.trainable, weights_bytes=wt.total_bytes,
                          phases={k: v.total for k, v in best.items()}, notes=tuple(notes))


def seq2seq_note(wl: Workload) -> str:
    """What the sequence and new tokens mean for an encoder-decoder (T5)."""
    s = wl.seq_len
    if wl.mode == "generate":
        return (f"encoder-decoder: the encoder reads the {s:,}-token prompt once; the decoder generates "
                f"{wl.new_tokens:,} tokens one at a time from the start token (self-attention K,V grow per step, "
                f"cross-attention K,V over the {s:,} encoder tokens are made at the first step)")
    what = "labels shifted right" if wl.mode == "train" else "decoder_input_ids = input_ids"
    return f"encoder-decoder: encoder over {s:,} tokens, decoder over the same {s:,} tokens ({what})"


def _per_layer_saved(spec: ModelSpec, cx: Cx, x0_rg: bool) -> str:
    seen: dict[str, int] = {}
    regs = layer_regions(cx, x0_rg, True)
    for i, (lcx, moe) in enumerate(kinds(spec, cx)):
        r = regs[i]
        key = ("MoE " if moe else "") + ("sliding " if lcx.sliding else "") + "layer"
        seen.setdefault(key, r.saved)
    return ", ".join(f"{k}: {v:,} B ({v // max(1, cx.T):,} B/token)" for k, v in seen.items())


def _terms(spec: ModelSpec, wl: Workload, cx: Cx, wt, p: Point, om, deq: int) -> list[MemTerm]:
    ph = p.phase
    out: list[MemTerm] = []
    amp = wl.autocast is not None
    w_name = f"{wl.weights_dtype}"

    def add(name: str, nb: int, cat: str, formula: str, src: str) -> None:
        if nb:
            out.append(MemTerm(name=name, bytes=nb, category=cat, formula=formula, source=src, phase=ph))

    wb = p.parts.get("weights", 0)
    base = wt.base_bytes
    add(f"weights ({w_name}{', fp32 master copy for autocast' if amp else ''})", base,
        "master_weights" if amp else "weights", f"P·{cx.w} (P = {wt.params:,})", "rajbhandari2020")
    add("LoRA adapters (fp32)", wt.adapter_bytes, "weights", "Σ_adapted r·(n_in + n_out)·4", "peft-lora")
    mb = mask_buffer(spec)  # GPT-BigCode's mask and GPT-J's sinusoid buffers ride with the rotary buffers
    if spec.traits.index_buffers:  # BERT: position_ids and token_type_ids, int64 rows of the position table
        add("position/token-type id buffers (int64)", wt.buffers, "weights",
            f"{spec.traits.index_buffers}·P·8 (P = {spec.max_position_embeddings + spec.position_offset})",
            spec.traits.source)
    else:
        add("rotary inv_freq buffers", wt.buffers, "weights",
            "2·(d_rot/2)·4" + (f" + {mb:,} (position buffers: causal mask n_pos², sinusoids L·n_pos·d_rot·4)"
                               if mb else "") + (
            " + Falcon-H1 mup_vector L_ssm·(2·d_in + 2·G·N + H)·w" if spec.ssm is not None and spec.ssm.mup else ""),
            "hf-llama")
    assert wb == base + wt.adapter_bytes + wt.buffers or wb == 0
    if om is not None:
        add(f"optimizer states ({wl.opt})", p.parts.get("optimizer", 0), "optimizer", om.formula, om.source)
    g = p.parts.get("gradients", 0)
    if g:
        s = wt.trainable_bytes // max(1, wt.trainable)
        add("gradients" + ("" if ph == "optimizer step" else " (so far)"), g, "gradients",
            f"N·{s} (N = {wt.trainable:,} trainable)", "rajbhandari2020")
    a = p.parts.get("activations", 0)
    if a:
        if spec.traits.encoder_decoder:
            add("saved activations", a, "activations", "Σ tensors saved for backward by both stacks, the head and "
                "the loss (replayed whole: memory.t5)", "korthikanti2022")
        elif wl.grad_checkpointing:
            add("checkpointed layer inputs", a, "activations", "L·b·s·d·w (one hidden state per layer)",
                "chen2016")
        else:
            x0_rg = wl.lora is None or wl.grad_checkpointing
            add("saved activations", a, "activations",
                "Σ_layers tensors saved for backward; " + _per_layer_saved(spec, cx, x0_rg), "korthikanti2022")
    h = p.parts.get("held", 0)
    add("held by the model body (embeddings, masks, previous logits)", h, "activations",
        "b·s·d·w (inputs_embeds) + masks + b·V·c", "hf-llama")
    st = p.parts.get("state", 0)
    if st:
        rs = recurrent_state(spec, wl.batch, cx.c)
        add(STATE_TERM, st, "kv_cache",
            f"{st // max(1, rs.total // rs.layers)} of {rs.layers} state-space layers cached at this moment; "
            f"all: {rs.formula}", "mamba2-state")
    kv = p.parts.get("kv", 0)
    if kv:
        a_ = spec.attention
        if a_.mla:
            add("KV cache (compressed latent)", kv, "kv_cache", f"Σ_layers b·len·(r_kv + d_rope)·{cx.kv_bytes or cx.c} "
                f"(r_kv = {a_.kv_lora_rank}, d_rope = {a_.qk_rope_head_dim})", "hf-deepseek-v3")
        else:
            add("KV cache", kv, "kv_cache", f"Σ_layers 2·b·len·n_kv·d_h·{cx.kv_bytes or cx.c} "
                f"(n_kv = {spec.cache_kv_heads}, d_h = {a_.head_dim})", "hf-cache")
    if ph == "optimizer step" and om is not None:
        add("optimizer step temporaries", p.work, "transient", om.temp_formula, om.source)
    else:
        add(f"working set: {p.where}" + (" (+ dequantisation buffer)" if deq else ""), p.work, "transient",
            _work_formula(p.where, wl), "hf-loss" if "loss" in p.where else "pytorch-autograd")
    total = sum(t.bytes for t in out)
    if total != p.total:  # keep the invariant exact even if a part has no term above
        add("other", p.total - total, "transient", "rest", "pytorch-autograd")
    return out


_WORK = (
    ("encoder-decoder", "the replayed T5 step's tensors beyond the terms above: hidden states, q/k/v, the "
                        "relative-position buckets (int64, q·k each) and masks, scores (math path in training), "
                        "feed-forward intermediates, logits — docs/memory.md"),
    ("loss backward", "final norm's saved tensors + fp32 log-softmax T·V·4 + its gradient T·V·4 + the fp32 "
                      "logits' gradient T·V·4"),
    ("final norm, LM head and loss", "last hidden + logits T·V·c + fp32 copy T·V·4 + log-softmax T·V·4"),
    ("final norm and LM head", "last hidden T·d·c + logits (T·V·c; generate: b·V·c)"),
    ("embedding backward", "gradient of the first hidden state T·d·w + dense embedding gradient V·d·w "
                           "(+ its sum with the tied head's gradient)"),
    ("backward", "this layer's saved tensors + gradients of its activations (replayed)"),
    ("forward", "this layer's input, residual, norm output and MLP/attention intermediates while its saved "
                "tensors are made (replayed)"),
    ("chunked scan", "the layer's input (fp32 residual) and norm output, in_proj T·(2·d_in + 2·G·N + H)·c, the "
                     "conv output, and the fp32 chunked scan: L, G, M (b·H·(s_p/Q)·Q²·4 each), x, D·x, Y_diag, Y_off "
                     "(T_p·d_in·4 each), chunk states, einsum's operand copies (replayed) — docs/memory.md"),
    ("layer", "this layer's input, residual, norm output, MLP intermediates (act, up, product 3·T·f·c) or "
              "attention scores, and its K,V appended (replayed)"),
    ("embedding", "token (+ position) embeddings T·d·w"),
)


def _work_formula(where: str, wl: Workload) -> str:
    for key, text in _WORK:
        if key in where:
            return text + " — docs/memory.md"
    return "tensors alive at this moment of the replay — docs/memory.md"


def _unused(cx: Cx) -> Cx:  # keep `replace` imported for callers building variants
    return replace(cx)
