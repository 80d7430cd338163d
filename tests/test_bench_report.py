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
                    "bench/bench_widgets.py", "bench/bench_slider_browser.py", "tools/page_weight.py"):
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


def test_gpu_section_says_it_was_not_run_and_then_shows_the_check(tmp_path):
    assert "no CUDA machine has run the prepared check" in report.render(tmp_path)
    machine = {**MACHINE, "cuda": True, "gpu": "Test GPU 80GB"}
    (tmp_path / "gpu.json").write_text(json.dumps({
        "machine": machine, "measured": "today", "device": "cuda", "budget_seconds": 660.0, "seconds": 640.0,
        "smoke": [{"chapter": "01_a", "ok": True, "status": "passed", "seconds": 9.0},
                  {"chapter": "02_b", "ok": False, "status": "failed", "error": "boom"}],
        "full": [{"chapter": "01_a", "ok": True, "status": "passed", "seconds": 123.0, "peak_gpu_mb": 4321},
                 {"chapter": "02_b", "ok": False, "status": "stopped by the time budget after 300 s"}]}))
    text = report.render(tmp_path)
    assert "| 01_a | passed (9 s) | passed | 2.0 min | 4321 MB |" in text
    assert "| 02_b | failed | stopped by the time budget after 300 s | - | - |" in text
    assert "GPU Test GPU 80GB" in text and "11 minutes" in text


def test_page_weight_section_shows_each_chapter_before_and_after(tmp_path):
    def page(name, load, read, ort=0):
        return {"page": name, "on_load": {"bytes": load, "by_group": {}},
                "read_to_end": {"bytes": read, "by_group": {"onnxruntime": ort, "widget manager": 3_870_000}}}

    (tmp_path / "page_weight.json").write_text(json.dumps({
        "machine": MACHINE, "measured": "today", "label": "smoke build of abc1234",
        "pages": [page("chapters/05_x.html", 4_990_000, 19_400_000, ort=14_310_000),
                  page("book/intro.html", 1, 3_780_000)],
        "baseline": {"label": "smoke build of 0000000", "measured": "yesterday",
                     "pages": [page("chapters/05_x.html", 22_720_000, 22_720_000)]}}))
    text = report.render(tmp_path)
    assert "| 05_x | 5.0 MB | 19.4 MB | 14.3 MB | 3.9 MB | 22.7 MB | 22.7 MB |" in text
    assert "The other 1 pages: 3.8 MB to 3.8 MB each." in text
    assert "smoke build of abc1234; *before*: smoke build of 0000000" in text


def test_slider_section_shows_each_widget_before_and_after(tmp_path):
    row = {"chapter": 2, "widget": "w", "moves": 50, "median_ms": 61.0, "p90_ms": 80.0, "cpu_median_ms": 40.0}
    (tmp_path / "widgets.json").write_text(json.dumps({
        "machine": MACHINE, "measured": "today", "load_average": [1.2, 2.5], "widgets": [row],
        "baseline": {"label": "a new figure per move", "measured": "yesterday", "load_average": [3.0],
                     "widgets": [{**row, "median_ms": 250.0, "p90_ms": 700.0}]}}))
    text = report.render(tmp_path)
    assert "| chapter | widget | median | p90 | CPU | before: median | before: p90 |" in text
    assert "| 2 | w | 61 ms | 80 ms | 40 ms | 250 ms | 700 ms |" in text
    assert "load average 1.2-2.5; *before*: a new figure per move measured yesterday, load average 3.0" in text


def test_a_cpu_chapter_bench_adds_its_columns_and_total(tmp_path):
    """bench_chapters.py --profile cpu (a later measurement than the build's) shows beside
    the build's times, with its own total and date."""
    (tmp_path / "chapters-cpu.json").write_text(json.dumps({
        "profile": "cpu", "machine": MACHINE, "measured": "this morning",
        "chapters": [{"chapter": "01_a", "seconds": 90.0, "peak_rss_mb": 1400},
                     {"chapter": "03_c", "seconds": 150.0}]}))
    text = report.render(tmp_path)
    assert "| chapter | smoke: time | smoke: peak memory | cpu: time | cpu: peak memory | cpu, bench: time |" in text
    assert "| 01_a | - | - | - | - | 1.5 min | 1400 MB |" in text
    assert "| 03_c | - | - | - | - | 2.5 min | - |" in text
    assert "| **total** | - |  | - |  | 4.0 min |  |" in text              # 90 + 150 s
    assert "Cpu, bench: measured this morning on Test CPU" in text


def test_the_students_seat_section_comes_from_the_isolated_run(tmp_path):
    assert "`python tools/isolated_run.py`" in report.render(tmp_path)
    (tmp_path / "colab.json").write_text(json.dumps({
        "machine": MACHINE, "measured": "2026-12-08 01:00 UTC", "profile": "smoke", "env_seconds": 14.2,
        "install_seconds": 86.0, "passed": 1, "total": 2,
        "chapters": [{"chapter": "01_a", "ok": True, "error": None, "seconds": 110.0, "bootstrap_seconds": 86.0},
                     {"chapter": "02_b", "ok": False, "error": "ModuleNotFoundError: No module named 'x'",
                      "seconds": 20.0, "bootstrap_seconds": 0.01}]}))
    text = report.render(tmp_path)
    assert "| 01_a | ran | 1.8 min | 86 s |" in text
    assert "| 02_b | FAILED: ModuleNotFoundError: No module named 'x' | 20 s | - |" in text
    assert "1 of 2 chapters ran" in text and "installing the course and its dependencies: 86 s" in text
