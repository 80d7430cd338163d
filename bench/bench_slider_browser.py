"""In-browser time of the book's in-page widgets (onnxruntime-web, wasm, one
thread, for the models): for every slider on every chapter page of a built site
(a decoder's line slider, a slider over precomputed figures, chapter 4's
closed-form explorer), move the slider 50 times and report the median time per
move measured in the page (decode and draw; swap and decode the picture; compute
and draw the curves); for
every latent plane, move the mouse to 50 points of the plane (one decode each)
and draw 50 short strokes on its pad (each: pre-processing, encoder, decoder at
mu and at the samples). The sizes of each widget's ONNX files and spec are
reported with its times.

    python bench/bench_slider_browser.py [--html _build/html] [--out bench/results/browser.json]
"""

from __future__ import annotations

import argparse
import math
import re
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tools.screenshot import draw_strokes, open_site  # noqa: E402

sys.path.insert(0, str(ROOT / "bench"))
from machine import stamp, write_result  # noqa: E402

MOVES = 50


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--html", default=str(ROOT / "_build" / "html"))
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "browser.json"))
    args = parser.parse_args(argv)
    html = Path(args.html)
    kinds = ("course-latent-slider", "course-latent-plane", "course-frames", "course-gaussian-posterior")
    pages = sorted(p for p in (html / "chapters").glob("*.html") if any(k in p.read_text() for k in kinds))
    if not pages:
        print(f"no page with an in-page widget under {html}")
        return 1
    rows = []

    def row(page_path, wid, what, times):
        q = statistics.quantiles(times, n=10)
        name = next(wid.removeprefix(p) for p in ("slider-", "plane-", "frames-", "gaussian-posterior-")
                    if wid.startswith(p))
        sizes = {p.name: p.stat().st_size for p in sorted((html / "assets").glob(f"{name}*"))
                 if p.stem in (name, f"{name}-decoder", f"{name}-encoder")
                 or re.fullmatch(re.escape(name) + r"-\d+", p.stem)}     # a frames slider's pictures
        print(f"| {page_path.stem} | {wid} | {what} | {statistics.median(times):.2f} | {q[-1]:.2f} | "
              f"{len(times)} | {sum(sizes.values()) / 1e6:.2f} |")
        rows.append({"page": page_path.stem, "slider": name, "action": what, "moves": len(times),
                     "median_ms": round(statistics.median(times), 2), "p90_ms": round(q[-1], 2),
                     "file_bytes": sizes})

    with open_site(html) as (base, browser):
        print("| page | widget | action | median (ms) | p90 (ms) | moves | files (MB) |\n|---|---|---|---|---|---|---|")
        for page_path in pages:
            page = browser.new_page()
            page.goto(f"{base}/chapters/{page_path.name}")
            sliders = ".course-latent-slider, .course-frames, .course-gaussian-posterior"
            for sid in page.eval_on_selector_all(sliders, "els => els.map(e => e.id)"):
                page.locator(f"#{sid}").scroll_into_view_if_needed()  # sliders load when in view
                page.wait_for_selector(f"#{sid}[data-state=ready]", timeout=120_000)
                page.evaluate(f"() => {{ window.__courseSliderStats['{sid}'].length = 0; }}")
                for i in range(MOVES):
                    # a sweep from min to max (a frames slider, with a few values, goes round them)
                    page.evaluate(f"""() => {{ const s = document.querySelector('#{sid} .course-slider-range');
                        const lo = Number(s.min), hi = Number(s.max), n = Math.round((hi - lo) / Number(s.step));
                        s.value = n <= 10 ? lo + ({i + 1} % (n + 1)) * Number(s.step) : lo + ({i + 1} / {MOVES}) * (hi - lo);
                        s.dispatchEvent(new Event('input')); }}""")
                    page.wait_for_function(f"window.__courseSliderStats['{sid}'].length >= {i + 1}")
                row(page_path, sid, "slider move", page.evaluate(f"window.__courseSliderStats['{sid}']"))
            for pid in page.eval_on_selector_all(".course-latent-plane", "els => els.map(e => e.id)"):
                page.locator(f"#{pid}").scroll_into_view_if_needed()  # planes load when in view
                page.wait_for_selector(f"#{pid}[data-state=ready]", timeout=120_000)
                plane = page.locator(f"#{pid} .course-plane-canvas")
                plane.scroll_into_view_if_needed()
                page.evaluate(f"() => {{ window.__courseSliderStats['{pid}'].length = 0; }}")
                box = plane.bounding_box()
                for i in range(MOVES):   # a spiral over the plane: every move a new point
                    r, a = 0.05 + 0.4 * i / MOVES, 0.7 * i
                    page.mouse.move(box["x"] + (0.5 + r * math.cos(a)) * box["width"],
                                    box["y"] + (0.5 + r * math.sin(a)) * box["height"])
                    page.wait_for_function(f"window.__courseSliderStats['{pid}'].length >= {i + 1}")
                row(page_path, pid, "pointer move", page.evaluate(f"window.__courseSliderStats['{pid}']"))
                pad = page.locator(f"#{pid} .course-draw-pad")
                if pad.count():
                    pad.scroll_into_view_if_needed()
                    for i in range(MOVES):
                        u, v = 40 + 3 * i, 40 + (37 * i) % 140
                        draw_strokes(page, pad, [[(u, v), (u + 20, v + 30)]])
                        page.wait_for_function(f"(window.__courseSliderStats['{pid}:draw'] || []).length >= {i + 1}")
                    row(page_path, pid, "stroke end", page.evaluate(f"window.__courseSliderStats['{pid}:draw']"))
            page.close()
    write_result(args.out, {**stamp(), "site": str(html), "sliders": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
