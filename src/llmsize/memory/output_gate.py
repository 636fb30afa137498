"""The per-element output gate of Qwen3-Next's full attention (Qwen3NextAttention):

  q_proj(h) -> T·2·n_h·d_h, viewed per head as [query | gate];  gate = gate.reshape(T, n_h·d_h)  (a copy:
  the gate half is strided);  query = q_norm(the query half)  (then q_proj's output is freed);
  ...  attn_output = attn_output.reshape(T, n_h·d_h).contiguous() · sigmoid(gate)  (two T·n_h·d_h tensors;
  the ungated output is freed);  the gate stays bound through o_proj.

Source: hf-qwen3-next
"""
from __future__ import annotations

from llmsize.memory.blocks import Cx
from llmsize.memory.sim import Sim, Tn


def split_gate(g: Sim, cx: Cx, qg: Tn) -> tuple[Tn, Tn]:
    """(query half as a view of q_proj's output, the gate's copy). The caller's handle qg is released:
    the query view keeps q_proj's output alive until q_norm replaces it.

    Source: hf-qwen3-next"""
    a = cx.spec.attention
    n = cx.T * a.num_heads * a.head_dim * cx.c
    gate = g.new(n, qg.rg)
    g.op((qg,), (gate,))
    q = g.view(qg, n)
    g.op((qg,), (q,))
    g.drop(qg)
    return q, gate


def apply_gate(g: Sim, cx: Cx, out: Tn, gate: Tn) -> Tn:
    """attn_output · sigmoid(gate): sigmoid (freed after the product), the product (replacing out).
    ASSUMES: the gate is released by the caller after o_proj.

    Source: hf-qwen3-next"""
    sg = g.new(gate.nb, gate.rg)
    g.op((gate,), (sg,), (sg,))
    y = g.new(out.nb, out.rg or sg.rg)
    g.op((out, sg), (y,), (out, sg))
    g.drop(sg, out)
    return y
