"""The "Running costs" appendix is generated from the benchmark results, never typed."""

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

import report  # noqa: E402

MACHINE = {"cpu": "Test CPU", "cores": 2, "memory_gb": 24.0, "python": "3.11", "torch": "2.x",
           "torch_threads": 2, "cuda": False}


def test_missing_results_say_how_to_measure_them(tmp_path):
    text = report.render(tmp_path)
    for command in ("bench/bench_builds.py", "bench/bench_chapters.py", "bench/bench_training.py",
                    "bench/bench_widgets.py", "bench/bench_slider_browser.py"):
        assert f"`python {command}" in text


def test_numbers_come_from_the_results(tmp_path):
    (tmp_path / "chapters-smoke.json").write_text(json.dumps({
        "profile": "smoke", "machine": MACHINE, "measured": "today",
        "chapters": [{"chapter": "01_a", "seconds": 12.0, "peak_rss_mb": 700},
                     {"chapter": "02_b", "seconds": 30.0, "peak_rss_mb": 900}]}))
    (tmp_path / "builds.json").write_text(json.dumps({"book": {
        "cold": {"seconds": 1800.0}, "warm": {"seconds": 60.0}, "commit": "abc1234", "measured": "today",
        "machine": MACHINE,
        "chapters": [{"chapter": "01_a", "seconds": 100.0, "peak_rss_mb": 1500},
                     {"chapter": "02_b", "seconds": 200.0}],
        "site": {"pages": 14, "total_mb": 40.5, "onnx_runtime_mb": 11.2, "onnx_models_mb": 1.7,
                 "mathjax_mb": 20.0}}}))
    (tmp_path / "widgets.json").write_text(json.dumps({"machine": MACHINE, "measured": "today", "widgets": [
        {"chapter": 6, "widget": "w", "moves": 50, "median_ms": 81.0, "p90_ms": 95.0}]}))
    text = report.render(tmp_path)
    assert "| `make book` | 30.0 min | 60 s | abc1234 | today |" in text
    assert "| 01_a | 12 s | 700 MB | 1.7 min | 1500 MB |" in text
    assert "| 02_b | 30 s | 900 MB | 3.3 min | - |" in text
    assert "| **total** | 42 s |  | 5.0 min |  |" in text           # 12 + 30 s; 100 + 200 s
    assert "14 HTML pages and weighs 40.5 MB" in text
    assert "| 2 | 6.0 min |" in text                                # 60 s warm + 300 s of execution
    assert "| 6 | w | 81 ms | 95 ms |" in text
    assert "Test CPU, 2 cores" in text


def test_the_committed_page_matches_the_committed_results():
    page = (ROOT / "book" / "running_costs.md").read_text()
    assert page == report.render(ROOT / "bench" / "results"), \
        "book/running_costs.md is stale: run `python bench/report.py` (or `make bench`)"
