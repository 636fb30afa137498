"""Each memory term's closed form (issue #14 item 1): the replay run on symbols gives a polynomial whose
numbers-substituted arithmetic a reader can evaluate by hand; it must equal the term's bytes exactly, for
every term of every measured case (families, modes, LoRA, checkpointing, generate)."""
from __future__ import annotations

import ast
import json

import pytest

from llmsize.adapters.hf_config import spec_from_config
from llmsize.memory.closed_form import closed_forms
from llmsize.memory.estimate import estimate
from llmsize.memory.symbolic import Sym, render, sym
from llmsize.validate import parse_cases

from pathlib import Path

DATA = Path(__file__).resolve().parent.parent / "data"


def evaluate(expr: str) -> int:
    """Plain integer arithmetic (+, -, ·, parentheses) as printed; anything else is refused."""
    tree = ast.parse(expr.replace("·", "*"), mode="eval")

    def ev(n: ast.AST) -> int:
        if isinstance(n, ast.Expression):
            return ev(n.body)
        if isinstance(n, ast.Constant) and type(n.value) is int:
            return n.value
        if isinstance(n, ast.UnaryOp) and isinstance(n.op, ast.USub):
            return -ev(n.operand)
        if isinstance(n, ast.BinOp) and isinstance(n.op, (ast.Add, ast.Sub, ast.Mult)):
            a, b = ev(n.left), ev(n.right)
            return a + b if isinstance(n.op, ast.Add) else a - b if isinstance(n.op, ast.Sub) else a * b
        raise AssertionError(f"not plain arithmetic: {ast.dump(n)[:80]}")

    return ev(tree)


def _cases():
    out = []
    for name in ("calib.jsonl", "truth_families.jsonl", "truth_extra.jsonl", "truth_families_14e.jsonl",
                 "truth_families_14e_heldout.jsonl"):
        lines = (DATA / name).read_text().splitlines()
        for c in parse_cases(lines, name):
            if c.parallel is None:
                out.append(pytest.param(c, id=f"{name}:{c.id}"))
    return out


_SPECS: dict[str, object] = {}


@pytest.mark.parametrize("case", _cases())
def test_every_term_has_an_exact_closed_form(case):
    key = json.dumps(case.config, sort_keys=True)
    spec = _SPECS.get(key) or _SPECS.setdefault(key, spec_from_config(dict(case.config), case.model,
                                                                        warn=lambda m: None))
    est = estimate(spec, case.workload)
    forms = closed_forms(spec, case.workload, est)
    assert len(forms) == len(est.terms)
    for t, cf in zip(est.terms, forms):
        assert cf is not None, t.name
        assert t.name == "rotary inv_freq buffers" or any(ch.isalpha() for ch in cf.symbolic), (t.name, cf.symbolic)
        assert evaluate(cf.numbers) == t.bytes, (t.name, cf.symbolic)
        vals = dict(cf.values)
        assert evaluate(_substitute(cf.symbolic, vals)) == t.bytes, (t.name, cf.symbolic)
        for _, symb, nums, nb in cf.per_layer:
            assert evaluate(nums) == nb and evaluate(_substitute(symb, vals)) == nb
    assert sum(evaluate(cf.numbers) for cf in forms) == est.peak_bytes
    # the plain estimate is unchanged by the symbolic run (the caches were cleared around it)
    again = estimate(spec, case.workload)
    assert [(t.name, t.bytes) for t in again.terms] == [(t.name, t.bytes) for t in est.terms]
    assert not any(isinstance(t.bytes, Sym) for t in again.terms)


def _substitute(expr: str, vals: dict[str, int]) -> str:
    """Symbols -> numbers by hand (longest names first), powers written out, as a reader would."""
    for p, n in (("²", 2), ("³", 3)):
        for name in sorted(vals, key=len, reverse=True):
            expr = expr.replace(name + p, "·".join([name] * n))
    import re

    return re.sub(r"[A-Za-z_]+", lambda m: str(vals[m.group(0)]), expr)


def test_activations_of_a_llama_layer_read_as_korthikanti_writes_them():
    """sbh(34 + 5as/h) is Korthikanti et al.'s per-layer count for GPT with eager attention and dropout;
    llmsize's Llama layer (SDPA, no dropout, SwiGLU, GQA) in bf16 is docs/memory.md's hand derivation,
    16Td + 8T + 4T·n_h·d_h + 4T·n_kv·d_h + 4b·n_h·s + 8Tf, here computed by the replay itself."""
    from llmsize.load import load
    from llmsize.memory.report import train_workload

    spec = load("Llama-3.2-1B").spec
    wl = train_workload(seq_len=2048)
    est = estimate(spec, wl)
    act = next(cf for t, cf in zip(est.terms, closed_forms(spec, wl, est)) if t.name == "saved activations")
    (kind, symb, nums, nb), = act.per_layer
    assert kind == "layer" and nb == 222_576_640
    assert symb == "b·s·(4·n_h·d_h + 4·n_kv·d_h + 16·d + 8·f + 4·n_h + 8)"
    assert nums == "1·2048·(4·32·64 + 4·8·64 + 16·2048 + 8·8192 + 4·32 + 8)"


def test_symbolic_ints_are_the_numbers():
    b, s, d = sym(2, "b"), sym(3, "s"), sym(5, "d")
    x = b * s * d * 2 + 3 * b * s + 7
    assert x == 2 * 3 * 5 * 2 + 18 + 7 and isinstance(x, Sym)
    assert render(x.poly) == "2·b·s·d + 3·b·s + 7"
    assert render((b * s * d * 4).poly) == "b·s·d·4" and render(((b * s * d * 4) // (b * s)).poly) == "d·4"
    assert (x // 4) == int(x) // 4 and not isinstance(b * s * d // 7, Sym)  # inexact: a plain number
    assert f"{x:,}" == "85" and json.dumps({"n": x}) == '{"n": 85}' and max(b, s) is s
