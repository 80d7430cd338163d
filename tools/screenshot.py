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
#: the in-page widgets of book/js/latent_slider.js: line sliders, latent planes, frames, explorers
INPAGE = ".course-latent-slider, .course-latent-plane, .course-frames, .course-gaussian-posterior"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]


@contextlib.contextmanager
def serve(directory: Path):
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    class Server(http.server.ThreadingHTTPServer):
        def handle_error(self, request, client_address):
            # a page closed while a file was still being sent: not an error of the site
            if not isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
                super().handle_error(request, client_address)

    handler = functools.partial(Quiet, directory=str(directory))
    server = Server(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


def browser_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@contextlib.contextmanager
def open_site(html: Path, scrollbars: bool = False):
    """Serve ``html`` on 127.0.0.1 and launch headless Chromium: yields (base URL, browser).
    Playwright hides scrollbars by default; ``scrollbars=True`` keeps the classic
    ones, which take room in the layout as on a desktop browser, so that a test can
    tell whether a reader sees that a box scrolls."""
    from playwright.sync_api import sync_playwright

    exe = browser_path()
    if exe is None:
        raise RuntimeError("no chromium on PATH (apt-get install chromium)")
    with serve(html) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=exe, args=FLAGS,
                                     ignore_default_args=["--hide-scrollbars"] if scrollbars else None)
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


#: a "7" for the draw pad of an in-page latent plane: strokes in pad pixels (224 x 224)
SEVEN = [[(50, 50), (120, 48), (170, 50), (150, 100), (120, 150), (100, 195)], [(90, 120), (160, 120)]]


def draw_strokes(page, pad, strokes, size: int = 224) -> None:
    """Draw ``strokes`` (lists of (x, y) in pad pixels) on the canvas ``pad`` (a
    playwright locator) with the mouse, one press per stroke."""
    box = pad.bounding_box()
    for stroke in strokes:
        xy = [(box["x"] + u * box["width"] / size, box["y"] + v * box["height"] / size) for u, v in stroke]
        page.mouse.move(*xy[0])
        page.mouse.down()
        for p in xy[1:]:
            page.mouse.move(*p, steps=4)
        page.mouse.up()


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
            # in-page widgets load when they scroll into view (book/js/latent_slider.js)
            sliders = page.locator(INPAGE)
            for k in range(sliders.count()):
                sliders.nth(k).scroll_into_view_if_needed()
                sliders.nth(k).and_(page.locator("[data-state=ready], [data-state=failed]")).wait_for(
                    timeout=60_000)
            page.evaluate("window.scrollTo(0, 0)")
            broken = page.eval_on_selector_all(
                "img", "imgs => imgs.filter(i => !i.complete || i.naturalWidth === 0).map(i => i.src)")
            shot = out / (page_path.replace("/", "_").replace(".html", ".png"))
            page.screenshot(path=str(shot), full_page=True)
            report[page_path] = {"errors": errors, "broken_images": broken, "screenshot": str(shot),
                                 "math": page.locator("mjx-container").count()}
            page.close()
    return report


#: For every display equation (MathJax CHTML ``mjx-container[display="true"]``):
#: its label and number, the width its typeset maths needs (``need``), the width
#: its box shows (``box``), the text column it sits in (``column``: the content box
#: of the block holding ``div.math``), how far the box and its number stick out of
#: that column, and whether the box scrolls where a reader sees it (overflow-x auto
#: or scroll, with a scrollbar that takes room below the maths).
MEASURE_EQUATIONS = r"""() => [...document.querySelectorAll('mjx-container[display="true"]')].map(c => {
    const div = c.closest('div.math');
    const holder = (div || c).parentElement;
    const hs = getComputedStyle(holder), hr = holder.getBoundingClientRect();
    const col = {left: hr.left + parseFloat(hs.borderLeftWidth) + parseFloat(hs.paddingLeft),
                 right: hr.right - parseFloat(hs.borderRightWidth) - parseFloat(hs.paddingRight)};
    const math = c.querySelector('mjx-math');
    const need = Math.max(c.scrollWidth, math ? math.getBoundingClientRect().width : 0);
    const cs = getComputedStyle(c), cr = c.getBoundingClientRect();
    const eqno = div && div.querySelector('span.eqno');
    const er = eqno ? eqno.getBoundingClientRect() : cr;
    const scrollbar = c.offsetHeight - c.clientHeight
        - parseFloat(cs.borderTopWidth) - parseFloat(cs.borderBottomWidth);
    return {
        label: div && div.id ? div.id.replace(/^equation-/, '') : '',
        number: eqno ? eqno.textContent.replace(/[#\s\u00b6]/g, '') : '',
        tex: (c.querySelector('mjx-assistive-mml math') || {}).textContent || '',
        need: Math.round(need), box: c.clientWidth, column: Math.round(col.right - col.left),
        sticks_out: Math.round(Math.max(cr.right, er.right) - col.right),
        sticks_out_left: Math.round(col.left - Math.min(cr.left, er.left)),
        scrolls: ['auto', 'scroll'].includes(cs.overflowX) && scrollbar > 0 && cs.scrollbarWidth !== 'none',
        in_output: !!c.closest('.cell_output'),
    };
})"""


#: Widths up to this are opened as a phone (touch, mobile viewport, overlay
#: scrollbars that only show while scrolling, unless the page styles them).
PHONE_WIDTH = 600


def measure_equations(pages, html: Path, widths=(1280, 390)) -> list[dict]:
    """Load each page at each viewport width and measure its display equations
    (see ``MEASURE_EQUATIONS``); one row per equation, with its page and viewport
    width. Wide viewports are a desktop Chromium with classic scrollbars, narrow
    ones (<= ``PHONE_WIDTH``) an emulated phone."""
    rows = []
    with open_site(html, scrollbars=True) as (base, browser):
        for width in widths:
            phone = width <= PHONE_WIDTH
            context = browser.new_context(viewport={"width": width, "height": 844 if phone else 900},
                                          is_mobile=phone, has_touch=phone, device_scale_factor=2 if phone else 1)
            for page_path in pages:
                page = context.new_page()
                page.goto(f"{base}/{page_path}", wait_until="networkidle")
                page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise",
                                       timeout=30_000)
                page.evaluate("() => MathJax.startup.promise")  # typesetting done
                rows += [dict(r, page=page_path, width=width) for r in page.evaluate(MEASURE_EQUATIONS)]
                page.close()
            context.close()
    return rows


def equation_problems(rows, scroll_ok: bool = True) -> list[str]:
    """The rows of ``measure_equations`` a reader sees clipped: maths wider than its
    box (unless the box visibly scrolls and ``scroll_ok``), or a box or number that
    sticks out of the text column. Equations in a cell's output (docstrings shown by
    ``cl.show_source``) count like the prose's: the docstring is split instead. One
    line per equation with page, label and widths."""
    bad = []
    for r in rows:
        name = f"{r['page']} @{r['width']}px eq {r['number'] or '(no number)'} {r['label'] or r['tex'][:40]!r}"
        if r["need"] > r["box"] + 1 and not (scroll_ok and r["scrolls"]):
            bad.append(f"{name}: maths {r['need']} px wide in a {r['box']} px box "
                       f"(column {r['column']} px){', scrolls' if r['scrolls'] else ', no visible scrollbar'}")
        elif r["sticks_out"] > 1 or r["sticks_out_left"] > 1:
            bad.append(f"{name}: sticks out of its {r['column']} px column by "
                       f"{max(r['sticks_out'], r['sticks_out_left'])} px")
    return bad


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
