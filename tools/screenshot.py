"""Look at the built book as a reader would: serve _build/html on 127.0.0.1, open
pages in headless Chromium (Debian's package, driven by playwright-python) and
save full-page screenshots, printing console errors and broken images.

    python tools/screenshot.py                       # every chapter page
    python tools/screenshot.py chapters/01_classic_autoencoders.html --out /tmp/shots
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import http.server
import shutil
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]


@contextlib.contextmanager
def serve(directory: Path):
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


def browser_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@contextlib.contextmanager
def open_site(html: Path):
    """Serve ``html`` on 127.0.0.1 and launch headless Chromium: yields (base URL, browser)."""
    from playwright.sync_api import sync_playwright

    exe = browser_path()
    if exe is None:
        raise RuntimeError("no chromium on PATH (apt-get install chromium)")
    with serve(html) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=exe, args=FLAGS)
        try:
            yield base, browser
        finally:
            browser.close()


def collect_errors(page, base: str | None = None) -> list[str]:
    """Console errors, uncaught exceptions and failed requests of ``page``, as they
    come; with ``base``, also every request that leaves the site (the book must
    work with the network cut: nothing may come from a CDN)."""
    errors: list[str] = []
    if base is not None:
        page.on("request", lambda r: errors.append(f"request outside the site: {r.url}")
                if r.url.startswith(("http:", "https:", "ws:", "wss:")) and not r.url.startswith(base) else None)
    # ERR_ABORTED: the page navigated away before the request ended (the root redirect)
    page.on("requestfailed", lambda r: errors.append(f"request failed: {r.url} ({r.failure})")
            if "ERR_ABORTED" not in str(r.failure) else None)
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("response", lambda r: errors.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None)
    return errors


def visit(pages, html: Path, out: Path, width: int = 1200) -> dict[str, dict]:
    """Screenshot each page; return per page its console errors and broken images."""
    out.mkdir(parents=True, exist_ok=True)
    report = {}
    with open_site(html) as (base, browser):
        for page_path in pages:
            page = browser.new_page(viewport={"width": width, "height": 900})
            errors = collect_errors(page, base)
            page.goto(f"{base}/{page_path}", wait_until="networkidle")
            page.wait_for_timeout(1500)  # MathJax typesets after load
            if page.locator(".course-latent-slider").count():
                page.wait_for_selector(".course-latent-slider:not([data-state=loading])", timeout=60_000)
            broken = page.eval_on_selector_all(
                "img", "imgs => imgs.filter(i => !i.complete || i.naturalWidth === 0).map(i => i.src)")
            shot = out / (page_path.replace("/", "_").replace(".html", ".png"))
            page.screenshot(path=str(shot), full_page=True)
            report[page_path] = {"errors": errors, "broken_images": broken, "screenshot": str(shot),
                                 "math": page.locator("mjx-container").count()}
            page.close()
    return report


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("pages", nargs="*")
    parser.add_argument("--html", default=str(ROOT / "_build" / "html"))
    parser.add_argument("--out", default=str(ROOT / "_build" / "screenshots"))
    args = parser.parse_args(argv)
    html = Path(args.html)
    pages = args.pages or sorted(p.relative_to(html).as_posix() for p in (html / "chapters").glob("*.html"))
    report = visit(pages, html, Path(args.out))
    bad = 0
    for page, r in report.items():
        print(f"{page}: {r['math']} equations, {len(r['errors'])} console errors, "
              f"{len(r['broken_images'])} broken images -> {r['screenshot']}")
        for e in r["errors"] + r["broken_images"]:
            print(f"    {e}")
        bad += bool(r["errors"] or r["broken_images"])
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
