"""How numbers and tables look to a person: the one place for the CLI's formatting rules.

Presenters format values that the core computed; nothing here computes an estimate.

- Bytes: 14.96 GiB (IEC) or 16.06 GB (SI); counts with thousands separators.
- Money: cents only under $100 ($0.79, $13.77), whole dollars below a million ($15,606), then
  $1.2M / $3.4B; amounts under a cent keep two significant digits ($0.0042).
- Time: ms under a second, seconds under two minutes, then minutes, hours, days, years.
- Tables fit the terminal: the full table when it fits; otherwise the wordy columns (formula, source)
  move into a numbered list under the table; when even that is too wide, each row is stacked as
  `column: value` lines. Numbers and headers are never cut with an ellipsis.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from llmsize.parallel import spoken_label as layout_label  # noqa: F401  (the presenters' name)

#: columns whose text is explanation rather than a value: first to leave the table when narrow
DETAIL_COLUMNS = frozenset({"formula", "source", "why", "closed form"})
_MIN_DETAIL_WIDTH = 28  # a formula squeezed narrower than this reads as a tall column of fragments


def fmt_bytes(n: int | float, units: str = "iec") -> str:
    """14.96 GiB / 16.06 GB; small values in MiB/MB or bytes."""
    base, names = (1024.0, ("B", "KiB", "MiB", "GiB", "TiB", "PiB")) if units == "iec" else \
        (1000.0, ("B", "kB", "MB", "GB", "TB", "PB"))
    v, i = float(n), 0
    while abs(v) >= base and i < len(names) - 1:
        v /= base
        i += 1
    return f"{int(v):,} {names[i]}" if i == 0 else f"{v:,.2f} {names[i]}"


def fmt_size(n: int | float, units: str = "iec") -> str:
    """Bytes to three significant digits for tables that compare many rows: 17.8 GiB, 131 GiB, 9.52 GiB."""
    text = fmt_bytes(n, units)
    num, unit = text.split(" ")
    v = float(num.replace(",", ""))
    if unit in ("B",) or v < 10:
        return text
    return f"{v:,.1f} {unit}" if v < 100 else f"{v:,.0f} {unit}"


def fmt_count(n: int) -> str:
    """1,234,567 (exact) with a short form: 8,030,261,248 (8.03B)."""
    for div, s in ((10**12, "T"), (10**9, "B"), (10**6, "M"), (10**3, "K")):
        if abs(n) >= div:
            return f"{n:,} ({n / div:.2f}{s})"
    return f"{n:,}"


def fmt_short(n: float) -> str:
    """A large count in short form only: 160.61B, 1.14T, 8.2K; small ones with separators."""
    for div, s in ((10**12, "T"), (10**9, "B"), (10**6, "M"), (10**3, "K")):
        if abs(n) >= div:
            return f"{n / div:,.2f}{s}"
    return f"{n:,.0f}" if float(n).is_integer() else f"{n:,.2f}"


def fmt_flops(x: float) -> str:
    """5.88 × 10²¹ FLOPs, not 5.88e+21; below 10^15 a short count (51.5T)."""
    if x < 1e15:
        return fmt_short(x)
    mant, exp = f"{x:.2e}".split("e")
    return f"{mant} × 10{str(int(exp)).translate(str.maketrans('0123456789-', '⁰¹²³⁴⁵⁶⁷⁸⁹⁻'))}"


def fmt_money(x: float | None) -> str:
    """$0.79, $13.77, $1,234, $15,606, $1.2M, $3.4B; '-' when there is no price."""
    if x is None:
        return "-"
    sign, a = ("-" if x < 0 else ""), abs(float(x))
    if a == 0:
        return "$0"
    if a < 0.01:
        return f"{sign}${a:.2g}"
    if a < 100:
        return f"{sign}${a:,.2f}"
    if a < 1e6:
        return f"{sign}${a:,.0f}"
    if a < 1e9:
        return f"{sign}${a / 1e6:,.1f}M"
    return f"{sign}${a / 1e9:,.1f}B"


def fmt_duration(s: float | None) -> str:
    """850 ms, 12.3 s, 4.5 min, 3.2 h, 12.5 days, 4.1 years; '-' when unknown."""
    if s is None:
        return "-"
    for limit, div, unit in ((1, 1e-3, "ms"), (120, 1, "s"), (7200, 60, "min"), (3 * 86400, 3600, "h"),
                             (730 * 86400, 86400, "days")):
        if s < limit:
            v = s / div
            return f"{v:,.3g} {unit}" if v < 100 else f"{v:,.0f} {unit}"
    return f"{s / (365.25 * 86400):,.1f} years"


def fmt_days(days: float | None) -> str:
    """A duration given in days, in the unit a person would say it in."""
    return "-" if days is None else fmt_duration(days * 86400)


def fmt_rate(v: float) -> str:
    """1,234 / 12.3 / 0.123: three significant digits below 1,000, thousands separators above."""
    return f"{v:,.0f}" if v >= 1000 else f"{v:.3g}"


def fmt_big(v: float) -> str:
    """51.5 G, 5.15 × 10²²: FLOP counts."""
    for div, s in ((1e12, "T"), (1e9, "G"), (1e6, "M")):
        if 1 <= v / div < 1000:
            return f"{v / div:.3g} {s}"
    return fmt_flops(v) if v >= 1e15 else f"{v:.3g}"


def terminal_width() -> int | None:
    """The terminal's width (COLUMNS when set) when stderr is a terminal; None for a pipe or file, so a
    tool that greps a note finds it on one line."""
    import shutil
    import sys

    return shutil.get_terminal_size().columns if sys.stderr.isatty() else None


def wrap(msg: str, width: int | None) -> str:
    """`msg` wrapped at `width` (continuation lines indented); as it is when width is None."""
    import textwrap

    return msg if width is None else textwrap.fill(msg, width=width, subsequent_indent="  ",
                                                   break_long_words=False, break_on_hyphens=False)


def echo_err(msg: str) -> None:
    """A message for stderr, wrapped at the terminal's width."""
    import click

    click.echo(wrap(msg, terminal_width()), err=True)


# ---------------------------------------------------------------- tables that fit the terminal

class FitTable:
    """A table that picks its layout for the width it is printed at (rich's render protocol):
    full, details as numbered notes, or stacked rows."""

    def __init__(self, title: str | None, columns: Sequence[str | tuple[str, str]], rows: Iterable[Sequence[Any]],
                 caption: str | None = None, details: Iterable[str] | None = None) -> None:
        self.title, self.caption = title, caption
        self.columns = [(c, "left") if isinstance(c, str) else (c[0], c[1]) for c in columns]
        self.rows = [["" if x is None else str(x) for x in r] for r in rows]
        names = [n for n, _ in self.columns]
        wanted = DETAIL_COLUMNS if details is None else frozenset(details)
        self.detail = [i for i, n in enumerate(names) if n in wanted and i > 0]

    # widths -----------------------------------------------------------------
    def _max(self, i: int) -> int:
        from rich.cells import cell_len

        cells = [self.columns[i][0], *(r[i] for r in self.rows if i < len(r))]
        return max((cell_len(line) for c in cells for line in (c.splitlines() or [""])), default=0)

    def _min(self, i: int) -> int:
        """The narrowest the column can be without cutting a word (a number is one word; headers wrap)."""
        from rich.cells import cell_len

        right = self.columns[i][1] == "right"  # a number with its unit stays whole; longer text may wrap
        cells = [w for r in self.rows if i < len(r)
                 for w in ([r[i]] if right and len(r[i].split()) <= 2 else r[i].split())]
        return max((cell_len(w) for w in self.columns[i][0].split() + cells), default=1)

    def _fit(self, cols: list[int], width: int, compact: bool) -> list[int] | None:
        """Column widths for `cols` within `width` (shrinking the widest first), or None."""
        avail = width - (2 * (len(cols) - 1) if compact else 3 * len(cols) + 1)
        w, lo = [self._max(i) for i in cols], [self._min(i) for i in cols]
        if sum(lo) > avail:
            return None
        while sum(w) > avail:
            k = max((j for j in range(len(w)) if w[j] > lo[j]), key=lambda j: w[j])
            w[k] -= 1
        return w

    def _constant(self, cols: list[int]) -> list[int]:
        """Columns holding one value in every row (said once above the table when space is short)."""
        if len(self.rows) < 2:
            return []
        return [i for i in cols if i not in self.detail
                and len({r[i] if i < len(r) else "" for r in self.rows}) == 1 and self.rows[0][i] not in ("", "-")]

    # render -----------------------------------------------------------------
    def __rich_console__(self, console: Any, options: Any) -> Any:
        from rich.text import Text

        width = options.max_width
        if self.title:
            yield Text(self.title, style="bold")
        cols = list(range(len(self.columns)))
        keep = [i for i in cols if i not in self.detail]
        whole = self._fit(cols, width, compact=False)
        if whole is not None and all(whole[k] >= min(self._max(i), _MIN_DETAIL_WIDTH)
                                     for k, i in enumerate(cols)):
            yield self._table(cols, whole, compact=False)  # everything, formulas wrapped in a roomy column
        else:
            same, out = sorted(self._constant(keep), key=self._max, reverse=True), []
            while same and len(out) + 1 < len(keep) and not self._fits(cols, keep, width):
                i = same.pop(0)  # the widest column with one value in every row is said once, above
                out.append(i)
                cols, keep = [c for c in cols if c != i], [c for c in keep if c != i]
            if out:
                yield Text("in every row: " + ", ".join(f"{self.columns[i][0] or '-'} {self.rows[0][i]}"
                                                        for i in sorted(out)))
            yield from self._narrow(cols, keep, width)
        if self.caption:
            yield Text(self.caption)

    def _fits(self, cols: list[int], keep: list[int], width: int) -> bool:
        if self.detail:
            return self._with_number(keep)._fit(list(range(len(keep) + 1)), width, compact=True) is not None
        return self._fit(cols, width, compact=True) is not None

    def _narrow(self, cols: list[int], keep: list[int], width: int) -> Any:
        from rich.text import Text

        if self.detail:
            num = self._with_number(keep)
            for compact in (False, True):
                w = num._fit(list(range(len(keep) + 1)), width, compact)
                if w is not None:
                    yield num._table(list(range(len(keep) + 1)), w, compact)
                    notes = []
                    for k, r in enumerate(self.rows, 1):
                        bits = [(self.columns[i][0], r[i]) for i in self.detail if i < len(r) and r[i] not in ("", "-")]
                        if bits:
                            notes.append((f"[{k}]", bits[0][1] + "".join(f" ({n}: {b})" for n, b in bits[1:])))
                    yield _numbered(notes)
                    return
        else:
            for compact in (False, True):
                w = self._fit(cols, width, compact)
                if w is not None:
                    yield self._table(cols, w, compact)
                    return
        for r in self.rows:  # stacked: one block per row, its values as `column: value` pairs
            yield Text(r[cols[0]] if r else "", style="bold")
            pairs = [f"{self.columns[i][0] or '-'}: {r[i]}" for i in cols[1:] if i < len(r) and r[i] != ""]
            yield from _packed(pairs, width)

    def _with_number(self, keep: list[int]) -> FitTable:
        return FitTable(None, [("#", "right"), *(self.columns[i] for i in keep)],
                        [[str(k), *(r[i] if i < len(r) else "" for i in keep)] for k, r in enumerate(self.rows, 1)],
                        details=())

    def _table(self, cols: list[int], widths: list[int], compact: bool) -> Any:
        from rich import box
        from rich.table import Table
        from rich.text import Text

        t = Table(box=box.SIMPLE_HEAD if compact else box.HEAVY_HEAD, show_edge=not compact,
                  pad_edge=not compact, padding=(0, 1, 0, 0) if compact else (0, 1))  # compact: 2 spaces apart
        for i, w in zip(cols, widths):
            name, justify = self.columns[i]
            t.add_column(name, justify=justify, width=w, overflow="fold")  # type: ignore[arg-type]
        for r in self.rows:
            t.add_row(*(Text(r[i] if i < len(r) else "") for i in cols))  # plain text: names are user input
        return t


def _packed(pairs: list[str], width: int, indent: str = "   ") -> Any:
    """`a: 1; b: 2; ...` lines of at most `width`, breaking between pairs (inside one only when it is
    longer than a line by itself)."""
    from rich.cells import cell_len
    from rich.text import Text

    line = ""
    for p in pairs:
        cand = f"{line}; {p}" if line else p
        if line and cell_len(indent + cand) > width:
            yield Text(indent + line + ";")
            line = p
        else:
            line = cand
    if line:
        yield _numbered([(indent[:-1], line)]) if cell_len(indent + line) > width else Text(indent + line)


def _numbered(items: Sequence[tuple[str, str]]) -> Any:
    """Numbered notes whose wrapped lines stay indented under their text: [1] text..."""
    from rich.table import Table
    from rich.text import Text

    g = Table.grid(padding=(0, 1))
    g.add_column(no_wrap=True)
    g.add_column(overflow="fold")
    for k, text in items:
        g.add_row(Text(k), Text(text))
    return g


def closed_form_lines(c: Any, terms: Sequence[Any]) -> None:
    """Each term's closed form, numbered as the table's rows: the symbols, then the numbers substituted
    (plain arithmetic that evaluates to the term's bytes), and a layer's saved activations."""
    from rich.text import Text

    from llmsize.memory.symbolic import symbol_order

    forms = [(k, t) for k, t in enumerate(terms, 1) if getattr(t, "closed_form", None) is not None]
    if not forms:
        return
    values: dict[str, int] = {}
    for _, t in forms:
        values.update(t.closed_form.values)
    c.print(Text("Closed forms, the replay's polynomial (" +
                 ", ".join(f"{k} = {values[k]}" for k in sorted(values, key=symbol_order)) + ")", style="bold"))
    items: list[tuple[str, str]] = []
    for k, t in forms:
        cf = t.closed_form
        text = f"{t.name} = {cf.symbolic}"
        if cf.numbers != cf.symbolic:
            text += f" = {cf.numbers}"
        items.append((f"[{k}]", text + ("" if cf.symbolic == str(t.bytes) else f" = {t.bytes:,}") + " B"))
        for kind, symb, nums, nb in cf.per_layer:
            items.append(("", f"one {kind}: {symb} = {nums} = {nb:,} B"))
    c.print(_numbered(items))


def table(title: str | None, columns: Sequence[str | tuple[str, str]], rows: Iterable[Sequence[Any]],
          *, caption: str | None = None, details: Iterable[str] | None = None) -> FitTable:
    """A table for `console().print`; columns as names or (name, justify). Columns named in `details`
    (default: formula, source) are the first to leave the table for numbered notes when narrow."""
    return FitTable(title, columns, rows, caption=caption, details=details)
