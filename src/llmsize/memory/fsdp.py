"""Per-rank peak of FSDP2 training, replayed: the single-device replay's tensors and lifetimes
(`regions`), with FSDP2's own buffers placed where `fully_shard` allocates and frees them.

Every point is  base + activations + working set + FSDP buffers, with
  base        = S (sharded params, padded, master dtype) + M (optimizer states, this rank's rows)
                + buffers + input ids (b·s·8)
  forward i   : R_u + U_i + AG_i (+ AG_{i-1} during i's copy-out; no reshard: + Σ_{j<i} U_j)
  head, loss  : R_u + AG_{L-1} (freed by the root's post-forward; no reshard: + Σ U)
  loss bwd    : R_u + AG_{L-1} (the root's backward prefetch; no reshard: Σ U)
  backward i  : R_u + G_root + Σ_{j>i} G_j + RS_{i+1} + U_i + AG_{i-1} (prefetch)
  post-bwd i  : ... + its unsharded grads + RS_i, then RS_i + RS_out_i
  step        : S + G + M + step temporaries + input ids + the loss
with R_u the root group unsharded (compute dtype; padded: each unsharded parameter is a view into its
own all-gather output of W·⌈d0/W⌉ rows), U_i layer i unsharded (likewise), AG all-gather outputs
(padded, compute dtype), RS reduce-scatter inputs (padded, reduce dtype), G sharded grads (padded,
master dtype). The root is not resharded after forward (FSDP2's default for the root).

Source: pytorch-fsdp2
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

from llmsize.errors import LlmsizeError
from llmsize.memory.estimate import context
from llmsize.memory.layers import position_tables
from llmsize.memory.masks import mask_bytes
from llmsize.memory.optimizer import optimizer_memory
from llmsize.memory.regions import layer_regions, run_embed, run_head
from llmsize.memory.sharding import GroupNumels, groups
from llmsize.memory.train import x_bytes
from llmsize.memory.weights import rope_buffers, weights
from llmsize.memory.workload import DTYPE_BYTES, Workload
from llmsize.spec import ModelSpec

LOSS_BYTES = 4  # the fp32 loss scalar the training loop's variable keeps through opt.step()


@dataclass(frozen=True, slots=True, kw_only=True)
class FsdpSetup:
    """One FSDP2 job as one rank sees it: shard group size, rank, reshard_after_forward of the decoder
    layers, MixedPrecisionPolicy dtypes (None: the parameters' own), expert stacks sharded on dim 1
    (a `shard_placement_fn`) instead of FSDP2's default dim 0, and hybrid sharding (HSDP: replicas
    all-reduce the reduce-scatter output, which FSDP2 keeps alive across one layer)."""

    world: int
    rank: int = 0
    reshard_after_forward: bool = True
    param_dtype: str | None = None
    reduce_dtype: str | None = None
    experts_dim1: bool = False
    replicas: int = 1

    def __post_init__(self) -> None:
        for n in ("world", "replicas"):
            v = getattr(self, n)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise LlmsizeError(f"FSDP {n} must be a positive integer, got {v!r}")
        if isinstance(self.rank, bool) or not isinstance(self.rank, int) or not 0 <= self.rank < self.world:
            raise LlmsizeError(f"rank must be 0 to {self.world - 1} (the shard group), got {self.rank!r}")
        for n in ("param_dtype", "reduce_dtype"):
            v = getattr(self, n)
            if v is not None and v.lower() not in DTYPE_BYTES:
                raise LlmsizeError(f"FSDP {n} must be one of bf16, fp16, fp32, got {v!r}")


@dataclass(slots=True)
class _Pt:
    phase: str
    where: str
    parts: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.parts.values())


@dataclass(frozen=True, slots=True, kw_only=True)
class RankPeak:
    """The peak of one rank: bytes, phase, the moment (`where`), and the named parts live there (they
    sum to `peak_bytes`); `phases`: the peak of each phase."""

    peak_bytes: int
    phase: str
    where: str
    rank: int
    parts: tuple[tuple[str, int], ...]
    phases: dict[str, int] = field(default_factory=dict)


def _bytes(name: str | None, default: int) -> int:
    return DTYPE_BYTES[name.lower()] if name else default


def fsdp2_peak(spec: ModelSpec, wl: Workload, fs: FsdpSetup) -> RankPeak:
    """Peak bytes of rank `fs.rank` training `wl` under FSDP2 (fully_shard per decoder layer and on
    the root), over forward, backward and the optimizer step of a steady-state iteration.

    Source: pytorch-fsdp2"""
    if wl.mode != "train":
        raise LlmsizeError("FSDP applies to training (mode train); inference shards with --tp/--pp")
    if wl.lora is not None:
        raise LlmsizeError("FSDP with LoRA is not modelled: the per-GPU model covers full fine-tuning")
    pb = wl.w_bytes  # master (sharded) dtype
    cb = _bytes(fs.param_dtype, wl.c_bytes)  # unsharded params, compute, activations
    rb = _bytes(fs.reduce_dtype, cb)  # reduce-scatter dtype (default: the gradients')
    cwl = replace(wl, weights_dtype={2: "bf16", 4: "fp32"}[cb], autocast=None)
    cx = context(spec, cwl)
    gs = groups(spec, fs.world, fs.rank, fs.experts_dim1)
    root, lays = gs[0], gs[1:]
    L = len(lays)

    def U(g: GroupNumels) -> int:  # unsharded params are views into per-parameter padded all-gather outputs
        return g.padded * cb

    def AG(g: GroupNumels) -> int:
        return g.padded * cb

    def RS(g: GroupNumels) -> int:
        return g.padded * rb

    def G(g: GroupNumels) -> int:
        return g.shard * pb

    wt = weights(spec, wl)
    local = sum(g.local for g in gs)
    om = optimizer_memory(wl.opt, replace(wt, trainable=local, trainable_bytes=local * pb,
                                          trainable_tensors=sum(g.tensors for g in gs),
                                          largest=max(g.largest_local for g in gs)))
    G_all = sum(G(g) for g in gs)
    accum = wl.grad_accumulation > 1  # sharded grads of earlier micro-batches stay; new ones add in place
    base = {"sharded parameters": sum(g.shard for g in gs) * pb, "optimizer states": om.states,
            "buffers": rope_buffers(spec), "input ids": wl.batch * wl.seq_len * 8,
            "sharded gradients": G_all if accum else 0}
    raf = fs.reshard_after_forward
    gc = wl.grad_checkpointing
    e_peak, x0, held, e_saved, x0_is_e = run_embed(cx, True)
    regs = layer_regions(cx, True, True)
    recs = layer_regions(cx, True, False) if gc else []
    hreg = run_head(cx, "train", True)
    X = x_bytes(cx)
    masks = mask_bytes(spec, cx)
    acc = e_saved + position_tables(cx) + (masks if gc else 0)
    e_held = held - position_tables(cx) + (0 if gc else masks)
    keep_x0 = x0_is_e and not (gc or (regs and regs[0].in_saved))
    pts: list[_Pt] = []

    def pt(phase: str, where: str, **parts: int) -> None:
        d = dict(base)
        for k, v in parts.items():
            name = k.replace("_", " ")
            d[name] = d.get(name, 0) + v
        pts.append(_Pt(phase, where, d))

    R_u = U(root)
    pt("forward", "embedding (root all-gathered)", root_unsharded=R_u, all_gather_buffers=AG(root),
       working_set=e_peak)
    held_u = 0  # layers left unsharded by reshard_after_forward=False
    for i, r in enumerate(regs):
        hold = e_held + (X if i and keep_x0 else 0)
        prev_ag = AG(root) if i == 0 else AG(lays[i - 1])
        pt("forward", f"layer {i} all-gather copy-out", root_unsharded=R_u, layers_unsharded=held_u + U(lays[i]),
           all_gather_buffers=prev_ag + AG(lays[i]), saved_activations=acc, held=hold, working_set=X)
        work = recs[i].fw_peak if gc else r.fw_peak
        pt("forward", f"layer {i} forward", root_unsharded=R_u, layers_unsharded=held_u + U(lays[i]),
           all_gather_buffers=AG(lays[i]), saved_activations=acc, held=hold, working_set=work)
        acc += X if gc else r.saved
        if not raf:
            held_u += U(lays[i])
    last_ag = AG(lays[-1]) if L else 0
    pt("forward", "final norm, LM head and loss", root_unsharded=R_u, layers_unsharded=held_u,
       all_gather_buffers=last_ag, saved_activations=acc,
       working_set=max(hreg.pre_peak + e_held + (X if keep_x0 else 0), hreg.fw_peak))
    A = acc
    pt("backward", "loss backward", root_unsharded=R_u, layers_unsharded=held_u,
       all_gather_buffers=last_ag if raf else 0, saved_activations=A, working_set=hreg.bw_peak)
    g_root = hreg.pgrad  # the root's unsharded gradients (LM head, final norm), kept to its post-backward
    g_sh = 0  # sharded gradients of the layers done
    rs_prev = 0  # the previous layer's reduce-scatter input, kept until this post-backward
    hsdp_prev = 0  # HSDP: the previous reduce-scatter output, held across one layer for the all-reduce
    for i in range(L - 1, -1, -1):
        r, g = regs[i], lays[i]
        A -= X if gc else r.saved
        if not raf:
            held_u -= U(g)
        pre = AG(lays[i - 1]) if raf and i else 0  # backward prefetch of the next layer
        common = dict(root_unsharded=R_u, root_gradients=g_root, sharded_gradients=g_sh,
                      saved_activations=A, layers_unsharded=held_u)
        if raf:
            pt("backward", f"layer {i} all-gather copy-out", **{**common, "layers_unsharded": U(g)},
               all_gather_buffers=AG(g), reduce_scatter_buffers=rs_prev + hsdp_prev,
               working_set=X + (X if gc else r.saved))
        work = max(r.fw_peak + X, r.bw_peak + (0 if r.in_saved else X)) if gc else r.bw_peak
        pt("backward", f"layer {i} backward", **{**common, "layers_unsharded": held_u + U(g)},
           all_gather_buffers=pre, reduce_scatter_buffers=rs_prev + hsdp_prev, working_set=work)
        pt("backward", f"layer {i} reduce-scatter copy-in", **common, all_gather_buffers=pre,
           reduce_scatter_buffers=RS(g) + hsdp_prev, working_set=r.bw_end)
        cast = G(g) if rb != pb else 0  # the reduce-dtype output cast to the sharded dtype
        pt("backward", f"layer {i} reduce-scatter output", **common, all_gather_buffers=pre,
           reduce_scatter_buffers=RS(g) + g.shard * rb + hsdp_prev, reduce_scatter_cast=cast,
           working_set=r.bw_end - r.pgrad)
        rs_prev = RS(g)
        hsdp_prev = g.shard * rb if fs.replicas > 1 else 0
        if not accum:
            g_sh += G(g)
    if cx.train_base:
        emb = spec.vocab_size * spec.word_embed_dim * cb
        pt("backward", "embedding backward", root_unsharded=R_u, root_gradients=g_root, sharded_gradients=g_sh,
           reduce_scatter_buffers=rs_prev + hsdp_prev,
           working_set=X + (2 * emb if spec.tie_word_embeddings else emb))
    pt("backward", "root reduce-scatter", sharded_gradients=g_sh, root_gradients=U(root),
       reduce_scatter_buffers=RS(root) + hsdp_prev)
    step = {"sharded parameters": base["sharded parameters"], "sharded gradients": G_all,
            "optimizer states": om.states, "optimizer step temporaries": om.step_temp,
            "buffers": base["buffers"], "input ids": base["input ids"], "loss": LOSS_BYTES}
    pts.append(_Pt("optimizer step", "optimizer step", step))
    phases: dict[str, int] = {}
    for p in pts:
        phases[p.phase] = max(phases.get(p.phase, 0), p.total)
    best = max(pts, key=lambda p: p.total)
    return RankPeak(peak_bytes=best.total, phase=best.phase, where=best.where, rank=fs.rank,
                    parts=tuple((k, v) for k, v in best.parts.items() if v), phases=phases)
