"""Screenshots of the calculator for docs/: English and Spanish, light and dark, desktop (1366x900)
and phone (390x844), as docs/img/web-LANG-THEME-SIZE.png. Needs the web extra, playwright and
Debian's chromium (/usr/bin/chromium). Run: python scripts/web_screenshots.py"""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from playwright.sync_api import sync_playwright  # noqa: E402

from tests.web.conftest import live_server  # noqa: E402

OUT = ROOT / "docs" / "img"
SIZES = {"desktop": (1366, 900), "phone": (390, 844)}


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with live_server() as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--headless", "--no-sandbox", "--disable-gpu"])
        for lang in ("en", "es"):
            for theme in ("light", "dark"):
                for size, (w, h) in SIZES.items():
                    ctx = browser.new_context(viewport={"width": w, "height": h}, color_scheme=theme)
                    page = ctx.new_page()
                    page.goto(f"{url}/?lang={lang}&tab=memory&w.gpu=A10G&w.prompt=32256&w.output=512")
                    page.wait_for_function("() => document.body.dataset.rendered && !document.body.hasAttribute('aria-busy')")
                    page.get_by_test_id("your-point").wait_for()
                    path = OUT / f"web-{lang}-{theme}-{size}.png"
                    page.screenshot(path=str(path))
                    print(path.relative_to(ROOT), path.stat().st_size)
                    ctx.close()
        browser.close()


if __name__ == "__main__":
    main()
