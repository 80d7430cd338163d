"""`make bench`: run the benchmarks and rewrite the book's "Running costs" page.

Runs the per-chapter (smoke profile), training, kernel-side slider and
in-browser slider benchmarks, then bench/report.py. The in-browser benchmark
uses the built book in _build/html when there is one, else builds the smoke
book. With BENCH_BUILDS=1 it also times `make book` and `make test` from fresh
clones (bench/bench_builds.py, about an hour on two cores); otherwise the last
measurement in bench/results/builds.json is kept.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def step(*args: str) -> None:
    print(f"\n$ python {' '.join(args)}", flush=True)
    subprocess.run([sys.executable, *args], cwd=ROOT, check=True)


def main() -> int:
    step("bench/bench_chapters.py", "--profile", "smoke")
    step("bench/bench_training.py")
    step("bench/bench_widgets.py")
    site = ROOT / "_build" / "html"
    if not (site / "index.html").is_file():
        step("tools/build_book.py", "--profile", "smoke", "--out", "_build/smoke")
        site = ROOT / "_build" / "smoke" / "html"
    if shutil.which("chromium") or shutil.which("chromium-browser"):
        step("bench/bench_slider_browser.py", "--html", str(site))
        step("tools/page_weight.py", "--html", str(site), "--out", "bench/results/page_weight.json",
             "--label", f"the book in {site.relative_to(ROOT)}")
    else:
        print("Chromium is not installed: in-browser slider latency not measured (apt-get install chromium)")
    if os.environ.get("BENCH_BUILDS") == "1":
        step("bench/bench_builds.py")
    step("bench/report.py")
    return 0


if __name__ == "__main__":
    sys.exit(main())
