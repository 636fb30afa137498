"""How a fused [q; k; v] projection output becomes q, k and v, per the family's `qkv_split` trait.

- view: three slices of the output (GPT-NeoX, Phi-3): no new tensor.
- index (Falcon multi-query): q = fused[..., :-2, :] a slice; k = fused[..., [-2], :] and
  v = fused[..., [-1], :] index copies of n_kv heads (T x n_kv x d_h each).
- index_expand (Falcon's new decoder architecture): per KV group q = qkv[:, :, :, :-2] flattened over
  (group, head) -- the slice is strided, so flatten copies (T x n_h x d_h); k and v are index copies
  (T x n_kv x d_h) broadcast to the group's query heads and flattened: copies of T x n_h x d_h each
  (with one KV group the flattens are views: q a slice, k and v stride-0 views of the index copies).
  K, V and the cache then have n_h heads.
The fused output stays bound to the attention's local variable until the attention returns.

Source: hf-falcon
"""
from __future__ import annotations

from llmsize.memory.blocks import Cx
from llmsize.memory.sim import Sim, Tn


def split_qkv(g: Sim, cx: Cx, qkv: Tn) -> tuple[Tn, Tn, Tn, int]:
    """(q, k, v, heads of k and v). The caller still owns `qkv` (dropped with its other locals).

    index:        B_split = 2 T n_kv d_h c
    index_expand: B_split = T n_h d_h c + 2 T n_h d_h c (+ 2 T n_kv d_h c, each freed at its flatten);
                  one KV group: 2 T d_h c

    Source: hf-falcon"""
    s, a = cx.spec, cx.spec.attention
    T, c, nh, nkv, hd = cx.T, cx.c, a.num_heads, a.num_kv_heads, a.head_dim
    how = s.traits.qkv_split
    if how == "view":
        q, k, v = g.view(qkv, T * nh * hd * c), g.view(qkv, T * nkv * hd * c), g.view(qkv, T * nkv * hd * c)
        g.op((qkv,), (q, k, v))
        return q, k, v, nkv
    if how == "index":
        q = g.view(qkv, T * nh * hd * c)
        g.op((qkv,), (q,))
        k, v = g.new(T * nkv * hd * c, qkv.rg), g.new(T * nkv * hd * c, qkv.rg)
        g.op((qkv,), (k,))
        g.op((qkv,), (v,))
        return q, k, v, nkv
    one = nkv == 1  # a size-1 group dim: flatten merges it, so q is a view and k, v stay broadcast views
    q = g.view(qkv, T * nh * hd * c) if one else g.new(T * nh * hd * c, qkv.rg)  # flatten of a strided slice
    g.op((qkv,), (q,))
    out = []
    for _ in range(2):
        sel = g.new(T * nkv * hd * c, qkv.rg)  # qkv[:, :, :, [-2]]: an index copy
        g.op((qkv,), (sel,))
        # broadcast_to(query.shape).flatten(2, 3): a copy, or (one group) a stride-0 view of the index copy
        full = g.view(sel, T * nh * hd * c) if one else g.new(T * nh * hd * c, qkv.rg)
        g.op((sel,), (full,))
        g.drop(sel)
        out.append(full)
    return q, out[0], out[1], nh
