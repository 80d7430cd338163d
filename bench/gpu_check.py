"""The prepared GPU check: run it once on any CUDA machine (``make gpu-check``).

1. Every chapter under the smoke profile on the GPU (``COURSE_DEVICE=cuda``), with
   ``COURSE_EXPECT_DEVICE=cuda`` so that ``fit`` fails unless the model and its
   batches really sit on the GPU: pass or fail per chapter.
2. Then each chapter under the full profile, with its wall time and peak GPU memory,
   in the time that is left of ``--budget`` seconds (default 11 minutes, to fit a
   12-minute slot); a chapter stopped by the budget is recorded as such, not hidden.

Writes ``bench/results/gpu.json``, which the book's Running costs page shows.

    python bench/gpu_check.py [--budget 660] [--device cuda] [--out bench/results/gpu.json] [CHAPTER...]

``--device cpu`` rehearses the same run on a machine without a GPU (the smoke phase
then checks CPU placement, and the memory column is the kernel's peak RSS).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from bench_chapters import run_chapter  # noqa: E402
from machine import stamp, write_result  # noqa: E402

#: the last cell of every run: peak GPU memory (or the kernel's peak RSS on the CPU)
PROBE = """\
import json as _json, resource as _r, torch as _t
_cuda = _t.cuda.is_available() and _t.cuda.max_memory_allocated() > 0
print('GPU_CHECK', _json.dumps({'peak_gpu_mb': round(_t.cuda.max_memory_allocated() / 2**20) if _cuda else None,
                                'peak_rss_mb': round(_r.getrusage(_r.RUSAGE_SELF).ru_maxrss / 1000)}))"""
#: the smoke phase's limit per chapter (its CPU run takes under a minute)
SMOKE_TIMEOUT = 180.0


def _error(err: BaseException) -> str:
    lines = [line for line in str(err).splitlines() if "Error" in line]
    return (lines[-1] if lines else f"{type(err).__name__}: {err}")[-300:]


def check(paths: list[Path], device: str, budget: float) -> dict:
    start = time.perf_counter()
    left = lambda: budget - (time.perf_counter() - start)  # noqa: E731
    env = {"COURSE_DEVICE": device, "COURSE_EXPECT_DEVICE": device}
    phases: dict[str, list[dict]] = {"smoke": [], "full": []}
    for profile in ("smoke", "full"):
        for i, path in enumerate(paths):
            row = {"chapter": path.stem}
            # the full phase shares what is left fairly among the chapters still to run
            limit = min(SMOKE_TIMEOUT, left()) if profile == "smoke" else left() / (len(paths) - i)
            if limit < 5:
                row.update(ok=False, status="not run: time budget spent")
            else:
                try:
                    out = run_chapter(path, profile, env=env, timeout=limit, probe=PROBE)
                    row.update(ok=True, status="passed", seconds=out["seconds"],
                               **json.loads(out["probe"].split("GPU_CHECK", 1)[1]))
                except TimeoutError:
                    row.update(ok=False, status=f"stopped by the time budget after {limit:.0f} s")
                except Exception as err:  # a failing cell: keep going, report it
                    row.update(ok=False, status="failed", error=_error(err))
            print(profile, json.dumps(row), flush=True)
            phases[profile].append(row)
    return {"device": device, "budget_seconds": budget, "seconds": round(time.perf_counter() - start, 1), **phases}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--budget", type=float, default=660.0, help="seconds for the whole check")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "gpu.json"))
    parser.add_argument("chapters", nargs="*", help="notebooks (default: every chapter)")
    args = parser.parse_args(argv)
    import torch

    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print(f"gpu_check: --device {args.device} but this machine has no CUDA device "
              "(torch.cuda.is_available() is False); use --device cpu to rehearse.", file=sys.stderr)
        return 2
    paths = [Path(p).resolve() for p in args.chapters] or sorted((ROOT / "chapters").glob("*.ipynb"))
    result = check(paths, args.device, args.budget)
    info = stamp()
    if args.device.startswith("cuda"):
        info["machine"]["gpu"] = torch.cuda.get_device_name()
    write_result(args.out, {**info, **result})
    failed = [r["chapter"] for r in result["smoke"] if not r["ok"]]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
