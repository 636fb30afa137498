"""The page's "Past the trained context" box is the command line's --allow-long-context: a context past
the model's trained length is refused with what to change until it is ticked, then sized as the CLI sizes
it, on every tab that sends a context (the page had no such switch: its error named an API field)."""
from __future__ import annotations

from .conftest import cli_json
from .test_browser import browser, server  # noqa: F401  (fixtures; skips without chromium)
from .test_browser_v2 import ctx, load, pg  # noqa: F401  (fixtures)

# Llama 2 was trained on 4,096 positions; 8,192 + 512 − 1 of them are past it
Q = "?m=Llama-2-7b-hf&w.prompt=8192&w.output=512&w.gpu=H100-SXM"


def test_a_long_prompt_is_refused_until_the_box_is_ticked_then_sized_as_the_cli(pg):  # noqa: F811
    load(pg, Q + "&tab=memory")
    panel = pg.locator("#panel-memory")
    assert "trained context" in panel.inner_text()
    # the API's own field name is the page's box here
    assert "tick “Past the trained context” to size it anyway" in panel.inner_text()
    assert "allow_long_context" not in panel.inner_text()
    box = pg.get_by_role("checkbox", name="Past the trained context")
    assert not box.is_checked()
    load(pg, Q + "&tab=memory&w.long=1")
    assert pg.get_by_role("checkbox", name="Past the trained context").is_checked()
    cli = cli_json("infer", "Llama-2-7b-hf", "--seq-len", "8192", "--new-tokens", "512", "--gpu", "H100-SXM",
                   "--allow-long-context")
    assert f"{cli['device']['total_bytes']:,}" in panel.inner_text()
    # the planner and the quantization tab send it too
    for tab in ("plan", "quant"):
        load(pg, Q + f"&tab={tab}&w.long=1")
        assert "trained context" not in pg.locator(f"#panel-{tab}").inner_text(), tab


def test_training_takes_the_box_too_and_spanish_names_it(pg):  # noqa: F811
    q = "?m=Llama-2-7b-hf&mode=train&w.seq=16384&w.gpu=H100-SXM&tab=memory"
    load(pg, q)
    assert "trained context" in pg.locator("#panel-memory").inner_text()
    load(pg, q + "&w.long=1")
    assert "trained context" not in pg.locator("#panel-memory").inner_text()
    load(pg, "?lang=es&" + Q[1:] + "&tab=memory")
    text = pg.locator("#panel-memory").inner_text()
    assert "marque «Más allá del contexto entrenado»" in text and "allow_long_context" not in text
    assert pg.get_by_role("checkbox", name="Más allá del contexto entrenado").count() == 1


def test_the_llamacpp_offload_card_takes_the_box_too(pg):  # noqa: F811
    """The -ngl card (POST /ngl) checks the context too: with the box ticked it sizes the layers, not the error
    (it sent no allow_long_context, so the card said to tick the box that was ticked)."""
    load(pg, Q + "&tab=memory&w.runtime=llamacpp&w.long=1")
    card = pg.get_by_test_id("offload")
    card.wait_for()
    pg.wait_for_function("() => !document.querySelector('[data-testid=offload]').innerText.includes('Loading')")
    assert "trained context" not in card.inner_text() and "Past the trained" not in card.inner_text()
