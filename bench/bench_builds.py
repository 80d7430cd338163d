"""What the README's two commands cost: wall time of `make book` and `make test`
from a fresh clone (cold: new virtualenv, data fetched, empty caches) and run
again in the same clone (warm), with the per-chapter execution time and the
peak memory of each chapter's kernel during the book build.

    python bench/bench_builds.py [--out bench/results/builds.json] [--only book|test]

Each measurement clones the current commit of this repository into a temporary
folder, so uncommitted changes are not measured. This takes about an hour on a
2-core CPU; `make bench` reuses the last result unless BENCH_BUILDS=1.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from machine import stamp, write_result  # noqa: E402


class KernelWatcher:
    """Sample, every half second, the resident memory of every Jupyter kernel
    started under a process (one kernel per executed notebook) and of the whole
    process tree."""

    def __init__(self, pid: int, period: float = 0.5):
        import psutil

        self._root = psutil.Process(pid)
        self._period = period
        self.kernels: dict[int, dict] = {}
        self.tree_peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        import psutil

        while not self._stop.is_set():
            total = 0
            try:
                procs = [self._root, *self._root.children(recursive=True)]
            except psutil.Error:
                procs = []
            for p in procs:
                try:
                    rss = p.memory_info().rss
                    total += rss
                    if "ipykernel_launcher" in " ".join(p.cmdline()):
                        k = self.kernels.setdefault(p.pid, {"start": p.create_time(), "peak_bytes": 0})
                        k["peak_bytes"] = max(k["peak_bytes"], rss)
                except psutil.Error:
                    continue
            self.tree_peak = max(self.tree_peak, total)
            self._stop.wait(self._period)

    def stop(self) -> list[dict]:
        self._stop.set()
        self._thread.join()
        return sorted(self.kernels.values(), key=lambda k: k["start"])


def run(cmd: list[str], cwd: Path, log: Path, watch: bool = False) -> dict:
    """Run ``cmd`` in ``cwd`` with its output to ``log``; wall time, exit code,
    and (``watch``) the kernels' peak memory."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("COURSE_")}
    start = time.perf_counter()
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, env=env)
        watcher = KernelWatcher(proc.pid) if watch else None
        code = proc.wait()
    result = {"command": " ".join(cmd), "seconds": round(time.perf_counter() - start, 1), "exit_code": code}
    if watcher is not None:
        result["kernels"] = watcher.stop()
        result["tree_peak_bytes"] = watcher.tree_peak
    if code != 0:
        tail = log.read_text()[-3000:]
        raise RuntimeError(f"{' '.join(cmd)} failed with exit code {code} in {cwd}:\n{tail}")
    return result


def chapter_times(clone: Path) -> list[dict]:
    """Per-notebook execution seconds recorded by the book's jupyter-cache, in execution order."""
    from jupyter_cache import get_cache

    rows = []
    for folder in sorted((clone / "_build" / ".jupyter_cache").iterdir()):
        for record in get_cache(str(folder)).list_cache_records():
            rows.append({"chapter": Path(record.uri).stem, "cache": folder.name,
                         "seconds": round(float(record.data.get("execution_seconds", float("nan"))), 1),
                         "finished": record.created.timestamp()})
    return sorted(rows, key=lambda r: r["finished"])


def site_size(html: Path) -> dict:
    def mb(paths) -> float:
        return round(sum(p.stat().st_size for p in paths if p.is_file()) / 1e6, 2)

    files = list(html.rglob("*"))
    return {"pages": sum(1 for p in files if p.suffix == ".html"),
            "total_mb": mb(files),
            "onnx_runtime_mb": mb((html / "vendor" / "ort").rglob("*")),
            "onnx_models_mb": mb((html / "assets").glob("*.onnx")),
            "mathjax_mb": mb((html / "vendor" / "mathjax").rglob("*"))}


def clone(work: Path, name: str) -> Path:
    target = work / name
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(target)], check=True)
    return target


def bench_book(work: Path) -> dict:
    repo = clone(work, "book")
    cold = run(["make", "book"], repo, work / "book-cold.log", watch=True)
    chapters = chapter_times(repo)
    kernels = cold.pop("kernels")
    # one kernel per executed notebook, started in the order the notebooks ran
    if len(kernels) == len(chapters):
        for row, k in zip(chapters, kernels):
            row["peak_rss_mb"] = round(k["peak_bytes"] / 1e6)
    for row in chapters:
        row.pop("finished")
    warm = run(["make", "book"], repo, work / "book-warm.log")
    return {"cold": cold, "warm": warm, "chapters": chapters, "site": site_size(repo / "_build" / "html")}


def bench_test(work: Path) -> dict:
    repo = clone(work, "test")
    cold = run(["make", "test"], repo, work / "test-cold.log")
    warm = run(["make", "test"], repo, work / "test-warm.log")
    summary = [line for line in (work / "test-warm.log").read_text().splitlines() if " passed" in line]
    return {"cold": cold, "warm": warm, "pytest_summary": summary[-1].strip("= ") if summary else ""}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "builds.json"))
    parser.add_argument("--only", choices=["book", "test"], default=None)
    parser.add_argument("--keep", action="store_true", help="keep the clones (printed) for inspection")
    args = parser.parse_args(argv)
    out = Path(args.out)
    result = json.loads(out.read_text()) if out.is_file() else {}
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                            text=True).stdout.strip()
    work = Path(tempfile.mkdtemp(prefix="bench-builds-"))
    print(f"measuring commit {commit} in {work}")
    for what, fn in (("book", bench_book), ("test", bench_test)):
        if args.only in (None, what):
            print(f"make {what}: cold, then warm ...", flush=True)
            result[what] = {**fn(work), "commit": commit, **stamp()}
            write_result(out, result)   # after each command, so a later failure keeps it
            print(json.dumps({k: v for k, v in result[what].items() if k in ("cold", "warm")}, indent=1))
    if not args.keep:
        subprocess.run(["rm", "-rf", str(work)])
    else:
        print(f"clones kept in {work}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
