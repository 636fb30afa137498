"""The page in a real browser (Debian's chromium driven by Playwright): pick a model, change inputs,
see the numbers, the verdict and the charts change, share the URL, upload configs; screenshots are
saved under test-artifacts/web/ for a person to look at."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from .conftest import ARTIFACTS, live_server

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]

if not Path(CHROMIUM).exists() or not os.access(CHROMIUM, os.X_OK):
    if os.environ.get("CI"):
        pytest.fail(f"{CHROMIUM} is missing; .ci/run installs Debian's chromium for these tests", pytrace=False)
    pytest.skip(f"browser tests need {CHROMIUM} (apt-get install chromium)", allow_module_level=True)
try:
    from playwright.sync_api import Page, sync_playwright
except ImportError:  # pragma: no cover
    if os.environ.get("CI"):
        raise
    pytest.skip("browser tests need the playwright package (dev extra)", allow_module_level=True)

TINY = {"model_type": "llama", "hidden_size": 256, "num_hidden_layers": 4, "vocab_size": 1000,
        "num_attention_heads": 8, "num_key_value_heads": 2, "intermediate_size": 688,
        "_name_or_path": "example/tiny-llama"}


@pytest.fixture(scope="module")
def server():
    with live_server() as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture()
def page(browser, server):
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, color_scheme="light")
    pg = ctx.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.server = server  # type: ignore[attr-defined]
    yield pg
    ctx.close()
    assert not errors, errors


def rendered(page: Page, after: str | None = None) -> str:
    """Wait until the page has drawn a result newer than `after`; return its sequence number."""
    page.wait_for_function("([a]) => document.body.dataset.rendered && document.body.dataset.rendered !== a "
                           "&& !document.body.hasAttribute('aria-busy')", arg=[after or ""], timeout=15000)
    return page.evaluate("document.body.dataset.rendered")


def shot(page: Page, name: str, full: bool = True) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full)
    return path


def pick_preset(page: Page, query: str, name: str) -> None:
    before = page.evaluate("document.body.dataset.rendered || ''")
    box = page.get_by_role("combobox", name="Search presets")
    box.click()
    box.fill(query)
    page.get_by_role("listbox", name="Presets").get_by_role("option", name=name).first.wait_for()
    box.press("Enter")
    rendered(page, before)


def first_load(browser, url: str, artifact: str) -> tuple[float, list[str]]:
    """Bytes on the wire (as the browser's network panel counts them) and the URLs requested to load `url`
    until the first result is drawn and the network is idle; written to test-artifacts/web/`artifact`."""
    ctx = browser.new_context()
    page = ctx.new_page()
    urls: list[str] = []
    page.on("request", lambda r: urls.append(r.url))
    cdp = ctx.new_cdp_session(page)
    cdp.send("Network.enable")
    sizes: dict[str, float] = {}
    cdp.on("Network.loadingFinished", lambda e: sizes.__setitem__(e["requestId"], e["encodedDataLength"]))
    page.goto(url)
    rendered(page)
    page.wait_for_load_state("networkidle")
    total = sum(sizes.values())
    ctx.close()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / artifact).write_text(json.dumps({"bytes": total, "requests": urls}, indent=2))
    return total, urls


def test_first_load_is_small_and_makes_no_outside_request(browser, server):
    total, urls = first_load(browser, server + "/", "first-load.json")
    outside = [u for u in urls if not (u.startswith(server + "/") or u.startswith("data:"))]
    assert not outside, outside
    assert 0 < total < 300_000, total


def test_parameters_for_a_preset_and_the_url_round_trip(page, browser):
    page.goto(page.server + "/")
    rendered(page)
    pick_preset(page, "llama 3.1 8b", "Llama-3.1-8B")
    total = page.get_by_test_id("params-total").inner_text()
    assert total.replace("\n", "") == "8.03B"
    assert "8,030,261,248" in page.locator("#panel-params").inner_text()
    shot(page, "params-light")
    url = page.url
    assert "m=Llama-3.1-8B" in url
    other = browser.new_page()
    other.goto(url)
    rendered(other)
    assert other.get_by_test_id("params-total").inner_text() == total
    other.close()


def test_search_filters_presets(page):
    page.goto(page.server + "/")
    rendered(page)
    box = page.get_by_role("combobox", name="Search presets")
    box.click()
    box.fill("moe")
    names = page.get_by_role("listbox", name="Presets").get_by_role("option").all_inner_texts()
    assert names and all("active" in n for n in names), names
    box.fill("zzzz-no-such-model")
    assert "No preset matches" in page.locator("#preset-list").inner_text()
    box.press("Escape")


def test_upload_config_and_a_broken_one(page, tmp_path):
    page.goto(page.server + "/?src=config")
    page.wait_for_selector("#model-error:not([hidden])")
    good = tmp_path / "config.json"
    good.write_text(json.dumps(TINY))
    before = page.evaluate("document.body.dataset.rendered || ''")
    page.locator("#config-file").set_input_files(str(good))
    rendered(page, before)
    text = page.locator("#panel-params").inner_text()
    assert "tiny-llama" in text
    api = json.loads(page.evaluate("""async () => JSON.stringify(await (await fetch('/api/v1/params', {method: 'POST',
        headers: {'content-type': 'application/json'}, body: JSON.stringify({model: {config: %s}})})).json())"""
                                   % json.dumps(TINY)))
    assert f"{api['total_params']:,}" in text
    url = page.url
    assert "cfg=" in url
    shot(page, "upload-ok")
    broken = tmp_path / "broken.json"
    broken.write_text('{"model_type": "llama", "hidden_size": 256,,}')
    page.locator("#config-file").set_input_files(str(broken))
    err = page.get_by_role("alert")
    err.wait_for()
    page.wait_for_function("() => document.querySelector('#model-error').textContent.includes('not valid JSON')")
    assert "line 1 column" in err.inner_text()
    shot(page, "upload-broken")
    missing = tmp_path / "missing.json"
    missing.write_text('{"model_type": "llama", "hidden_size": 256}')
    page.locator("#config-file").set_input_files(str(missing))
    page.wait_for_function("() => document.querySelector('#model-error').textContent.includes('lacks')")
    # the shared link of the good upload still reproduces it
    page.goto(url)
    rendered(page)
    assert "tiny-llama" in page.locator("#panel-params").inner_text()


def test_keyboard_tabs_labels_and_dark_phone(browser, server):
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, color_scheme="dark", device_scale_factor=2)
    page = ctx.new_page()
    page.goto(server + "/")
    rendered(page)
    unlabeled = page.evaluate("""[...document.querySelectorAll('input, select, button, textarea')]
        .filter(e => e.type !== 'hidden' && !e.closest('[hidden]'))
        .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label') && !e.textContent.trim())
        .map(e => e.outerHTML)""")
    assert not unlabeled, unlabeled
    tab = page.get_by_role("tab", name="Parameters")
    tab.focus()
    tab.press("ArrowRight")
    assert page.get_by_role("tab", name="Memory").get_attribute("aria-selected") == "true"
    assert "tab=memory" in page.url
    tab = page.get_by_role("tab", name="Memory")
    before = page.evaluate("document.body.dataset.rendered")
    tab.press("ArrowLeft")
    rendered(page, before)
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") != "rgb(244, 246, 250)"
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"page scrolls sideways on a phone: {width}px"
    shot(page, "phone-dark")
    before = page.evaluate("document.body.dataset.rendered")
    page.goto(server + "/?m=Qwen3-30B-A3B&tab=memory&w.gpu=RTX-4090&w.weights=Q4_K_M")
    rendered(page, before)
    page.wait_for_timeout(300)  # the sweep chart arrives after the section
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shot(page, "phone-memory-dark")
    ctx.close()


def test_theme_toggle_and_updates_redraw(page):
    """Each input change redraws and records its time (bench/bench_page.py measures it; a timing is the
    machine's, not asserted here)."""
    page.goto(page.server + "/")
    rendered(page)
    page.get_by_role("button", name="Switch to dark theme").click()
    assert page.evaluate("document.documentElement.dataset.theme") == "dark"
    shot(page, "params-dark")
    page.get_by_role("button", name="Switch to light theme").click()
    times = []
    page.get_by_role("radio", name="Knobs").check()
    rendered(page, "")
    layers = page.get_by_label("Layers L")
    for n in (8, 16, 24, 40, 48):
        before = page.evaluate("document.body.dataset.rendered")
        layers.fill(str(n))
        rendered(page, before)
        times.append(float(page.evaluate("document.body.dataset.updateMs")))
    assert all(t > 0 for t in times), times


def memory_view(page: Page) -> dict:
    return {"total": page.get_by_test_id("memory-total").inner_text().replace("\n", " "),
            "verdict": page.get_by_test_id("memory-verdict").inner_text(),
            "chart": page.locator("#panel-memory svg[data-chart=stacked]").get_attribute("aria-label"),
            "summary": page.get_by_test_id("verdict").inner_text()}


def change(page: Page, action) -> None:
    before = page.evaluate("document.body.dataset.rendered")
    action()
    rendered(page, before)


def test_llama_bf16_to_int4_memory_verdict_chart_and_url(page, browser):
    if not page.request.get(page.server + "/api/v1/meta").json()["sections"]["memory"]:
        pytest.skip("llmsize.memory is not in this build")
    page.goto(page.server + "/")
    rendered(page)
    pick_preset(page, "llama-3.1-8b", "Llama-3.1-8B")
    change(page, lambda: page.get_by_label("GPU", exact=True).select_option("T4"))
    change(page, lambda: page.get_by_role("tab", name="Memory").click())
    page.locator("#panel-memory svg[data-chart=line]").wait_for()
    bf16 = memory_view(page)
    assert "Does not fit" in bf16["verdict"] and "Does not fit" in bf16["summary"]
    shot(page, "memory-bf16-t4")
    api = page.evaluate("""async () => (await (await fetch('/api/v1/infer', {method: 'POST',
        headers: {'content-type': 'application/json'}, body: JSON.stringify({model: {preset: 'Llama-3.1-8B'},
        batch: 1, context: 8192, new_tokens: 512, dtype: 'bf16', kv_dtype: 'bf16', runtime: 'torch', gpu: 'T4'})})).json())""")
    assert f"{api['device']['total_bytes']:,}" in page.locator("#panel-memory").inner_text()

    change(page, lambda: page.get_by_label("Weights", exact=True).select_option("gptq-int4-g128"))
    page.locator("#panel-memory svg[data-chart=line]").wait_for()
    int4 = memory_view(page)
    assert "Fits" in int4["verdict"] and "Does not fit" not in int4["verdict"], int4
    assert int4["total"] != bf16["total"] and int4["chart"] != bf16["chart"], (bf16, int4)
    shot(page, "memory-int4-t4")
    assert "w.weights=gptq-int4-g128" in page.url and "w.gpu=T4" in page.url and "tab=memory" in page.url

    other = browser.new_page(viewport={"width": 1280, "height": 900})
    other.goto(page.url)
    rendered(other)
    other.locator("#panel-memory svg[data-chart=line]").wait_for()
    assert memory_view(other) == int4
    assert other.get_by_label("Weights", exact=True).input_value() == "gptq-int4-g128"
    other.close()

    change(page, lambda: page.get_by_role("radio", name="Training").check())
    page.locator("#panel-memory svg[data-chart=line]").wait_for()
    assert "training memory" in page.locator("#summary").inner_text().lower()
    shot(page, "memory-train")


@pytest.mark.parametrize("tab", ["quant", "plan", "cost", "design"])
def test_every_section_renders(page, tab):
    page.goto(page.server + f"/?m=Llama-3.1-8B&tab={tab}&w.gpu=H100-SXM&explain=1")
    rendered(page)
    panel = page.locator(f"#panel-{tab}")
    assert panel.inner_text().strip()
    assert not panel.locator(".error").count(), panel.inner_text()[:500]
    shot(page, f"section-{tab}")


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_design_shows_each_candidates_training_setup(browser, server, scheme):
    """The design section shows every candidate's `train_plan` (the planner's fewest GPUs, layout, memory
    per GPU, days, cost) as the API gives it, and the CPU-offload alternative under the table."""
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, color_scheme=scheme)
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(server + "/?m=Llama-3.1-8B&tab=design&w.gpu=H100-SXM")
    rendered(page)
    card = page.get_by_test_id("design-train")
    card.wait_for()
    rep = page.request.post(server + "/api/v1/design", data={
        "params": "7B", "law": "chinchilla", "setting": {"gpu": "H100-SXM", "context": 8704, "batch": 1}}).json()
    assert card.locator("h3").inner_text() == "Training setup: fewest H100-SXM"
    rows = card.locator("tbody tr")
    assert rows.count() == len(rep["candidates"])
    for i, c in enumerate(rep["candidates"]):
        cells = rows.nth(i).locator("td").all_inner_texts()
        p = c["train_plan"]
        assert cells[1] == f"{c['hidden']} × {c['layers']}"
        assert cells[2] == f"{p['gpus']:,}" and cells[3] == p["layout"]
        assert cells[4].endswith("GiB") and cells[7].startswith("$")
        assert cells[6] == f"{round(p['gpu_hours']):,}"
    text = card.inner_text()
    assert "With CPU offload" in text and "host memory per node" in text
    card.scroll_into_view_if_needed()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    card.screenshot(path=str(ARTIFACTS / f"design-train-{scheme}.png"))
    shot(page, f"section-design-{scheme}")
    ctx.close()
    assert not errors, errors


def test_api_reference_try_it_works_offline(page):
    page.goto(page.server + "/docs")
    cards = page.locator("#endpoints section")
    cards.first.wait_for()
    assert cards.count() >= 15
    for i in range(cards.count()):
        c = cards.nth(i)
        c.get_by_role("button", name="Try it").click()
        c.locator("pre").filter(has_text="200").or_(c.locator("pre").filter(has_text="422")).wait_for(timeout=15000)
        assert c.locator("pre").inner_text().startswith("200"), c.inner_text()[:300]
    shot(page, "api-docs")
