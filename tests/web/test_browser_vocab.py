"""The page speaks the API's canonical names and defaults to the checkpoint's own weight format, as the
CLI does (issue 13: one vocabulary; docs/vocabulary.md)."""
from __future__ import annotations

import json

from .test_browser import ARGS, CHROMIUM, rendered  # noqa: F401  (skips without chromium)
from .test_browser import browser, server  # noqa: F401  (fixtures)


def test_weights_default_to_the_checkpoint_format_and_requests_use_canonical_names(browser, server):  # noqa: F811
    ctx = browser.new_context(viewport={"width": 1366, "height": 900})
    page = ctx.new_page()
    sent: list[dict] = []
    page.on("request", lambda r: sent.append(json.loads(r.post_data)) if r.method == "POST" and "/api/v1/infer" in r.url
            and r.post_data else None)
    page.goto(server + "/?m=gpt-oss-120b&tab=memory&w.gpu=H100-SXM&w.prompt=1024&w.output=256")
    rendered(page)
    assert page.locator("#w-weights").input_value() == "native"
    page.get_by_test_id("verdict").first.wait_for()
    body = next(b for b in sent if "contexts" not in b)
    # canonical fields only; no weights field: the server sizes the checkpoint's own (MXFP4 experts)
    assert {"seq_len", "new_tokens", "batch", "kv_cache_dtype", "engine"} <= set(body) and body.get("weights") is None
    assert not {"context", "kv_dtype", "runtime", "dtype"} & set(body)
    cli = page.request.post(server + "/api/v1/infer", data=body).json()
    assert cli["weights"]["format"] == "mxfp4" and cli["device"]["fits"] is True
    assert "fits" in (page.get_by_test_id("verdict").first.get_attribute("class") or "")
    ctx.close()
