"""A tiny replay of PyTorch's storage lifetimes for one module: which tensors exist, for how long.

The model code (blocks.py, layers.py) calls `new`/`view`/`drop` exactly where the Hugging Face code
creates a tensor or lets a Python variable die, and `op` where an autograd node saves tensors for
backward. `Sim` tracks live bytes and their peak; `backward()` walks the recorded nodes in reverse,
allocating input gradients, releasing output gradients and saved tensors the way autograd's engine
does (a node's saved tensors are released right after it runs; gradients reaching one tensor from two
consumers are summed in place). Nothing here knows about models: bytes in, bytes out.

Source: pytorch-autograd
"""
from __future__ import annotations


class Storage:
    """One allocation. `refs`: live Python handles; `saved`: autograd nodes still holding it."""

    __slots__ = ("nb", "refs", "saved")

    def __init__(self, nb: int) -> None:
        self.nb = nb
        self.refs = 1
        self.saved = 0


class Tn:
    """A tensor handle: a view of `st` of `nb` bytes (its gradient has `nb` bytes too). `alias`: the
    tensor whose gradient this one shares (a second Python name for the same tensor)."""

    __slots__ = ("st", "nb", "rg", "alias")

    def __init__(self, st: Storage, nb: int, rg: bool, alias: "Tn | None" = None) -> None:
        self.st, self.nb, self.rg, self.alias = st, nb, rg, alias


class Node:
    __slots__ = ("ins", "outs", "saved", "pgrad", "ptemp", "btemp")

    def __init__(self, ins: tuple[Tn, ...], outs: tuple[Tn, ...], saved: tuple[Storage, ...], pgrad: int,
                 ptemp: int, btemp: int = 0) -> None:
        self.ins, self.outs, self.saved, self.pgrad, self.ptemp = ins, outs, saved, pgrad, ptemp
        self.btemp = btemp


class Sim:
    """Live bytes of one region (a decoder layer, the head) replayed op by op."""

    __slots__ = ("grad", "live", "peak", "nodes", "pgrad", "keep", "peak_pgrad", "peak_act")

    def __init__(self, grad: bool) -> None:
        self.grad = grad
        self.live = 0
        self.peak = 0
        self.nodes: list[Node] = []
        self.pgrad = 0  # parameter-gradient bytes produced by backward()
        self.keep: list[Tn] = []  # tensors a caller's variable keeps until its scope ends
        self.peak_pgrad = 0  # parameter-gradient bytes live at backward()'s peak
        self.peak_act = 0  # saved bytes still held at backward()'s peak

    # -- forward ---------------------------------------------------------------------------
    def new(self, nb: int, rg: bool = False) -> Tn:
        """Allocate a fresh storage of nb bytes (an op's output)."""
        self.live += nb
        if self.live > self.peak:
            self.peak = self.live
        return Tn(Storage(nb), nb, rg and self.grad)

    def external(self, nb: int, rg: bool = False, held: bool = False) -> Tn:
        """A tensor made before this region and live when it starts (the layer input, a mask).

        `held`: the caller keeps it beyond the region, so the region never frees it."""
        self.live += nb
        if self.live > self.peak:
            self.peak = self.live
        st = Storage(nb)
        if held:
            st.refs = 1 << 30
        return Tn(st, nb, rg and self.grad)

    def view(self, t: Tn, nb: int | None = None) -> Tn:
        """A second handle on t's storage (slicing, .view, .transpose, a kept Python reference). A view
        of the same size shares t's gradient; a smaller one needs an `op` linking it to t."""
        t.st.refs += 1
        if nb is None or nb == t.nb:
            return Tn(t.st, t.nb, t.rg, t.alias or t)
        return Tn(t.st, nb, t.rg)

    def drop(self, *ts: Tn | None) -> None:
        """Python variables die: free each storage with no handle and no autograd node left."""
        for t in ts:
            if t is None:
                continue
            st = t.st
            st.refs -= 1
            if st.refs == 0 and st.saved == 0:
                self.live -= st.nb

    def op(self, ins: tuple[Tn, ...], outs: tuple[Tn, ...], save: tuple[Tn | None, ...] = (), pgrad: int = 0,
           ptemp: int = 0, btemp: int = 0) -> None:
        """Record an autograd node: inputs, outputs, tensors it saves, bytes of parameter grads it makes
        (`ptemp`: a transient gradient before casting to the parameter's dtype, e.g. autocast copies;
        `btemp`: temporaries its backward formula makes and frees, live beside the input gradients)."""
        if not self.grad or not (pgrad or ptemp or any(t.rg for t in ins)):
            return
        saved = []
        for t in save:
            if t is not None:
                t.st.saved += 1
                saved.append(t.st)
        self.nodes.append(Node(ins, outs, tuple(saved), pgrad, ptemp, btemp))

    def saved_bytes(self) -> int:
        """Bytes held only by autograd at the end of the forward (the activations kept for backward)."""
        seen: set[int] = set()
        n = 0
        for node in self.nodes:
            for st in node.saved:
                if id(st) not in seen and st.refs <= 0:
                    seen.add(id(st))
                    n += st.nb
        return n

    # -- backward --------------------------------------------------------------------------
    def backward(self, out: Tn, start: int, act: int = 0) -> tuple[int, int, int]:
        """Run autograd over the recorded nodes from the gradient of `out` (already live in `start`).

        Returns (peak live bytes, live bytes at the end, parameter-gradient bytes made), all counted
        from `start` = bytes live when the region's backward begins (its saved tensors included). `act`: the
        saved bytes among them; what is left of them at the peak is kept in `peak_act`."""
        live = peak = start
        grads: dict[int, int] = {id(out.alias or out): out.nb}
        pg = 0

        def key(t: Tn) -> int:
            return id(t.alias or t)
        for node in reversed(self.nodes):
            if not any(key(o) in grads for o in node.outs):
                for st in node.saved:  # an unused branch: its graph is freed with the rest
                    st.saved -= 1
                    if st.saved == 0 and st.refs <= 0:
                        live -= st.nb
                        act -= st.nb
                continue
            live += node.btemp
            for t in node.ins:
                if t.rg:
                    live += t.nb
                    if live > peak:
                        peak, self.peak_pgrad, self.peak_act = live, pg, act
                    if key(t) in grads:
                        live -= t.nb  # summed into the existing buffer
                    else:
                        grads[key(t)] = t.nb
            live -= node.btemp
            if node.pgrad or node.ptemp:  # ptemp alone: a gradient summed into an existing .grad (tied weights)
                live += node.ptemp + node.pgrad
                pg += node.pgrad
                if live > peak:
                    peak, self.peak_pgrad, self.peak_act = live, pg, act
                live -= node.ptemp
            for o in node.outs:
                nb = grads.pop(key(o), None)
                if nb is not None:
                    live -= nb
            for st in node.saved:
                st.saved -= 1
                if st.saved == 0 and st.refs <= 0:
                    live -= st.nb
                    act -= st.nb
        self.pgrad = pg
        return peak, live, pg
