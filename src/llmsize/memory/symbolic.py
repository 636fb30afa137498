"""Integers that remember how they were computed: the replay run on symbols, so each memory term comes
with its closed form (as Korthikanti et al. write activations per layer, s·b·h·(34 + 5·a·s/h)).

A `Sym` is an `int` (every comparison, format and dict key behaves as the number) that also carries a
polynomial over named dimensions: b·s·d·2 + 3·b·s·f·2. Sums and products of Syms stay Syms; a floor
division stays one when it is exact term by term; anything else (floats, bit tricks) falls back to a plain
int, which a closed form then shows as a literal number. The value is always the int's, so a closed form
evaluates to the replay's bytes by construction.

Source: korthikanti2022
"""
from __future__ import annotations

from typing import Any

Mono = tuple[str, ...]  # sorted symbol names, repeated for powers
Poly = dict[Mono, int]


def _poly(x: Any) -> Poly | None:
    if isinstance(x, Sym):
        return x.poly
    if isinstance(x, int) and not isinstance(x, bool):
        return {(): int(x)} if x else {}
    return None


def _clean(p: Poly) -> Poly:
    return {m: c for m, c in p.items() if c}


class Sym(int):
    """An int with its polynomial over dimension symbols."""

    poly: Poly

    def __new__(cls, value: int, poly: Poly | None = None, name: str | None = None) -> Sym:
        self = super().__new__(cls, value)
        self.poly = {(name,): 1} if name is not None else poly if poly is not None else {(): int(value)}
        return self

    # sums -------------------------------------------------------------------------------------
    def _add(self, other: Any, sign: int, reverse: bool = False) -> Any:
        q = _poly(other)
        if q is None:
            return NotImplemented
        a, b = (q, self.poly) if reverse else (self.poly, q)
        p = dict(a)
        for m, c in b.items():
            p[m] = p.get(m, 0) + sign * c
        v = (int(other) + sign * int(self)) if reverse else (int(self) + sign * int(other))
        return Sym(v, _clean(p))

    def __add__(self, other: Any) -> Any:
        return self._add(other, 1)

    def __radd__(self, other: Any) -> Any:
        return self._add(other, 1, reverse=True)

    def __sub__(self, other: Any) -> Any:
        return self._add(other, -1)

    def __rsub__(self, other: Any) -> Any:
        return self._add(other, -1, reverse=True)

    def __neg__(self) -> Any:
        return Sym(-int(self), {m: -c for m, c in self.poly.items()})

    def __pos__(self) -> Any:
        return self

    # products ---------------------------------------------------------------------------------
    def __mul__(self, other: Any) -> Any:
        q = _poly(other)
        if q is None:
            return int(self) * other
        p: Poly = {}
        for m1, c1 in self.poly.items():
            for m2, c2 in q.items():
                m = m1 if not m2 else m2 if not m1 else tuple(sorted(m1 + m2))
                p[m] = p.get(m, 0) + c1 * c2
        return Sym(int.__mul__(self, int(other)), _clean(p) if not q or 0 in q.values() else p)

    __rmul__ = __mul__

    def __floordiv__(self, other: Any) -> Any:
        q = _poly(other)
        v = int(self) // int(other) if q is not None else int(self) // other
        if q is None or len(q) != 1:
            return v
        (dm, dc), = q.items()
        p: Poly = {}
        for m, c in self.poly.items():
            rest = list(m)
            for s in dm:
                if s not in rest:
                    return v
                rest.remove(s)
            if c % dc:
                return v
            p[tuple(rest)] = c // dc
        return Sym(v, p)

    def __rfloordiv__(self, other: Any) -> Any:
        return other // int(self)

    def __repr__(self) -> str:
        return int.__repr__(self)

    def __hash__(self) -> int:
        # Equal to its number, but hashed with its polynomial: a cache keyed on a symbolic spec or shape
        # keeps its own entries, so the plain replay's caches never hand back (or receive) a symbolic run's
        return hash((int(self), frozenset(self.poly.items())))


def sym(value: int | None, name: str) -> Any:
    """`value` as the symbol `name` (None and 0 stay as they are: absent dimensions)."""
    return value if not value or isinstance(value, bool) else Sym(value, name=name)


def polynomial(x: Any) -> Poly:
    """The polynomial of an int (a plain int is a constant)."""
    return _poly(x) or {}


# ------------------------------------------------------------------------------ rendering

_ORDER = ("b", "s", "s_p", "n", "L", "d", "f", "f_e", "E", "k", "n_h", "n_kv", "d_h", "r_q", "r_kv", "d_rope", "d_in",
          "H", "G", "P", "N", "V")


def symbol_order(s: str) -> tuple[int, str]:
    """b, s, n first (the workload), then the model's widths, as the papers write them."""
    return (_ORDER.index(s) if s in _ORDER else len(_ORDER), s)


def _mono(m: Mono, values: dict[str, int] | None) -> list[str]:
    out: list[str] = []
    for s in sorted(set(m), key=symbol_order):
        n = m.count(s)
        if values is None:
            out.append(s + ("²" if n == 2 else "³" if n == 3 else "" if n == 1 else f"^{n}"))
        else:
            out.extend([str(values[s])] * n)
    return out


def render(p: Poly, values: dict[str, int] | None = None) -> str:
    """The polynomial as b·s·(24·d + 6·f) (symbols) or with `values` substituted as plain arithmetic
    (1·2048·(24·2048 + 6·8192)), which evaluates to the same integer."""
    if not p:
        return "0"
    common = [s for s in sorted({s for m in p for s in m}) if all(s in m for m in p)]
    common_m: list[str] = []
    for s in common:
        common_m += [s] * min(m.count(s) for m in p)
    common_m.sort(key=symbol_order)
    inner: list[tuple[int, list[str]]] = []
    for m, c in sorted(p.items(), key=lambda kv: (-len(kv[0]), kv[0])):
        rest = list(m)
        for s in common_m:
            rest.remove(s)
        inner.append((c, _mono(tuple(rest), values)))
    parts = []
    for i, (c, f) in enumerate(inner):
        mag = abs(c)
        body = "·".join(([f"{mag}"] if mag != 1 or not f else []) + f)
        sign = "-" if c < 0 else "+"
        parts.append((sign if c < 0 else "") + body if i == 0 else f" {sign} {body}")
    body = "".join(parts)
    head = _mono(tuple(common_m), values)
    if not head:
        return body
    return "·".join(head) + (f"·({body})" if len(inner) > 1 else "" if body == "1" else f"·{body}")
