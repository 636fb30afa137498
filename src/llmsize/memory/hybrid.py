"""Falcon-H1's decoder layer: attention and a Mamba-2 mixer side by side on one normed input, replayed
for a no-grad forward (prefill or decode).

  h = norm(x);  m = mixer(h)·ssm_out;  a = attn(h·attn_in)·attn_out;  x2 = x + (m + a)
  out = x2 + mlp(norm(x2))   (m and a stay bound to the end of the layer; the MLP's gate and output
  carry their muP multipliers, each a new tensor)

Source: hf-falcon-h1
"""
from __future__ import annotations

from llmsize.memory.attention import attention
from llmsize.memory.blocks import Cx
from llmsize.memory.sim import Sim, Tn
from llmsize.memory.ssm_mixer import mixer


def _mul(g: Sim, t: Tn) -> Tn:
    """t · a Python scalar (a muP multiplier): a new tensor; its node saves nothing."""
    y = g.new(t.nb, t.rg)
    g.op((t,), (y,))
    return y


def hybrid_layer(g: Sim, cx: Cx, x: Tn, mask: Tn | None, old: tuple[Tn, Tn] | None, norm, mlp,
                 add) -> tuple[Tn, Tn | None, Tn | None, tuple[Tn | None, Tn | None]]:
    """(output, cached K, cached V, (conv state, SSM state) left in the cache) of one Falcon-H1 layer.

    Source: hf-falcon-h1"""
    h = norm(g, cx, x)
    m, conv, ssm = mixer(g, cx, h)
    m2 = _mul(g, m)  # · ssm_out_multiplier
    g.drop(m)
    ain = _mul(g, h)  # h · attention_in_multiplier, an argument (freed when attention returns)
    a, ck, cv = attention(g, cx, ain, mask, old)
    g.drop(ain)
    a2 = _mul(g, a)  # · attn_out_multiplier
    g.drop(a)
    s = add(g, m2, a2)
    g.drop(h)  # `hidden_states` rebinds
    x2 = add(g, x, s)
    g.drop(s)
    n = norm(g, cx, x2)
    y = mlp(g, cx, n, False)
    y2 = _mul(g, y)  # · down_multiplier
    g.drop(y, n)
    out = add(g, x2, y2)
    g.drop(y2, x2, x, m2, a2, *g.keep)
    g.keep.clear()
    return out, ck, cv, (conv, ssm)
