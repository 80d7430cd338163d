"""Write the book's "Running costs" appendix (book/running_costs.md) from the
benchmark results in bench/results/*.json. Missing results are listed with the
command that measures them; nothing is typed in by hand.

    python bench/report.py [--results bench/results] [--out book/running_costs.md]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

INTRO = """# Running costs

What the course costs to build, test, train and explore, measured by the scripts
in `bench/` (`make bench` runs them and rewrites this page; `BENCH_BUILDS=1 make
bench` also times the two README commands from fresh clones, about an hour on
two cores). Every number below comes from a results file in `bench/results/`;
each table says when and on which machine it was measured. Your times will
differ with the machine: use the ratios and the growth, not the absolute values.
"""


def _load(results: Path, name: str) -> dict | None:
    path = results / f"{name}.json"
    return json.loads(path.read_text()) if path.is_file() else None


def _machine(m: dict) -> str:
    parts = [f"{m.get('cpu', '?')}", f"{m.get('cores', '?')} cores"]
    if m.get("memory_gb"):
        parts.append(f"{m['memory_gb']} GB")
    if m.get("gpu"):
        parts.append(f"GPU {m['gpu']}")
    if m.get("torch"):
        parts.append(f"torch {m['torch']} ({m.get('torch_threads', '?')} threads"
                     f"{', CUDA' if m.get('cuda') else ', no GPU'})")
    parts.append(f"Python {m.get('python', '?')}")
    return ", ".join(parts)


def _table(header: list[str], rows: list[list]) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(out)


def _missing(what: str, command: str) -> str:
    return f"*Not measured yet: run `{command}` to fill in {what}.*\n"


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min" if seconds >= 90 else f"{seconds:.0f} s"


def builds_section(b: dict | None) -> str:
    s = "## The two commands\n\n"
    if not b:
        return s + _missing("the build and test times", "python bench/bench_builds.py")
    rows = []
    for what in ("book", "test"):
        if what in b:
            r = b[what]
            rows.append([f"`make {what}`", _minutes(r["cold"]["seconds"]), _minutes(r["warm"]["seconds"]),
                         r["commit"], r["measured"]])
    s += ("Cold: a fresh clone, so the virtualenv is created, the data are fetched and every "
          "chapter is executed. Warm: the same command again in that clone (cached "
          "notebooks are reused while `course_lib` and the profile are unchanged). "
          "`make book` uses the `cpu` profile on a machine without a GPU.\n\n")
    s += _table(["command", "cold", "warm", "commit", "measured"], rows) + "\n\n"
    m = next(iter(b.values()))["machine"]
    s += f"Machine: {_machine(m)}.\n"
    if "test" in b and b["test"].get("pytest_summary"):
        s += f"\nThe warm `make test` ended with: `{b['test']['pytest_summary']}`.\n"
    if "book" in b and b["book"].get("site"):
        site = b["book"]["site"]
        s += (f"\nThe built site has {site['pages']} HTML pages and weighs {site['total_mb']} MB, of which "
              f"the ONNX runtime {site['onnx_runtime_mb']} MB, the exported decoders {site['onnx_models_mb']} MB "
              f"and MathJax {site['mathjax_mb']} MB.\n")
    return s


def chapters_section(smoke: dict | None, builds: dict | None, cpu_bench: dict | None = None) -> str:
    s = "## Each chapter\n\n"
    cpu = {r["chapter"]: r for r in (builds or {}).get("book", {}).get("chapters", [])}
    sm = {r["chapter"]: r for r in (smoke or {}).get("chapters", [])}
    cb = {r["chapter"]: r for r in (cpu_bench or {}).get("chapters", [])}
    names = sorted(set(cpu) | set(sm) | set(cb))
    if not names:
        return s + _missing("the per-chapter times", "python bench/bench_chapters.py --profile smoke")
    s += ("Execution time of each chapter notebook, top to bottom in a fresh kernel, and the "
          "kernel's peak resident memory. `smoke` is what `make test` runs; `cpu` is what "
          "`make book` runs here (times from the book build's cache, memory sampled every "
          "half second during that build)")
    s += (", and, in the last columns, the same chapters under `cpu` run one after the other by "
          "`python bench/bench_chapters.py --profile cpu` (exports included), a later measurement "
          "than the build's" if cb else "") + ".\n\n"
    rows = []
    for n in names:
        a, b, c = sm.get(n, {}), cpu.get(n, {}), cb.get(n, {})
        row = [n, f"{a['seconds']:.0f} s" if a else "-", f"{a['peak_rss_mb']} MB" if a else "-",
               _minutes(b["seconds"]) if b else "-",
               f"{b['peak_rss_mb']} MB" if b.get("peak_rss_mb") else "-"]
        if cb:
            row += [_minutes(c["seconds"]) if c else "-", f"{c['peak_rss_mb']} MB" if c.get("peak_rss_mb") else "-"]
        rows.append(row)
    total_a = sum(r["seconds"] for r in sm.values())
    total_b = sum(r["seconds"] for r in cpu.values())
    total = ["**total**", f"{total_a:.0f} s" if sm else "-", "", _minutes(total_b) if cpu else "-", ""]
    header = ["chapter", "smoke: time", "smoke: peak memory", "cpu: time", "cpu: peak memory"]
    if cb:
        total += [_minutes(sum(r["seconds"] for r in cb.values())), ""]
        header += ["cpu, bench: time", "cpu, bench: peak memory"]
    rows.append(total)
    s += _table(header, rows) + "\n"
    if smoke:
        s += f"\nSmoke: measured {smoke['measured']} on {_machine(smoke['machine'])}.\n"
    if cb:
        s += f"\nCpu, bench: measured {cpu_bench['measured']} on {_machine(cpu_bench['machine'])}.\n"
    if cpu:
        warm = builds["book"]["warm"]["seconds"]
        s += ("\n**Build time against the number of chapters.** With nothing to execute, a build "
              f"takes {_minutes(warm)} (the warm build above); each chapter adds its execution time. "
              "Cold `cpu` build time, derived from the table, for the first *n* chapters:\n\n")
        acc, rows = 0.0, []
        for k, n in enumerate(names, 1):
            acc += cpu[n]["seconds"] if n in cpu else 0.0
            if k in (1, 3, 5, 7, 9) or k == len(names):
                rows.append([k, _minutes(warm + acc)])
        s += _table(["chapters", "build time (warm overhead + execution)"], rows) + "\n"
    return s


def training_section(t: dict | None) -> str:
    s = "## Training throughput\n\n"
    if not t:
        return s + _missing("the training throughput", "python bench/bench_training.py")
    s += ("Images per second of one optimiser step (forward, backward, AdamW; fetching the batch "
          f"included), from the median of {t['steps']} timed steps after 3 warm-up steps. "
          "*course*: `course_lib`'s in-memory "
          "pipeline; *seed*: torchvision data set with per-image transforms through a "
          "`DataLoader`, as in the source notes; *channels_last* and *torch.compile*: the "
          "course pipeline with that change (the compile time is that of the first step; "
          "PyTorch's on-disk compile cache shortens it after the first run).\n\n")
    rows = []
    for r in t["throughput"]:
        comp = r.get("compile")
        comp_txt = ("-" if comp is None else f"failed ({comp['error'][:60]})" if "error" in comp
                    else f"{comp['images_per_second']:.0f} (compile {comp['compile_seconds']:.0f} s)")
        rows.append([r["model"], r["batch_size"], f"{r['course']['images_per_second']:.0f}",
                     f"{r['seed']['images_per_second']:.0f}" if "seed" in r else "-",
                     f"{r['seed_over_course']:.2f}x" if "seed_over_course" in r else "-",
                     f"{r['channels_last']['images_per_second']:.0f}" if "channels_last" in r else "-",
                     comp_txt])
    s += _table(["model", "batch", "course", "seed", "course / seed", "channels_last", "torch.compile"], rows)
    s += f"\n\nMeasured {t['measured']} on {_machine(t['machine'])}.\n"
    g = t.get("growth")
    if g:
        s += ("\n**How an epoch of the conditional VAE grows** (60,000 images; time from the measured "
              "rate):\n\n")
        s += _table(["batch size (L = 128)", "images/s", "s per epoch"],
                    [[r["batch_size"], f"{r['images_per_second']:.0f}", f"{r['epoch_seconds']:.0f}"]
                     for r in g["by_batch"]]) + "\n\n"
        s += _table(["latent size L (batch 256)", "images/s", "s per epoch"],
                    [[r["latent_dim"], f"{r['images_per_second']:.0f}", f"{r['epoch_seconds']:.0f}"]
                     for r in g["by_latent"]]) + "\n"
    return s


def _load_average(result: dict) -> str:
    """', load average a-b' where the result recorded the machine's 1-minute load average."""
    load = result.get("load_average")
    if not load:
        return ""
    lo, hi = min(load), max(load)
    return f", load average {lo:.1f}" + (f"-{hi:.1f}" if hi > lo else "")


def sliders_section(w: dict | None, br: dict | None) -> str:
    s = "## Slider latency\n\n"
    if w:
        base = {(r["chapter"], r["widget"]): r for r in (w.get("baseline") or {}).get("widgets", [])}
        cpu = any("cpu_median_ms" in r for r in w["widgets"])
        s += ("In a running notebook, one slider move recomputes what the widget shows, draws it and "
              "encodes it as PNG (median and 90th percentile over "
              f"{w['widgets'][0]['moves']} moves, wall clock"
              + ("; *CPU* is the median CPU time of a move, which other processes on the machine do not "
                 "lengthen" if cpu else "") + ")" + (". " if base else "")
              + ("Each widget redraws one reused Matplotlib figure in place (its artists updated, then "
                 "only the moving ones drawn over a kept picture of the rest where the layout holds; "
                 "chapter 6's interpolation draws a pixel array); *before*, every move built and saved "
                 "a new figure. The machine is shared: its load average says how busy it was"
                 if base else "") + ".\n\n")
        header = ["chapter", "widget", "median", "p90"] + (["CPU"] if cpu else [])
        header += ["before: median", "before: p90"] if base else []
        rows = []
        for r in w["widgets"]:
            row = [r["chapter"], r["widget"], f"{r['median_ms']:.0f} ms", f"{r['p90_ms']:.0f} ms"]
            row += [f"{r['cpu_median_ms']:.0f} ms" if "cpu_median_ms" in r else "-"] if cpu else []
            if base:
                b = base.get((r["chapter"], r["widget"]))
                row += [f"{b['median_ms']:.0f} ms", f"{b['p90_ms']:.0f} ms"] if b else ["-", "-"]
            rows.append(row)
        s += _table(header, rows) + "\n"
        s += f"\nMeasured {w['measured']} on {_machine(w['machine'])}{_load_average(w)}"
        if base:
            b = w["baseline"]
            s += f"; *before*: {b.get('label') or ''} measured {b['measured']}{_load_average(b)}"
        s += ".\n\n"
    else:
        s += _missing("the kernel-side slider latency", "python bench/bench_widgets.py") + "\n"
    if br:
        s += ("In the rendered book, the in-page widgets answer without a kernel, in headless Chromium: "
              "decoders run by onnxruntime-web (WebAssembly, one thread), sliders over figures drawn "
              "when the book was built (chapters 1, 3 and 8: a move swaps the picture) and chapter 4's "
              "closed-form explorer (plain JavaScript). The time of one move measured in the page "
              "(decode and draw; swap and decode the picture; compute and draw):\n\n")
        s += _table(["chapter", "slider", "median", "p90", "moves"],
                    [[r["page"], r["slider"] + (f" ({r['action']})" if r.get("action") else ""),
                      f"{r['median_ms']:.1f} ms", f"{r['p90_ms']:.1f} ms", r["moves"]]
                     for r in br["sliders"]]) + "\n"
        s += f"\nMeasured {br['measured']} on {_machine(br['machine'])}.\n"
    else:
        s += _missing("the in-browser decode time", "python bench/bench_slider_browser.py")
    return s


def page_weight_section(w: dict | None) -> str:
    s = "## Page weight\n\n"
    if not w:
        return s + _missing("the bytes each page downloads",
                            "python tools/page_weight.py --out bench/results/page_weight.json")
    mb = lambda n: f"{n / 1e6:.1f} MB"  # noqa: E731
    base = {r["page"]: r for r in (w.get("baseline") or {}).get("pages", [])}
    s += ("What a reader's browser downloads for each page, with an empty cache, served without "
          "compression (a host that gzips text sends less): *on load* with the page opened at its "
          "top, *read to the end* after scrolling to its bottom, which loads what waits until it is "
          "in view (the in-page sliders' onnxruntime, about 14 MB). The widget manager loads only on "
          "pages that show a kernel widget. The two 'of which' columns split the *read to the end* total. "
          "Measured by `tools/page_weight.py` in headless Chromium.\n\n")
    header = ["page", "on load", "read to the end", "of which onnxruntime", "of which widget manager"]
    if base:
        header += ["before: on load", "before: read to the end"]
    rows = []
    for r in w["pages"]:
        if not r["page"].startswith("chapters/"):
            continue
        groups = r["read_to_end"]["by_group"]
        row = [r["page"].removeprefix("chapters/").removesuffix(".html"), mb(r["on_load"]["bytes"]),
               mb(r["read_to_end"]["bytes"]), mb(groups.get("onnxruntime", 0)), mb(groups.get("widget manager", 0))]
        if base:
            b = base.get(r["page"])
            row += [mb(b["on_load"]["bytes"]), mb(b["read_to_end"]["bytes"])] if b else ["-", "-"]
        rows.append(row)
    s += _table(header, rows) + "\n"
    others = [r["read_to_end"]["bytes"] for r in w["pages"] if not r["page"].startswith("chapters/")]
    if others:
        s += f"\nThe other {len(others)} pages: {mb(min(others))} to {mb(max(others))} each.\n"
    s += f"\nMeasured {w['measured']} on {w.get('label') or w.get('site', 'a built book')}"
    if base:
        s += f"; *before*: {w['baseline'].get('label') or w['baseline'].get('measured')}"
    return s + ".\n"


def colab_section(c: dict | None) -> str:
    s = "## From a student's seat\n\n"
    if not c:
        return s + _missing("this section", "python tools/isolated_run.py")
    s += ("Every chapter as on Colab, Kaggle or a class JupyterHub (`make colab-check`, "
          "`tools/isolated_run.py`): a new virtual environment that sees nothing of the course's own "
          "receives only `ipykernel`; the first chapter's set-up cell installs the course from a wheel "
          "with the dependencies `pyproject.toml` declares; each chapter runs alone, top to bottom, "
          f"from a folder outside the repository, under the {c['profile']} profile.\n\n")
    rows = [[r["chapter"], "ran" if r["ok"] else f"FAILED: {r['error']}", _minutes(r["seconds"]),
             _minutes(r["bootstrap_seconds"]) if (r.get("bootstrap_seconds") or 0) >= 1 else "-"]
            for r in c["chapters"]]
    s += _table(["chapter", "result", "time", "of which: installing the course"], rows)
    install = f"; installing the course and its dependencies: {_minutes(c['install_seconds'])}" \
        if c.get("install_seconds") else ""
    return s + (f"\n\n{c['passed']} of {c['total']} chapters ran. The environment with `ipykernel` took "
                f"{_minutes(c['env_seconds'])}{install}. Measured {c['measured']} on "
                f"{_machine(c['machine'])}.\n")


def gpu_section(g: dict | None) -> str:
    s = "## On a GPU\n\n"
    if not g:
        return s + ("*Not measured yet: no CUDA machine has run the prepared check. On one, `make gpu-check` "
                    "(or `python bench/gpu_check.py`) runs every chapter on the GPU under the smoke profile, "
                    "then each chapter under the full profile within an 11-minute budget, and fills in this "
                    "section.*\n")
    gpu = g["machine"].get("gpu") or g["device"]
    s += (f"Every chapter under the smoke profile on `{g['device']}` ({gpu}), with `fit` checking that the "
          "model and its batches sit on the GPU; then each chapter under the full profile, sharing a budget "
          f"of {g['budget_seconds'] / 60:.0f} minutes (a chapter the budget stopped says so: the full "
          "profile is then trimmed by the budget, not finished).\n\n")
    full = {r["chapter"]: r for r in g["full"]}
    rows = []
    for r in g["smoke"]:
        f = full.get(r["chapter"], {})
        mem = f.get("peak_gpu_mb")
        rows.append([r["chapter"], r["status"] + (f" ({r['seconds']:.0f} s)" if r.get("seconds") else ""),
                     f.get("status", "-"), _minutes(f["seconds"]) if f.get("seconds") else "-",
                     f"{mem} MB" if mem is not None else "-"])
    s += _table(["chapter", "smoke on the GPU", "full profile", "full: time", "full: peak GPU memory"], rows)
    return s + f"\n\nMeasured {g['measured']} on {_machine(g['machine'])}; {_minutes(g['seconds'])} in all.\n"


def render(results: Path) -> str:
    builds = _load(results, "builds")
    return "\n".join([INTRO, builds_section(builds),
                      chapters_section(_load(results, "chapters-smoke"), builds, _load(results, "chapters-cpu")),
                      training_section(_load(results, "training")),
                      sliders_section(_load(results, "widgets"), _load(results, "browser")),
                      page_weight_section(_load(results, "page_weight")),
                      colab_section(_load(results, "colab")),
                      gpu_section(_load(results, "gpu"))])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", default=str(ROOT / "bench" / "results"))
    parser.add_argument("--out", default=str(ROOT / "book" / "running_costs.md"))
    args = parser.parse_args(argv)
    Path(args.out).write_text(render(Path(args.results)))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
