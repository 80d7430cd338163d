"""Per-chapter execution time and peak memory under a run profile: each chapter
notebook runs top to bottom in a fresh kernel (nbclient), as the book build
runs it, exports included (ONNX models and in-page figures go to a temporary
folder, as the build writes them to the site); the kernel reports its own peak
resident memory at the end.

    python bench/bench_chapters.py [--profile smoke] [--out bench/results/chapters-smoke.json]

The smoke profile takes a few minutes; the cpu profile about as long as
`make book` cold (the book build records the same times in its jupyter-cache,
which bench/bench_builds.py reads).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from machine import stamp, write_result  # noqa: E402

PEAK = "import resource as _r; print('PEAK_RSS_KB', _r.getrusage(_r.RUSAGE_SELF).ru_maxrss)"


def run_chapter(path: Path, profile: str, env: dict[str, str] | None = None, timeout: float = 3600,
                probe: str = PEAK) -> dict:
    """Run one chapter in a fresh kernel under ``profile`` (and the extra environment
    ``env``), stopping after ``timeout`` seconds; return its time and what ``probe``
    (a last cell) printed. Raises nbclient's errors when a cell fails or times out."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(str(path), as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(probe))
    saved = dict(os.environ)
    os.environ.update({"COURSE_PROFILE": profile, "COURSE_PROGRESS": "0", **(env or {})})
    try:
        client = NotebookClient(nb, timeout=None, kernel_name="python3",
                                resources={"metadata": {"path": str(path.parent)}})
        start = time.perf_counter()
        with _deadline(timeout):
            client.execute()
        seconds = time.perf_counter() - start
    finally:
        os.environ.clear()
        os.environ.update(saved)
    text = "".join(o.get("text", "") for o in nb.cells[-1].outputs)
    row = {"chapter": path.stem, "seconds": round(seconds, 1)}
    if "PEAK_RSS_KB" in text:
        row["peak_rss_mb"] = round(int(text.split("PEAK_RSS_KB")[1].split()[0]) / 1000)
    row["probe"] = text.strip()
    return row


@contextmanager
def _deadline(seconds: float):
    """Raise TimeoutError in the main thread after ``seconds`` (a whole-notebook limit;
    nbclient's own timeout is per cell)."""
    def expire(signum, frame):
        raise TimeoutError(f"stopped after {seconds:.0f} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, max(1.0, seconds))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="smoke", choices=["smoke", "cpu", "full"])
    parser.add_argument("--out", default=None)
    parser.add_argument("chapters", nargs="*", help="notebooks (default: every chapter)")
    args = parser.parse_args(argv)
    paths = [Path(p) for p in args.chapters] or sorted((ROOT / "chapters").glob("*.ipynb"))
    rows = []
    for path in paths:
        with tempfile.TemporaryDirectory() as assets:      # what the book build exports, timed too
            row = run_chapter(path.resolve(), args.profile, env={"COURSE_SITE_ASSETS": assets})
        row.pop("probe")
        print(json.dumps(row), flush=True)
        rows.append(row)
    write_result(args.out or ROOT / "bench" / "results" / f"chapters-{args.profile}.json",
                 {"profile": args.profile, **stamp(), "chapters": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
