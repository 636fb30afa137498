"""Inference replay of a pure Mamba-2 model (transformers' torch path: Mamba2Mixer.forward with
mamba2_chunk_scan, no fused kernels), for a no-grad forward and for generate (prefill + decode).

Per layer (residual kept in fp32 when residual_in_fp32):
  block:  x (T·d·4) + norm output (T·d·w), then the mixer:
  mixer:  in_proj T·(2·d_in + 2·G·N + H)·c, depthwise conv b·C·(s + K - 1)·c, its SiLU b·C·s·c, then the
          chunked scan in fp32 over s padded to a multiple of Q: L = exp(segsum(A)), G = C·B^T, M = G∘L
          (each b·H·(s_p/Q)·Q²·4), Y_diag, chunk states b·(s_p/Q)·H·P·N·4, their recurrence, Y_off, and
          einsum's contiguous operand copies, replayed allocation by allocation
          (`ssm_mixer.mixer_peak`); decoding, the recurrent update (`ssm_mixer.decode_peak`);
  cache:  generate keeps per layer a conv state b·C·K·c and an SSM state b·H·P·N·4 (llmsize.recurrent).
Head: the final norm (fp32 when the residual is), a copy in the weights' dtype, logits in it and their
.float() copy (T·V·(w + 4); generate: b rows).

Measured with `scripts/memlab.py`-style traces of transformers 5.23 on fake tensors; forward and
generate only (training goes through the layer replay: memory/ssm_block.py, ssm_train.py).

Source: hf-mamba2
"""
from __future__ import annotations

from llmsize.memory.blocks import Cx
from llmsize.memory.ssm_mixer import F32, decode_peak, mixer_peak
from llmsize.memory.train import Point, best_by_phase
from llmsize.recurrent import recurrent_state
from llmsize.spec import ModelSpec


def replayed(spec: ModelSpec, mode: str) -> bool:
    """Whether this replay covers the model and mode: every layer a Mamba-2 mixer with no MLP, no
    attention, forward or generate."""
    m = spec.ssm
    return (m is not None and m.kind == "mamba2" and mode in ("forward", "generate") and not spec.dense_mlp
            and spec.moe is None and all(not spec.has_attention(i) for i in range(spec.num_layers)))


def points(spec: ModelSpec, cx: Cx, W: int, mode: str, new_tokens: int) -> dict[str, Point]:
    """The largest moment of each phase of a Mamba-2 forward (full logits) or generate (prefill with
    last-token logits, then decode steps over the cached state).

    Source: hf-mamba2"""
    m = spec.ssm
    assert m is not None
    b, s, w, d, V, L = cx.b, cx.q, cx.w, spec.hidden_size, spec.vocab_size, spec.num_layers
    r = F32 if m.residual_fp32 else w  # the residual stream's bytes per element
    gen = mode == "generate"
    E = b * s * d * w  # inputs_embeds, held by the body to its end
    block = b * s * d * r + b * s * d * w  # the layer input (the residual) and the norm's output
    peak, _ = mixer_peak(spec, b, s, w, gen)
    per_state = recurrent_state(spec, b, w).total // L if gen else 0
    phase = "prefill" if gen else "forward"
    pts = [Point(phase, {"weights": W, "state": (L - 1) * per_state}, f"layer {L - 1} (Mamba-2 chunked scan)",
                 E + block + peak)]
    rows = b if gen else b * s  # logits_to_keep=1 in generate
    norm_out = b * s * d * r
    head = norm_out + max(rows * d * w + rows * V * w, rows * V * w + rows * V * F32)
    pts.append(Point(phase, {"weights": W, "state": L * per_state}, "final norm and LM head", head))
    if gen and new_tokens > 1:
        # a decode step: the previous step's fp32 logits stay bound (out.logits) while the next one runs
        one = b * d * r + b * d * w
        parts = {"weights": W, "state": L * per_state, "held": b * V * F32}
        pts.append(Point("decode", dict(parts), f"layer {L - 1} (recurrent update)",
                         b * d * w + one + decode_peak(spec, b, w)))
        pts.append(Point("decode", dict(parts), "final norm and LM head",
                         one + max(b * d * w + b * V * w, b * V * (w + F32))))
    return best_by_phase(pts)
