"""The calculator v2, remaining bugs of issue 16 in a real browser (Debian chromium via Playwright):
the QLoRA verdict, the Weights menu's default, Spanish for what-if texts and server messages. Each
test failed against the page before its fix (commit history of branch issue-16c)."""
from __future__ import annotations

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
    load(pg, "?m=gpt-oss-120b&tab=memory&w.gpu=H100")
    menu = pg.get_by_label("Weights", exact=True)
    assert menu.input_value() == "native"
    assert menu.locator("option:checked").inner_text().startswith("mxfp4")
    cli = cli_json("quant", "gpt-oss-120b", "--format", "mxfp4", "--gpu", "H100", "--context", "8704")
    assert f"{cli['rows'][0]['total_bytes']:,}" in pg.locator("#panel-memory").inner_text()
    assert "w.weights" not in pg.url  # the default is not written into the link
    load(pg, "?m=Llama-3.1-8B&tab=memory&w.gpu=H100")
    assert pg.get_by_label("Weights", exact=True).locator("option:checked").inner_text().startswith("bf16")
    cli = cli_json("infer", "Llama-3.1-8B", "--context", "8192", "--new-tokens", "512", "--gpu", "H100")
    assert f"{cli['device']['total_bytes']:,}" in pg.locator("#panel-memory").inner_text()
