"""Building blocks replayed on a `Sim`: linear (with autocast copies and peft LoRA), norms, dropout,
gated and plain MLPs, mixture-of-experts dispatch. Each function mirrors one Hugging Face forward:
the tensors it allocates (bytes = elements x element size), the Python variables that keep them
alive, and what each autograd node saves for backward.

Symbols: T tokens in the step (b x q), d hidden, f FFN width, V vocab, w / c bytes per element of the
weights / of the compute (autocast) dtype; fp32 = 4 bytes.

Source: pytorch-autograd
"""
from __future__ import annotations

from dataclasses import dataclass

from llmsize.memory.sim import Sim, Tn
from llmsize.spec import ModelSpec

F32 = 4


@dataclass(frozen=True, slots=True)
class Cx:
    """Everything a block needs to size its tensors: shapes, dtypes, which weights train."""

    spec: ModelSpec
    b: int  # batch
    q: int  # query tokens per sequence in this step
    kv: int  # key/value length seen by attention (cache included)
    w: int  # bytes per weight element (residual stream dtype)
    c: int  # bytes per element of matmul outputs (autocast dtype under amp, else w)
    amp: bool = False
    train_base: bool = False  # base weights get gradients
    lora: frozenset[str] = frozenset()  # leaf module names carrying an adapter
    lora_r: int = 0
    lora_bytes: int = F32  # peft keeps adapters in fp32
    training: bool = False  # model.train(): dropout active
    attn: str = "sdpa"
    cache: bool = False  # generate: keys/values appended to a DynamicCache
    cache_len: int = 0  # tokens already in the cache before this step
    kv_bytes: int = 0  # bytes per cached element (0: the compute dtype)
    sliding: bool = False  # this layer uses sliding-window attention
    lora_layers: tuple[int, ...] | None = None  # layers carrying adapters (None: all)
    rope: bool = True  # this layer applies rotary (False on NoPE layers)
    mixer: str = "attention"  # this layer's token mixer: attention or ssm (ModelSpec.mixers)
    first: bool = False  # layer 0 of a family whose first attention norm is nn.Identity (ModernBERT)

    @property
    def T(self) -> int:  # noqa: N802
        return self.b * self.q


def linear(g: Sim, cx: Cx, x: Tn, n_in: int, n_out: int, leaf: str, bias: bool = False,
           out_bytes: int | None = None) -> Tn:
    """y = x W^T (+ b): T x n_out in the compute dtype.

    Saves x (its autocast copy) when W trains; under autocast W is cast once per forward and the copy
    (n_in x n_out x c) lives until this node's backward. peft LoRA adds
    y = y + B(A(x_fp32)) * alpha/r, computed in fp32 and cast back.

    Source: pytorch-autograd"""
    T, c = cx.T, cx.c
    xin = x
    if cx.amp and x.nb != T * n_in * c:
        xin = g.new(T * n_in * c, x.rg)  # autocast casts the activation for every linear separately
        g.op((x,), (xin,))
    wcopy = None
    if cx.amp and cx.train_base:
        wcopy = g.new(n_in * n_out * c)  # autocast weight cache entry
    ob = c if out_bytes is None else out_bytes
    y = g.new(T * n_out * ob, x.rg or cx.train_base)
    pg = (n_in * n_out + (n_out if bias else 0)) * cx.w if cx.train_base else 0
    g.op((xin,), (y,), (xin if cx.train_base else None, wcopy), pgrad=pg,
         ptemp=n_in * n_out * c if wcopy is not None else 0)
    if wcopy is not None:
        g.drop(wcopy)
    if xin is not x:
        g.drop(xin)
    if leaf in cx.lora:
        y = _lora(g, cx, x, y, n_in, n_out)
    return y


def _lora(g: Sim, cx: Cx, x: Tn, y: Tn, n_in: int, n_out: int) -> Tn:
    """peft Linear.forward: result = base(x); x = x.to(fp32); result = result + B(A(x)) * s; result.to(dtype).

    Source: peft-lora"""
    T, r, lb = cx.T, cx.lora_r, cx.lora_bytes
    x32 = x if x.nb == T * n_in * lb else g.new(T * n_in * lb, x.rg)
    if x32 is not x:
        g.op((x,), (x32,))
    a = g.new(T * r * lb, True)
    g.op((x32,), (a,), (x32,), pgrad=r * n_in * lb)
    bo = g.new(T * n_out * lb, True)
    g.op((a,), (bo,), (a,), pgrad=n_out * r * lb)
    s = g.new(T * n_out * lb, True)
    g.op((bo,), (s,))
    g.drop(bo, a)
    res = g.new(T * n_out * max(lb, y.nb // T // n_out), True)
    g.op((y, s), (res,))
    g.drop(y, s)
    if x32 is not x:
        g.drop(x32)
    yb = y.nb
    if res.nb != yb:
        out = g.new(yb, True)
        g.op((res,), (out,))
        g.drop(res)
        return out
    return res


def cast(g: Sim, x: Tn, nb: int) -> Tn:
    """x.to(dtype): a new tensor unless the dtype already matches (then the same tensor)."""
    if x.nb == nb:
        return g.view(x)
    y = g.new(nb, x.rg)
    g.op((x,), (y,))
    return y


def rmsnorm(g: Sim, cx: Cx, x: Tn, n: int, w_rg: bool, gemma: bool = False, groups: int = 1) -> Tn:
    """Llama RMSNorm: h = x.float(); h = h * rsqrt(mean(h^2) + eps); out = weight * h.to(dtype).
    Gemma: out = (h * (1 + weight.float())).type_as(x).

    Saves the fp32 input (for pow and mul), the normalised h when the weight trains; T x n elements.

    Source: hf-llama"""
    T = cx.T
    dt = x.nb // (T * n)  # bytes per element of the input
    x32 = cast(g, x, T * n * F32)
    p = g.new(T * n * F32, x32.rg)
    # pow's backward, grad * (2 * x.pow(1)): both temporaries live until the product is made
    g.op((x32,), (p,), (x32,), btemp=2 * T * n * F32)
    wn = n // groups if groups > 1 else n  # per-head norms have a d_h weight
    var = g.new(T * groups * F32, x32.rg)  # variance = mean(p): one per token (per head for q/k norms), a local
    g.op((p,), (var,))
    g.drop(p)
    ve = g.new(var.nb, var.rg)  # variance + eps, a temporary
    g.op((var,), (ve,))
    if gemma:  # Gemma's _norm(x): the mean is a temporary of one expression, not a local
        g.drop(var)
        var = None
    rs = g.new(T * groups * F32, x32.rg)  # rsqrt(variance + eps)
    g.op((ve,), (rs,), (rs,))
    g.drop(ve)
    h32 = g.new(T * n * F32, x32.rg)
    # the product's gradient for rs reduces grad * x (T x n fp32) over the normalised dim
    g.op((x32, rs), (h32,), (x32 if rs.rg else None, rs if x32.rg else None), btemp=T * n * F32 if rs.rg else 0)
    g.drop(x32, rs)
    if gemma:
        o32 = g.new(T * n * F32, h32.rg or w_rg)
        g.op((h32,), (o32,), (h32 if w_rg else None,), pgrad=wn * cx.w if w_rg else 0)
        g.drop(h32)
        out = cast(g, o32, T * n * dt)
        g.drop(o32)
        return out
    h = cast(g, h32, T * n * dt)
    g.drop(h32)
    out = g.new(T * n * dt, h.rg or w_rg)
    g.op((h,), (out,), (h if w_rg else None,), pgrad=wn * cx.w if w_rg else 0)
    g.drop(h, var)  # `variance` is a local of forward() until it returns
    return out


def layernorm(g: Sim, cx: Cx, x: Tn, n: int, w_rg: bool, bias: bool = True) -> Tn:
    """nn.LayerNorm: saves its input and the per-token mean and rstd (T x 1 each, input dtype).

    Source: pytorch-autograd"""
    T = cx.T
    out = g.new(x.nb, x.rg or w_rg)
    stats = g.new(2 * T * (x.nb // (T * n)))
    g.op((x,), (out,), (x, stats), pgrad=(2 if bias else 1) * n * cx.w if w_rg else 0)
    g.drop(stats)
    return out


def layernorm_ops_fp32(g: Sim, cx: Cx, x: Tn, n: int, w_rg: bool) -> Tn:
    """Cohere's LayerNorm written out: h = x.float(); mean; var = (h - mean).pow(2).mean();
    h = (h - mean) * rsqrt(var + eps); out = (weight.float() * h).to(dtype). Saves the centred input
    twice (pow, product), rsqrt, and h and the fp32 weight for the weight product; T x n fp32 each.

    Source: hf-cohere"""
    T = cx.T
    x32 = cast(g, x, T * n * F32)
    rg = x32.rg
    mean = g.new(T * F32, rg)
    g.op((x32,), (mean,))
    d1 = g.new(T * n * F32, rg)
    g.op((x32, mean), (d1,))
    p = g.new(T * n * F32, rg)
    g.op((d1,), (p,), (d1,))
    g.drop(d1)
    var = g.new(T * F32, rg)
    g.op((p,), (var,))
    g.drop(p)
    d2 = g.new(T * n * F32, rg)  # (h - mean), evaluated before rsqrt(var + eps)
    g.op((x32, mean), (d2,))
    ve = g.new(T * F32, rg)
    g.op((var,), (ve,))
    g.drop(var)
    rs = g.new(T * F32, rg)
    g.op((ve,), (rs,), (rs,))
    g.drop(ve)
    h = g.new(T * n * F32, rg)
    g.op((d2, rs), (h,), (d2, rs))
    g.drop(d2, rs, x32)
    w32 = g.new(n * F32)
    o = g.new(T * n * F32, rg or w_rg)
    g.op((h,), (o,), (h if w_rg else None, w32 if rg else None), pgrad=n * cx.w if w_rg else 0)
    g.drop(h, w32)
    out = cast(g, o, x.nb)
    g.drop(o, mean)
    return out


def scaled(g: Sim, x: Tn) -> Tn:
    """x * a Python scalar: a new tensor; the old one dies (nothing saved for backward)."""
    y = g.new(x.nb, x.rg)
    g.op((x,), (y,))
    g.drop(x)
    return y


def dropout(g: Sim, cx: Cx, x: Tn, p: float) -> Tn:
    """nn.Dropout in training on CPU: a noise tensor like x (bernoulli, same dtype), out = x * noise;
    the noise is saved. Identity when p == 0 or in eval.

    Source: pytorch-autograd"""
    if not cx.training or p <= 0.0:
        return g.view(x)
    noise = g.new(x.nb)
    out = g.new(x.nb, x.rg)
    g.op((x,), (out,), (noise,))
    g.drop(noise)
    return out


def act(g: Sim, x: Tn, kind: str) -> Tn:
    """One activation op. silu/gelu/gelu_tanh save their input; relu saves its output;
    gelu_new (GPT-2's tanh formula written out in Python) runs 8 ops and saves 4 tensors.

    Source: pytorch-autograd"""
    if kind == "gelu_new":
        # 0.5*x*(1+tanh(sqrt(2/pi)*(x+0.044715*x^3)))
        a1 = g.new(x.nb, x.rg)
        g.op((x,), (a1,))
        p3 = g.new(x.nb, x.rg)
        g.op((x,), (p3,), (x,))
        c3 = g.new(x.nb, x.rg)
        g.op((p3,), (c3,))
        g.drop(p3)
        s1 = g.new(x.nb, x.rg)
        g.op((x, c3), (s1,))
        g.drop(c3)
        s2 = g.new(x.nb, x.rg)
        g.op((s1,), (s2,))
        g.drop(s1)
        t = g.new(x.nb, x.rg)
        g.op((s2,), (t,), (t,))
        g.drop(s2)
        o1 = g.new(x.nb, x.rg)
        g.op((t,), (o1,))
        g.drop(t)
        y = g.new(x.nb, x.rg)
        g.op((a1, o1), (y,), (a1, o1))
        g.drop(a1, o1)
        return y
    if kind == "relu2":  # ReLUSquaredActivation: square(relu(x)); both ops save relu's output
        r = g.new(x.nb, x.rg)
        g.op((x,), (r,), (r,))
        y = g.new(x.nb, x.rg)
        g.op((r,), (y,), (r,))
        g.drop(r)
        return y
    y = g.new(x.nb, x.rg)
    g.op((x,), (y,), (y,) if kind == "relu" else (x,))
    return y


def act_kind(name: str) -> str:
    n = name.lower()
    if n in ("gelu_new", "gelu_fast", "gelu_pytorch_tanh_python"):
        return "gelu_new"
    if n == "relu2":
        return "relu2"
    if n.startswith("relu"):
        return "relu"
    return "silu"  # silu/swish/gelu/gelu_pytorch_tanh: one fused op saving its input


def gated_mlp(g: Sim, cx: Cx, x: Tn, f: int, fused: bool, act_name: str, bias: bool = False,
              leaves: tuple[str, str, str] = ("gate_proj", "up_proj", "down_proj"), p_drop: float = 0.0) -> Tn:
    """down(act(gate(x)) * up(x)) (Llama, Qwen, Mistral, Gemma); Phi-3 fuses [gate; up] in one matmul.

    Saved: gate (act input), act(gate), up, their product (down's input): 4 x T x f.

    Source: hf-llama"""
    d, T, c = cx.spec.hidden_size, cx.T, cx.c
    if fused:
        gu = linear(g, cx, x, d, 2 * f, leaves[1], bias)  # the fused [gate; up] leaf (Phi-3 gate_up_proj)
        gate, up = g.view(gu, gu.nb // 2), g.view(gu, gu.nb // 2)
        g.op((gu,), (gate, up))
        g.drop(gu)
        a = act(g, gate, act_kind(act_name))
        m = g.new(T * f * c, a.rg or up.rg)
        g.op((up, a), (m,), (up if a.rg else None, a if up.rg else None))
        g.drop(a, gate)
    else:
        gt = linear(g, cx, x, d, f, leaves[0], bias)
        a = act(g, gt, act_kind(act_name))
        g.drop(gt)
        up = linear(g, cx, x, d, f, leaves[1], bias)
        m = g.new(T * f * c, a.rg or up.rg)
        g.op((a, up), (m,), (a if up.rg else None, up if a.rg else None))
        g.drop(a)
    g.drop(up)
    y = linear(g, cx, m, f, d, leaves[2], bias)
    g.drop(m)
    if p_drop:  # Seed-OSS: dropout on the MLP output (residual_dropout)
        z = dropout(g, cx, y, p_drop)
        g.drop(y)
        return z
    return y


def plain_mlp(g: Sim, cx: Cx, x: Tn, f: int, act_name: str, leaves: tuple[str, str], p_drop: float = 0.0,
              consume: bool = False) -> Tn:
    """fc2(act(fc1(x))) with biases (GPT-2 c_fc/c_proj, NeoX dense_h_to_4h/dense_4h_to_h, OPT fc1/fc2).
    `consume`: the code rebinds the variable holding x to fc1's output (OPT's inline MLP), so x dies there.

    Source: hf-gpt2"""
    d = cx.spec.hidden_size
    h = linear(g, cx, x, d, f, leaves[0], cx.spec.mlp.bias)
    if consume:
        g.drop(x)
    a = act(g, h, act_kind(act_name))
    g.drop(h)
    y = linear(g, cx, a, f, d, leaves[1], cx.spec.mlp.bias)
    g.drop(a)
    if p_drop:
        z = dropout(g, cx, y, p_drop)
        g.drop(y)
        return z
    return y


def add_promoted(g: Sim, a: Tn, b: Tn) -> Tn:
    """a + b in the promoted dtype (fp32 + bf16 -> fp32 under autocast)."""
    y = g.new(max(a.nb, b.nb), a.rg or b.rg)
    g.op((a, b), (y,))
    return y
