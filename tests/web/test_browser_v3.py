"""The calculator v2, remaining bugs of issue 16 in a real browser (Debian chromium via Playwright):
the QLoRA verdict, the Weights menu's default, Spanish for what-if texts and server messages. Each
test failed against the page before its fix (commit history of branch issue-16c)."""
from __future__ import annotations

import re

import pytest

from .conftest import cli_json
from .test_browser import browser, server  # noqa: F401  (fixtures; skips without chromium)
from .test_browser_v2 import ctx, load, pg  # noqa: F401  (fixtures)

TABS = ["params", "memory", "quant", "plan", "cost", "guide"]


@pytest.mark.parametrize("model, gpu", [("Llama-3.1-8B", "A10G"), ("Llama-3.1-70B", "RTX-4090")])
def test_qlora_has_the_one_verdict_of_the_cli_on_every_tab(pg, model, gpu):  # noqa: F811
    """QLoRA gives the same fit answer as `llmsize quant --qlora --gpu` on every tab (it showed none)."""
    cli = cli_json("quant", model, "--qlora", "--rank", "16", "--context", "4096", "--gpu", gpu)
    want = "✓ Fits" if cli["device"]["fits"] else "✗ Does not fit"
    q = f"?m={model}&mode=train&w.method=qlora&w.gpu={gpu}&w.seq=4096"
    seen = {}
    for tab in TABS:
        load(pg, f"{q}&tab={tab}")
        seen[tab] = pg.get_by_test_id("verdict").inner_text()
    load(pg, f"{q}&tab=memory")
    seen["memory-tab"] = pg.get_by_test_id("memory-verdict").inner_text()
    assert set(seen.values()) == {want}, seen
    assert f"{cli['device']['total_bytes']:,}" in pg.locator("#panel-memory").inner_text()


def test_weights_default_to_the_checkpoints_own_format(pg):  # noqa: F811
    """The Weights menu starts at the model's own format, as every command's default (it started at bf16)."""
    load(pg, "?m=gpt-oss-120b&tab=memory&w.gpu=H100-SXM")
    menu = pg.get_by_label("Weights", exact=True)
    assert menu.input_value() == "native"
    assert menu.locator("option:checked").inner_text().startswith("mxfp4")
    # sized as `llmsize infer` sizes it by default: the checkpoint's own MXFP4 experts
    cli = cli_json("infer", "gpt-oss-120b", "--seq-len", "8192", "--new-tokens", "512", "--gpu", "H100-SXM")
    assert cli["weights"]["format"] == "mxfp4"
    assert f"{cli['device']['total_bytes']:,}" in pg.locator("#panel-memory").inner_text()
    assert "w.weights" not in pg.url  # the default is not written into the link
    load(pg, "?m=Llama-3.1-8B&tab=memory&w.gpu=H100-SXM")
    assert pg.get_by_label("Weights", exact=True).locator("option:checked").inner_text().startswith("bf16")
    cli = cli_json("infer", "Llama-3.1-8B", "--context", "8192", "--new-tokens", "512", "--gpu", "H100-SXM")
    assert f"{cli['device']['total_bytes']:,}" in pg.locator("#panel-memory").inner_text()


def _b64(text: str) -> str:
    import base64

    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


# Spanish pages that show what-if texts and server messages (422 details), each checked on its own load
SPANISH_PAGES = [
    *[f"tab=design&w.d_what={what}" for what in ("attention", "vocab", "shape", "moe", "quant", "sparse24")],
    "tab=design&m=gpt-oss-20b&w.d_what=attention",
    "tab=design&m=Mixtral-8x7B-v0.1&w.d_what=shape",  # a what-if that does not apply: its 422, in Spanish
    "tab=design&w.gpu=T4",  # no training setup on a GPU without bf16
    "tab=design&w.d_budget=0.001",  # a budget the server refuses
    "tab=design&w.d_kind=gpu_hours&w.gpu=T4",
    "src=knobs&hidden=4096&layers=32&heads=3&vocab=32000&tab=params",
    "src=knobs&hidden=4096&layers=32&heads=32&kv_heads=3&vocab=32000&tab=params",
    "src=knobs&hidden=4096&layers=32&heads=32&vocab=32000&experts=8&top_k=9&tab=params",
    *[f"src=config&cfg={_b64(text)}&tab=params" for text in ('{"a": 1,}', '{"model_type": "zzz"}', '{"model_type": "llama"}')],
]
# English words of those texts: none may be left on a Spanish page
WHATIF_ENGLISH = ["as is", "semi-structured", "weights stored", "counts every layer", "found loss", "shortens sequences",
                  "parameters grow", "follow active", "only dense", "splits evenly", "must divide", "exceeds the number",
                  "not valid JSON", "Expecting", "is not one llmsize knows", "lacks", "is not a whole number", "no candidate",
                  "has no bf16", "the planner trains", "no setup of up to"]


def test_spanish_what_if_texts_and_server_messages(browser, server):  # noqa: F811
    """Every what-if text and every server message the page shows is Spanish on the Spanish page, and no
    string lacks a translation on any of these loads (each load checked, not only the last)."""
    c = browser.new_context(viewport={"width": 1366, "height": 900})
    p = c.new_page()
    missing: dict[str, list[str]] = {}
    for q in SPANISH_PAGES:
        p.goto(server + "/?lang=es&" + q)
        p.wait_for_function("() => document.body.dataset.rendered || document.body.dataset.error", timeout=15000)
        p.wait_for_function("() => !document.body.hasAttribute('aria-busy')", timeout=15000)
        if "design" in q:  # the what-if card asks its own question
            p.wait_for_function("() => !document.querySelector('#panel-design')?.innerText.includes('Cargando')",
                                timeout=15000)
        shown = p.locator("main").inner_text()
        english = [w for w in WHATIF_ENGLISH if w in shown]
        assert not english, (q, english, shown[:2000])
        if got := p.evaluate("[...globalThis.__i18nMissing]"):
            missing[q] = got
    assert not missing, missing
    c.close()


@pytest.mark.parametrize("lang", ["en", "es"])
def test_planner_table_shows_time_and_cost_without_scrolling(pg, lang):  # noqa: F811
    """On a 1366-px screen the best-of-each-GPU table fits its card: time and cost were off to the right."""
    load(pg, f"?lang={lang}&m=Llama-3.1-70B&mode=train&tab=plan&w.gpu=H100-SXM&w.n=8")
    wrap = pg.locator("#panel-plan .tbl-wrap").first
    assert wrap.evaluate("(e) => e.scrollWidth <= e.clientWidth + 1"), wrap.evaluate("(e) => [e.scrollWidth, e.clientWidth]")
    cells = wrap.locator("tbody tr").first.locator("td").all_inner_texts()
    assert any(re.search(r"\d (years|days|años|días)$", c) for c in cells), cells  # the time
    assert any(re.fullmatch(r"\$[\d,.]+( million)?|[\d.,]+( millones)? \$", c) for c in cells), cells  # the cost
