"""How fast the page redraws after an input change, in Debian's chromium (Playwright).

Starts the web app on loopback (as bench_web.py does), opens the page, switches to Knobs and types
--changes layer counts into "Layers L"; the page records each update's time from input to drawn
result in `document.body.dataset.updateMs`. Target (issue 7, docs/web.md): median under 100 ms.
A timing is a property of the machine, so it is measured here and not asserted by the test suite.

Run: python bench/bench_page.py [--changes 15]
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_web import _free_port, start_server  # noqa: E402  (one way to start the server)

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
DRAWN = ("([a]) => document.body.dataset.rendered && document.body.dataset.rendered !== a "
         "&& !document.body.hasAttribute('aria-busy')")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--changes", type=int, default=15, help="layer counts typed (8, 16, ...)")
    a = ap.parse_args()
    from playwright.sync_api import sync_playwright

    port = _free_port()
    proc = start_server(port)
    try:
        with sync_playwright() as p:
            b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            page = b.new_context(viewport={"width": 1280, "height": 900}).new_page()
            page.goto(f"http://127.0.0.1:{port}/")
            page.wait_for_function(DRAWN, arg=[""], timeout=30000)
            page.get_by_role("radio", name="Knobs").check()
            page.wait_for_function(DRAWN, arg=[""], timeout=30000)
            layers, times = page.get_by_label("Layers L"), []
            for i in range(a.changes):
                before = page.evaluate("document.body.dataset.rendered")
                layers.fill(str(8 * (i + 1)))
                page.wait_for_function(DRAWN, arg=[before], timeout=30000)
                times.append(float(page.evaluate("document.body.dataset.updateMs")))
            b.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    med = statistics.median(times)
    print(f"{platform.processor() or platform.machine()}, load {os.getloadavg()[0]:.1f}: {len(times)} updates, "
          f"median {med:.1f} ms, max {max(times):.1f} ms — target median < 100 ms: "
          f"{'met' if med < 100 else 'NOT met'}")


if __name__ == "__main__":
    main()
