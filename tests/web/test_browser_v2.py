"""The calculator v2 in a real browser (Debian chromium via Playwright), one test per bug of issue 16:
run against the page before the fix, each of these failed; see docs/web.md."""
from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from .conftest import ARTIFACTS, cli_json
from .test_browser import ARGS, CHROMIUM, change, first_load, rendered  # noqa: F401  (skips without chromium)
from .test_browser import browser, server  # noqa: F401  (fixtures)

from playwright.sync_api import Page  # noqa: E402

AXE = Path(__file__).resolve().parents[2] / ".ci" / "node" / "node_modules" / "axe-core" / "axe.min.js"


@pytest.fixture()
def ctx(browser, server):  # noqa: F811
    c = browser.new_context(viewport={"width": 1366, "height": 900}, color_scheme="light")
    yield c
    c.close()


@pytest.fixture()
def pg(ctx, server):  # noqa: F811
    p = ctx.new_page()
    errors: list[str] = []
    p.on("pageerror", lambda e: errors.append(str(e)))
    p.server = server  # type: ignore[attr-defined]
    yield p
    assert not errors, errors


def load(p: Page, query: str) -> None:
    p.goto(p.server + "/" + query)
    rendered(p)


def api(p: Page, path: str, body: dict) -> dict:
    r = p.request.post(p.server + "/api/v1" + path, data=body)
    assert r.ok, r.text()
    return r.json()


def test_an_answer_cut_off_mid_body_is_not_cached(pg):
    """api() once cached an aborted response ({detail: 'the server answered 200'}) as the answer:
    'PARAMETERS undefined' until reload. Abort right after the headers, then ask again."""
    load(pg, "")
    out = pg.evaluate("""async () => {
        const m = await import('/static/app.js');
        const body = {model: {knobs: {hidden: 96, layers: 3, heads: 4, vocab: 1000}}};
        const ctl = new AbortController(), real = window.fetch;
        window.fetch = async (...a) => { const r = await real(...a); ctl.abort(); return r; };
        let first;
        try { first = await m.api('/params', body, ctl.signal); } catch (e) { first = e.name; } finally { window.fetch = real; }
        const second = await m.api('/params', body);
        return {first: typeof first === 'string' ? first : JSON.stringify(first), second: second.total_params};
    }""")
    assert out["first"] == "AbortError", out
    assert out["second"] == api(pg, "/params", {"model": {"knobs": {"hidden": 96, "layers": 3, "heads": 4, "vocab": 1000}}})["total_params"]


def test_typing_fast_shows_the_last_model_and_clears_busy(pg):
    load(pg, "?src=knobs")
    layers = pg.get_by_label("Layers L")
    layers.fill("")
    layers.press_sequentially("48", delay=5)
    layers.press("Backspace")
    layers.press_sequentially("0", delay=5)  # 40
    pg.wait_for_function("() => !document.body.hasAttribute('aria-busy') && location.search.includes('layers=40')")
    pg.wait_for_function("() => document.querySelector('#summary').textContent.includes('Parameters')")
    want = api(pg, "/params", {"model": {"knobs": {"hidden": 4096, "layers": 40, "heads": 32, "kv_heads": 8, "ffn": 14336,
                                                    "vocab": 128256, "gated": True, "tied": False}}})["total_params"]
    pg.wait_for_function("([n]) => document.querySelector('#panel-params').textContent.includes(n)", arg=[f"{want:,}"])
    assert "undefined" not in pg.locator("#summary").inner_text()


@pytest.mark.parametrize("typed", ["99999999999", "1e99", "3.5"])
def test_an_invalid_value_is_marked_not_truncated(pg, typed):
    load(pg, "?tab=memory")
    url, before = pg.url, pg.evaluate("document.body.dataset.rendered")
    box = pg.get_by_label("Prompt tokens")
    box.fill(typed)
    assert box.get_attribute("aria-invalid") == "true"
    msg = pg.locator("#w-prompt-msg")
    assert msg.is_visible() and msg.inner_text().startswith("Prompt tokens:"), msg.inner_text()
    assert box.get_attribute("aria-describedby") == "w-prompt-msg"
    note = pg.locator("#stale-note")
    assert note.is_visible() and "last valid inputs" in note.inner_text()
    assert "prompt" not in note.inner_text().split("Fix:")[1].split(":")[0]  # the page's label, not the JSON name
    pg.wait_for_timeout(300)
    assert pg.url == url and pg.evaluate("document.body.dataset.rendered") == before  # nothing computed from a prefix
    change(pg, lambda: box.fill("16384"))
    assert box.get_attribute("aria-invalid") is None and not note.is_visible()
    assert "w.prompt=16384" in pg.url


def test_knob_fields_refuse_decimals_too(pg):
    load(pg, "?src=knobs")
    layers = pg.get_by_label("Layers L")
    layers.fill("3.5")
    assert layers.get_attribute("aria-invalid") == "true"
    assert "Layers L:" in pg.locator("#stale-note").inner_text()
    change(pg, lambda: pg.get_by_role("radio", name="Preset").check())  # a bad knob does not hold up a preset
    assert not pg.locator("#stale-note").is_visible()
    pg.get_by_role("radio", name="Knobs").check()  # back to the knobs: still invalid, nothing computed
    assert pg.locator("#stale-note").is_visible()
    change(pg, lambda: layers.fill("32"))
    heads = pg.get_by_label("Heads", exact=True)
    heads.fill("30")  # valid alone, refused by the library: its message in the page's words
    pg.wait_for_function("() => !document.querySelector('#model-error').hidden")
    msg = pg.locator("#model-error").inner_text()
    assert msg == "Heads (30) must divide Hidden d (4096) unless Head size is given", msg


@pytest.mark.parametrize("budget", ["banana", "-7B", "0"])
def test_a_bad_design_budget_keeps_the_form(pg, budget):
    load(pg, "?tab=design")
    box = pg.locator("#d-budget")
    box.fill(budget)
    box.press("Enter")
    box.blur()
    assert box.is_visible() and box.get_attribute("aria-invalid") == "true"
    assert pg.locator("#d-budget-msg").inner_text().startswith("Amount")
    change(pg, lambda: (box.fill("13B"), box.press("Enter"), box.blur()))
    assert pg.get_by_test_id("design-best").is_visible()
    # a bad amount in a link: the server refuses it, the form stays with its message
    load(pg, f"?tab=design&w.d_budget={budget}")
    assert pg.locator("#d-budget").is_visible() and pg.locator("#d-budget-msg").is_visible()


def test_back_and_forward_step_through_calculations(pg):
    load(pg, "")
    change(pg, lambda: pg.get_by_role("tab", name="Memory").click())
    change(pg, lambda: pg.get_by_label("GPU", exact=True).select_option("A10G"))
    change(pg, pg.go_back)
    assert pg.get_by_label("GPU", exact=True).input_value() == "RTX-4090"
    assert pg.get_by_role("tab", name="Memory").get_attribute("aria-selected") == "true"
    change(pg, pg.go_back)
    assert pg.get_by_role("tab", name="Parameters").get_attribute("aria-selected") == "true"
    change(pg, pg.go_forward)
    change(pg, pg.go_forward)
    assert pg.get_by_label("GPU", exact=True).input_value() == "A10G" and "w.gpu=A10G" in pg.url


def test_unknown_url_values_are_refused_visibly(pg):
    load(pg, "?tab=banana&mode=banana&m=No-Such-Model&w.gpu=NoSuchGPU&w.zzz=1&lang=xx")
    box = pg.locator("#refused")
    assert box.is_visible()
    text = box.inner_text()
    for part in ["tab=banana", "mode=banana", "m=No-Such-Model", "w.gpu=NoSuchGPU", "w.zzz=1", "lang=xx"]:
        assert part in text, (part, text)
    assert "tab=banana" not in pg.url and "NoSuchGPU" not in pg.url


def test_one_verdict_on_every_tab_equal_to_the_cli(pg):
    """Llama-3.1-8B with 32,768 tokens on an A10G: Memory, Quantization and the summary agree, with the CLI."""
    cli = cli_json("infer", "Llama-3.1-8B", "--context", "32256", "--new-tokens", "512", "--gpu", "A10G")
    want = "✓ Fits" if cli["device"]["fits"] else "✗ Does not fit"
    q = "?m=Llama-3.1-8B&w.gpu=A10G&w.prompt=32256&w.output=512"
    seen = {}
    for tab in ["params", "memory", "quant", "plan", "guide"]:
        load(pg, f"{q}&tab={tab}")
        seen[tab] = pg.get_by_test_id("verdict").inner_text()
    load(pg, f"{q}&tab=memory")
    seen["memory-tab"] = pg.get_by_test_id("memory-verdict").inner_text()
    load(pg, f"{q}&tab=quant")
    seen["quant-tab"] = pg.get_by_test_id("quant-verdict").inner_text()
    load(pg, f"{q}&tab=plan")
    seen["plan-tab"] = pg.get_by_test_id("plan-verdict").inner_text()
    assert set(seen.values()) == {want}, seen
    assert f"{cli['device']['total_bytes']:,}" in (load(pg, f"{q}&tab=memory") or pg.locator("#panel-memory").inner_text())


def test_lora_base_in_bf16_and_no_full_training_rules(pg):
    load(pg, "?tab=memory&mode=train&w.method=lora&w.gpu=A10G&w.seq=4096")
    rep = api(pg, "/train", {"model": {"preset": "Llama-3.1-8B"}, "batch": 1, "seq_len": 4096, "dtype": "bf16",
                             "optimizer": "adamw", "grad_checkpointing": True, "lora_r": 16, "gpu": "A10G"})
    assert f"{rep['device']['total_bytes']:,}" in pg.locator("#panel-memory").inner_text()
    assert pg.get_by_label("Base weights").input_value() == "bf16"
    assert "Rules of thumb" not in pg.locator("#panel-memory").inner_text()
    load(pg, "?tab=memory&mode=train&w.method=qlora&w.gpu=A10G&w.seq=4096")
    rep = api(pg, "/quant", {"model": {"preset": "Llama-3.1-8B"}, "qlora": True, "rank": 16, "context": 4096, "batch": 1,
                             "gpu": "A10G"})  # with its GPU: the peak, CUDA context and allocator reserve
    assert f"{rep['device']['total_bytes']:,}" in pg.locator("#panel-memory").inner_text()
    load(pg, "?tab=memory&mode=train&w.gpu=H100-SXM")  # full training: the rules apply and are shown
    assert "Rules of thumb" in pg.locator("#panel-memory").inner_text()


def test_planner_cards_time_most_gpus_time_bound_and_varied_rows(pg):
    load(pg, "?m=Llama-3.1-70B&mode=train&tab=plan&w.gpu=H100-SXM&w.n=8")
    pg.get_by_test_id("plan-single").wait_for()
    best = pg.get_by_test_id("plan-best").inner_text()
    assert int(best.split("×")[0]) <= 8, best
    times = pg.get_by_test_id("plan-best-time").inner_text()
    assert re.search(r"\d+(\.\d)? (days|years)", times) and re.search(r"\$\d{1,3}(,\d{3})+|\$[\d.]+ million", times), times
    assert re.search(r"years", pg.get_by_test_id("plan-single-time").inner_text())
    gpus = pg.locator("#panel-plan table", has=pg.locator("caption", has_text="Best setup of each GPU type")) \
        .locator("tbody tr td:first-child").all_inner_texts()
    assert len(gpus) == len(set(gpus)) > 3, gpus
    load(pg, "?m=Llama-3.1-70B&mode=train&tab=plan&w.gpu=H100-SXM&w.n=8&w.max_days=30")
    pg.get_by_test_id("plan-single").wait_for()
    assert "No feasible setup" in pg.get_by_test_id("plan-single").inner_text()


def test_your_point_on_the_memory_chart(pg):
    load(pg, "?tab=memory&w.gpu=A10G")
    pg.get_by_test_id("your-point").wait_for()
    assert "your setup: 8,704 tokens × batch 1" in pg.locator("[data-testid=sweep]").inner_text()


def test_spanish_first_load_is_small(browser, server):  # noqa: F811
    total, _ = first_load(browser, server + "/?lang=es", "first-load-es.json")
    assert 0 < total < 300_000, total


def test_phone_verdict_without_scrolling_tabs_and_copy_link(browser, server):  # noqa: F811
    c = browser.new_context(viewport={"width": 390, "height": 844})
    p = c.new_page()
    p.goto(server + "/?tab=memory&w.gpu=A10G")
    rendered(p)
    box = p.get_by_test_id("verdict").bounding_box()
    assert box and box["y"] + box["height"] <= 844, box
    assert p.locator("#share").is_visible()
    # the verdict is announced once, not the whole summary on every keystroke
    assert p.locator("#summary").get_attribute("aria-live") is None
    assert p.locator("#announce").inner_text().startswith(p.get_by_test_id("verdict").inner_text())
    for tab in p.get_by_role("tab").all():
        b = tab.bounding_box()
        assert b and b["x"] >= 0 and b["x"] + b["width"] <= 390, (tab.inner_text(), b)
    assert p.evaluate("document.documentElement.scrollWidth") <= 390
    c.close()


TABS = ["params", "memory", "quant", "plan", "cost", "design", "guide"]


# pages whose reports carry term names, notes, phases, format labels and planner rejections
REPORT_PAGES = [
    "tab=memory&w.gpu=H100-SXM&w.runtime=vllm&w.kv=fp8&w.batch=8",
    "tab=memory&w.gpu=RTX-4090&w.runtime=llamacpp",
    "tab=memory&w.gpu=T4&w.weights=Q4_K_M&w.kv=q8_0",
    "tab=quant&w.gpu=T4&w.weights=Q4_K_M",
    "tab=params&m=DeepSeek-V3",
    "tab=params&m=gpt-oss-20b",
    "tab=memory&m=Mixtral-8x7B-v0.1&w.gpu=H100-SXM",
    "tab=memory&mode=train&w.gpu=H100-SXM",
    "tab=memory&mode=train&w.method=qlora",
    "tab=plan&m=Llama-3.1-70B&w.gpu=A10G&w.n=8",
    "tab=cost&mode=train&m=Llama-3.1-70B&w.gpu=A10G",
]
# English words of report strings: none may be left on a Spanish page
REPORT_ENGLISH = ["working set", "KV cache", "weights (", "CUDA context", "does not fit", "held by the model", "rotary",
                  "optimizer states", "saved activations", "allocator", "not divisible", "too slow", "per GPU,",
                  "gradients", "prefill", "layer norms", "shared experts", "bytes/param", "model size", "group 128",
                  "double quant", "LoRA adapters", "multi-token", "is not checked", "decode tokens/s", "blocks:"]


def test_spanish_page_has_every_string_translated(browser, server):  # noqa: F811
    c = browser.new_context(viewport={"width": 1366, "height": 900}, locale="es-ES")
    p = c.new_page()
    p.goto(server + "/?w.gpu=A10G")  # no ?lang: the browser's language
    rendered(p)
    assert p.evaluate("document.documentElement.lang") == "es"
    assert p.get_by_test_id("params-total").inner_text().replace("\n", "") == "8,03B"
    missing: dict[str, list[str]] = {}

    def note_missing(q: str) -> None:  # each load has its own record: read it before the next one
        if got := p.evaluate("[...globalThis.__i18nMissing]"):
            missing[q] = got

    for mode, tabs in [("infer", TABS), ("train", ["memory", "plan", "cost"])]:
        for tab in tabs:
            p.goto(server + f"/?w.gpu=A10G&mode={mode}&tab={tab}")
            rendered(p)
            p.wait_for_timeout(150)
            note_missing(f"{mode} {tab}")
    p.goto(server + "/?mode=train&w.method=lora&tab=memory")
    rendered(p)
    note_missing("lora")
    for q in REPORT_PAGES:  # what the library's reports say (term names, notes, reasons, labels) in Spanish too
        p.goto(server + "/?" + q)
        rendered(p)
        p.wait_for_timeout(300)  # the cards that ask their own question (sweep, best on one GPU) fill in
        shown = p.locator("main").inner_text()
        english = [w for w in REPORT_ENGLISH if w in shown]
        assert not english, (q, english)
        note_missing(q)
    p.goto(server + "/?tab=memory&w.prompt=3.5&w.zzz=1")  # an invalid value and an unknown one, in a link
    p.locator("#w-prompt-msg").wait_for()
    assert p.locator("#refused").is_visible()
    note_missing("invalid")
    assert not missing, missing
    assert "Tokens de entrada:" in p.locator("#w-prompt-msg").inner_text()
    c.close()


def axe_scan(p: Page) -> list[dict]:
    p.add_script_tag(content=AXE.read_text())
    res = p.evaluate("async () => JSON.stringify(await axe.run(document, {resultTypes: ['violations']}))")
    return [v for v in json.loads(res)["violations"] if v["impact"] in ("serious", "critical")]


needs_axe = pytest.mark.skipif(not AXE.exists() and not os.environ.get("CI"),
                               reason=f"axe-core not installed at {AXE} (.ci/run installs it)")


def axe_sweep(browser, visit: Callable[[Page, str, int], Iterator[str]]) -> dict[str, list]:  # noqa: F811  (the fixture's value)
    """Serious and critical axe-core violations in both themes at 1366x900 and 390x844: `visit(page, scheme,
    width)` loads each page to scan and yields a label for it once drawn."""
    assert AXE.exists(), f"{AXE} missing: .ci/run installs axe-core from the npm registry"
    found = {}
    for scheme in ["light", "dark"]:
        for w, h in [(1366, 900), (390, 844)]:
            c = browser.new_context(viewport={"width": w, "height": h}, color_scheme=scheme, bypass_csp=True)
            p = c.new_page()
            for label in visit(p, scheme, w):
                bad = axe_scan(p)
                if bad:
                    found[f"{scheme} {w}x{h}{label}"] = [(v["id"], v["impact"], [n["target"] for n in v["nodes"][:3]])
                                                         for v in bad]
            c.close()
    return found


@needs_axe
@pytest.mark.parametrize("lang", ["en", "es"])
def test_accessibility_scan_both_themes_and_sizes(browser, server, lang):  # noqa: F811
    def visit(p: Page, scheme: str, w: int) -> Iterator[str]:
        for tab in ["memory", "plan"] if w > 400 else ["memory", "guide"]:
            p.goto(server + f"/?lang={lang}&tab={tab}&w.gpu=A10G")
            rendered(p)
            p.wait_for_timeout(250)
            yield f" {tab}"

    found = axe_sweep(browser, visit)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / f"axe-{lang}.json").write_text(json.dumps(found, indent=1))
    assert not found, found


def test_guide_answers_with_llmsizes_numbers(pg):
    load(pg, "?tab=guide")
    assert pg.get_by_test_id("howto").locator("li").count() == 6
    rep = api(pg, "/train", {"model": {"preset": "Llama-3.1-8B"}, "amp": "bf16", "optimizer": "adamw", "batch": 1,
                             "seq_len": 2048, "grad_checkpointing": True})
    params = api(pg, "/params", {"model": {"preset": "Llama-3.1-8B"}})["total_params"]
    kept = sum(t["bytes"] for t in rep["terms"] if t["category"] in ("master_weights", "weights", "gradients", "optimizer"))
    assert f"{kept / params:.1f} bytes per parameter" in pg.get_by_test_id("faq-train").text_content()
    pg.get_by_test_id("faq-quant").locator("table").wait_for(state="attached")
    q = api(pg, "/quant", {"model": {"preset": "Llama-3.1-8B"}, "formats": ["bf16", "int8", "gptq-int4-g128"],
                           "context": 8192, "batch": 1})
    text = pg.get_by_test_id("faq-quant").text_content()
    for r in q["rows"]:
        assert f"{r['bits_per_weight']:.2f}" in text, (r["format"], text)
    refs = pg.locator("#panel-guide ul.refs a").evaluate_all("as => as.map(a => a.href)")
    assert "https://blog.eleuther.ai/transformer-math/" in refs and "https://kipp.ly/transformer-param-count/" in refs
