"""The web page answers the llama.cpp partial-offload question (issue 12, item 4) as `llmsize fit --find ngl`
does: in the Memory tab with the llama.cpp runtime, -ngl, the GPU/host split, the speed, and a host choice."""
from __future__ import annotations

import re

import pytest

from .conftest import ARTIFACTS, cli_json
from .test_browser import ARGS, CHROMIUM, rendered  # noqa: F401  (skips without chromium)
from .test_browser import browser, server  # noqa: F401  (fixtures)
from .test_browser_v2 import axe_sweep, needs_axe

Q = "?m=Llama-3.1-70B&tab=memory&w.gpu=RTX-4090&w.weights=Q4_K_M&w.kv=fp16&w.runtime=llamacpp&w.prompt=4096&w.output=512"


def _open(browser, server, query, lang="en"):  # noqa: F811
    ctx = browser.new_context(viewport={"width": 1366, "height": 900}, locale="es-ES" if lang == "es" else "en-US")
    p = ctx.new_page()
    errors: list[str] = []
    p.on("pageerror", lambda e: errors.append(str(e)))
    p.goto(server + "/" + query)
    rendered(p)
    p.get_by_test_id("ngl").wait_for(timeout=20000)
    return ctx, p, errors


def _number(text: str) -> float:
    return float(re.sub(r"[^\d.]", "", text.split()[0].replace(",", "")))


def test_llama_70b_q4km_on_a_4090_is_a_partial_offload(browser, server):  # noqa: F811
    ctx, p, errors = _open(browser, server, Q)
    try:
        ngl = int(_number(p.get_by_test_id("ngl").inner_text()))
        assert 30 < ngl < 80 and p.get_by_test_id("ngl-kind").inner_text() == "partial offload"
        # the same answer as the CLI: llmsize fit --find ngl (context per slot = prompt + output)
        cli = cli_json("fit", "Llama-3.1-70B", "--gpu", "RTX-4090", "--find", "ngl", "--weights", "Q4_K_M",
                       "--prompt", "4096", "--output", "512", "--kv-dtype", "f16")
        assert ngl == cli["ngl"]
        card = p.get_by_test_id("offload").inner_text()
        assert "GiB" in card and "host" in card and "tok/s" in card
        slow = _number(p.get_by_test_id("ngl-decode").inner_text())
        # a host with 12 DDR5 channels runs the CPU layers faster: the page asks again and says so
        before = p.evaluate("document.body.dataset.rendered")
        p.get_by_label("Host memory (CPU)").select_option("EPYC-9004-12ch")
        rendered(p, before)
        p.wait_for_function("() => document.querySelector('#ngl-host')?.value === 'EPYC-9004-12ch'", timeout=20000)
        p.get_by_test_id("ngl").wait_for(timeout=20000)
        assert "w.host=EPYC-9004-12ch" in p.url
        assert _number(p.get_by_test_id("ngl-decode").inner_text()) > slow
        assert not errors, errors
    finally:
        ctx.close()


def test_offload_card_in_spanish_and_not_for_non_gguf_weights(browser, server):  # noqa: F811
    ctx, p, errors = _open(browser, server, Q + "&lang=es", lang="es")
    try:
        assert p.get_by_test_id("ngl-kind").inner_text() == "descarga parcial"
        assert p.evaluate("[...globalThis.__i18nMissing]") == []
        p.goto(server + "/" + Q.replace("Q4_K_M", "nf4") + "&lang=es")
        rendered(p)
        assert "formato Q" in p.get_by_test_id("offload").inner_text()
        assert not errors, errors
    finally:
        ctx.close()


@needs_axe
def test_offload_card_accessibility_scan(browser, server):  # noqa: F811
    def visit(p, scheme: str, w: int):
        p.goto(server + "/" + Q)
        rendered(p)
        p.get_by_test_id("ngl").wait_for(timeout=20000)
        if scheme == "light":
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            p.get_by_test_id("offload").screenshot(path=str(ARTIFACTS / f"offload-{w}.png"))
        yield ""

    found = axe_sweep(browser, visit)
    assert not found, found
