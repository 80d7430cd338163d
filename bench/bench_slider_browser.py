"""In-browser decode time of the book's in-page sliders (onnxruntime-web, wasm,
one thread): for every slider on every chapter page of a built site, move the
slider 50 times and report the median decode time measured in the page.

    python bench/bench_slider_browser.py [--html _build/html] [--out bench/results/browser.json]
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tools.screenshot import open_site  # noqa: E402

sys.path.insert(0, str(ROOT / "bench"))
from machine import stamp, write_result  # noqa: E402

MOVES = 50


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--html", default=str(ROOT / "_build" / "html"))
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "browser.json"))
    args = parser.parse_args(argv)
    html = Path(args.html)
    pages = sorted(p for p in (html / "chapters").glob("*.html") if "course-latent-slider" in p.read_text())
    if not pages:
        print(f"no page with an in-page slider under {html}")
        return 1
    rows = []
    with open_site(html) as (base, browser):
        print(f"| page | slider | median decode (ms) | p90 (ms) | moves |\n|---|---|---|---|---|")
        for page_path in pages:
            page = browser.new_page()
            page.goto(f"{base}/chapters/{page_path.name}")
            ids = page.eval_on_selector_all(".course-latent-slider", "els => els.map(e => e.id)")
            for sid in ids:
                page.locator(f"#{sid}").scroll_into_view_if_needed()  # sliders load when in view
                page.wait_for_selector(f"#{sid}[data-state=ready]", timeout=120_000)
                page.evaluate(f"() => {{ window.__courseSliderStats['{sid}'].length = 0; }}")
                for i in range(MOVES):
                    page.evaluate(f"""() => {{ const s = document.querySelector('#{sid} .course-slider-range');
                        const lo = Number(s.min), hi = Number(s.max);
                        s.value = lo + ({i + 1} / {MOVES}) * (hi - lo); s.dispatchEvent(new Event('input')); }}""")
                    page.wait_for_function(f"window.__courseSliderStats['{sid}'].length >= {i + 1}")
                times = page.evaluate(f"window.__courseSliderStats['{sid}']")
                q = statistics.quantiles(times, n=10)
                print(f"| {page_path.stem} | {sid} | {statistics.median(times):.2f} | {q[-1]:.2f} | {len(times)} |")
                rows.append({"page": page_path.stem, "slider": sid.removeprefix("slider-"), "moves": len(times),
                             "median_ms": round(statistics.median(times), 2), "p90_ms": round(q[-1], 2)})
            page.close()
    write_result(args.out, {**stamp(), "site": str(html), "sliders": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
