"""How many bytes a reader's browser downloads for each page of a built book.

Serves the site on 127.0.0.1, opens every page in headless Chromium (Debian's
package, driven by playwright-python, as tools/screenshot.py does) with an empty
cache, waits until the network is idle and sums the bytes transferred (response
headers and bodies, from Chrome's DevTools protocol). Two numbers per page:

* **on load**: the page opened at the top, nothing scrolled;
* **read to the end**: then scrolled to the bottom a screen at a time, as a
  reader does, so that whatever loads when it scrolls into view is counted.

Each is split by resource type (Chrome's names: Document, Script, Fetch, ...)
and by what the bytes are for (onnxruntime, the widget manager, MathJax, ...).
The local server does not compress; a host that gzips text sends less.

    python tools/page_weight.py --html _build/smoke/html --out bench/results/page_weight.json
    python tools/page_weight.py --html _build/b2/html chapters/05_gaussian_vae_toy.html
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tools.screenshot import open_site  # noqa: E402

#: what the bytes are for, by the first matching fragment of the URL path
GROUPS = [("onnxruntime", "/vendor/ort/"), ("widget manager", "/vendor/require.js"),
          ("widget manager", "/vendor/html-manager/"), ("widget manager", "/@jupyter-widgets/"),
          ("MathJax", "/vendor/mathjax/"), ("ONNX decoders", "/assets/"), ("images", "/_images/")]


def group_of(path: str) -> str:
    for name, fragment in GROUPS:
        if fragment in path:
            return name
    return "page and theme"


def book_pages(html: Path) -> list[str]:
    """Every content page of the site (not the index redirect, search, genindex or vendored files)."""
    skip = {"vendor", "_static", "_sources", "_images", "@jupyter-widgets"}
    paths = (p.relative_to(html) for p in html.rglob("*.html"))
    return sorted(p.as_posix() for p in paths
                  if not skip & set(p.parts) and p.as_posix() not in ("index.html", "genindex.html", "search.html"))


class Traffic:
    """Bytes transferred per request, from the DevTools Network domain."""

    def __init__(self, page, base: str):
        self.page, self.base = page, base
        self.requests: dict[str, dict] = {}
        self.in_flight: set[str] = set()
        self.last_event = time.monotonic()
        self.cdp = page.context.new_cdp_session(page)
        self.cdp.on("Network.requestWillBeSent", self._sent)
        self.cdp.on("Network.responseReceived", self._response)
        self.cdp.on("Network.loadingFinished", self._finished)
        self.cdp.on("Network.loadingFailed", self._failed)
        self.cdp.send("Network.enable")
        self.cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})

    def _touch(self):
        self.last_event = time.monotonic()

    def _sent(self, event):
        self.in_flight.add(event["requestId"])
        self._touch()

    def _response(self, event):
        r = self.requests.setdefault(event["requestId"], {})
        r.update(url=event["response"]["url"], type=event.get("type", "Other"))
        self._touch()

    def _finished(self, event):
        self.requests.setdefault(event["requestId"], {})["bytes"] = int(event["encodedDataLength"])
        self.in_flight.discard(event["requestId"])
        self._touch()

    def _failed(self, event):
        self.in_flight.discard(event["requestId"])
        self._touch()

    def settle(self, quiet_s: float = 3.0, limit_s: float = 180.0) -> None:
        """Wait until the page is idle: typesetting done, the main thread free
        (``requestIdleCallback``), no request in flight and none started or ended
        for ``quiet_s`` (a large download counts as activity until it ends);
        twice, since a script may start loading once the thread is free."""
        start = time.monotonic()
        for _ in range(2):
            self.page.evaluate("""() => Promise.resolve(window.MathJax && MathJax.startup
                && MathJax.startup.promise).then(() => new Promise((r) => requestIdleCallback(r, {timeout: 20000})))""")
            while True:
                self.page.wait_for_timeout(100)  # lets playwright deliver the events
                if not self.in_flight and time.monotonic() - self.last_event >= quiet_s:
                    break
                if time.monotonic() - start > limit_s:
                    raise TimeoutError(f"the network did not settle within {limit_s} s: "
                                       f"{len(self.in_flight)} requests in flight")

    def summary(self) -> dict:
        by_type: dict[str, int] = defaultdict(int)
        by_group: dict[str, int] = defaultdict(int)
        total = n = 0
        for r in self.requests.values():
            if "bytes" not in r or "url" not in r or not r["url"].startswith(self.base):
                continue  # data: URLs, failed requests
            path = r["url"][len(self.base):]
            by_type[r["type"]] += r["bytes"]
            by_group[group_of(path)] += r["bytes"]
            total += r["bytes"]
            n += 1
        return {"bytes": total, "requests": n, "by_type": dict(sorted(by_type.items())),
                "by_group": dict(sorted(by_group.items()))}


def measure(html: Path, pages: list[str], width: int = 1280, height: int = 900) -> list[dict]:
    rows = []
    with open_site(html) as (base, browser):
        for path in pages:
            context = browser.new_context(viewport={"width": width, "height": height})
            page = context.new_page()
            traffic = Traffic(page, base)
            page.goto(f"{base}/{path}", wait_until="networkidle")
            traffic.settle()
            on_load = traffic.summary()
            # scroll a screen at a time, pausing so that observers fire and their loads start
            total_height = page.evaluate("document.documentElement.scrollHeight")
            for y in range(0, total_height + height, height // 2):
                page.evaluate(f"window.scrollTo(0, {y})")
                page.wait_for_timeout(60)
            traffic.settle()
            read = traffic.summary()
            rows.append({"page": path, "on_load": on_load, "read_to_end": read})
            context.close()
    return rows


def _mb(n: int) -> str:
    return f"{n / 1e6:.2f}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("pages", nargs="*", help="pages relative to the site root (default: every page)")
    parser.add_argument("--html", default=str(ROOT / "_build" / "html"))
    parser.add_argument("--out", help="write the result as JSON (bench/report.py reads "
                                      "bench/results/page_weight.json)")
    parser.add_argument("--label", default="", help="what was measured, e.g. the commit the site was built from")
    parser.add_argument("--baseline", help="a previous result (JSON) to keep beside this one as 'before'; "
                                           "by default the baseline already in --out is kept")
    args = parser.parse_args(argv)
    html = Path(args.html)
    pages = args.pages or book_pages(html)
    rows = measure(html, pages)
    groups = sorted({g for r in rows for g in r["read_to_end"]["by_group"]})
    print(f"| page | on load (MB) | read to the end (MB) | " + " | ".join(groups) + " |")
    print("|---" * (3 + len(groups)) + "|")
    for r in rows:
        g = r["on_load"]["by_group"]
        print(f"| {r['page']} | {_mb(r['on_load']['bytes'])} | {_mb(r['read_to_end']['bytes'])} | "
              + " | ".join(_mb(g.get(k, 0)) for k in groups) + " |")
    print("(group columns: on load)")
    if args.out:
        sys.path.insert(0, str(ROOT / "bench"))
        from machine import stamp, write_result

        result = {**stamp(), "label": args.label, "site": str(html), "pages": rows}
        out = Path(args.out)
        if args.baseline:
            before = json.loads(Path(args.baseline).read_text())
            result["baseline"] = {k: before[k] for k in ("label", "measured", "site", "pages") if k in before}
        elif out.is_file() and "baseline" in (previous := json.loads(out.read_text())):
            result["baseline"] = previous["baseline"]
        write_result(out, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
