"""Kernel-side latency of the chapters' sliders: what one slider move costs in a
running notebook (compute + draw the picture + encode it as PNG), read from the
``last_seconds`` that ``cl.figure_widget`` records, over 50 moves per widget,
with the CPU time of those moves (``last_cpu_seconds``, which other processes on
a shared machine do not lengthen) and the load average while it ran.

Every ipywidgets slider of the course is measured, built as its chapter builds
it: chapters 6 and 7 use the committed checkpoints, the others untrained models
of the chapter's size (the time does not depend on the weights). Writes JSON
for ``bench/report.py``; a previous run can be kept beside it as *before*.

    python bench/bench_widgets.py [--moves 50] [--out bench/results/widgets.json]
                                  [--label TEXT] [--baseline OLD.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import torch  # noqa: E402

import course_lib as cl  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from machine import stamp, write_result  # noqa: E402


def _walk(widget):
    yield widget
    for child in getattr(widget, "children", ()):
        yield from _walk(child)


def slider_of(widget, name: str):
    """The slider (a FloatSlider or SelectionSlider) labelled ``name`` in ``widget``."""
    import ipywidgets as widgets

    return next(w for w in _walk(widget) if isinstance(w, (widgets.FloatSlider, widgets.SelectionSlider))
                and w.description == name)


def slider_values(slider, moves: int) -> list:
    """``moves`` values that each change the slider: a sweep from min to max for a
    FloatSlider, the options in turn (wrapping around) for a SelectionSlider."""
    import ipywidgets as widgets

    if isinstance(slider, widgets.SelectionSlider):
        options = list(getattr(slider, "_options_values", slider.options))   # values, not labels
        start = options.index(slider.value)
        return [options[(start + 1 + i) % len(options)] for i in range(moves)]
    values = [float(v) for v in np.linspace(slider.min, slider.max, moves + 1)[1:]]
    return values if values[-1] != slider.value else values[::-1]


def move(widget, name: str, values) -> tuple[list[float], list[float]]:
    """Set the slider ``name`` (its description) to each value; the redraw times
    (wall clock) and the CPU times of those redraws (None where not recorded)."""
    slider = slider_of(widget, name)
    box = next(w for w in _walk(widget) if hasattr(w, "last_seconds"))
    times, cpu = [], []
    for v in values:
        slider.value = v
        times.append(box.last_seconds)
        cpu.append(getattr(box, "last_cpu_seconds", None))
    return times, cpu


def build_widgets():
    """(chapter, description, widget, slider name) for every slider widget of the course."""
    import ipywidgets as widgets

    torch.manual_seed(0)
    roll = cl.swiss_roll(3000, noise=0.1, seed=0)
    x0, x1 = roll[10], roll[2000]
    ae = cl.mlp_autoencoder(2, 16).eval()
    yield 2, "classic AE interpolation (toy data)", cl.ae_interpolation_widget(ae, x0, x1, data=roll), "t"

    mnist = cl.load_images("mnist", "test", subset=200)
    ae16 = cl.mlp_autoencoder((1, 28, 28), 16, hidden=(512, 256), out_activation=torch.nn.Sigmoid()).eval()
    yield 2, "classic AE interpolation (MNIST)", cl.ae_interpolation_widget(ae16, mnist.x[0], mnist.x[1]), "t"

    fashion = cl.load_images("fashion-mnist", "test", subset=200)
    dae = {name: cl.mlp_autoencoder((1, 28, 28), 64, hidden=(256, 128), out_activation=torch.nn.Sigmoid()).eval()
           for name in ("plain AE", "DAE, pixel dropping", "DAE, all five corruptions")}
    yield 3, "corrupted vs denoised (8 images, 3 models)", cl.denoising_widget(dae, fashion.x[:8]), "strength"

    yield 4, "q against the exact posterior", cl.q_posterior_widget(), "mu"

    vae = cl.mlp_vae(2, 16, sigma=0.1).eval()
    w5 = cl.figure_widget(_chapter5_draw(vae, x0, x1, roll),
                          {"t": widgets.FloatSlider(value=0.5, min=0.0, max=1.0, step=0.02, description="t")})
    yield 5, "VAE interpolation (toy data)", w5, "t"

    test = cl.load_images("fashion-mnist", "test", size=32, subset=2000)
    cvae = cl.load_or_train_model("cvae-fashion", on_mismatch="raise", device="cpu").model
    yield 6, "conditional VAE interpolation", cl.interpolation_widget(cvae, test.x, test.y, test.classes), "t"
    yield 6, "sampling temperature", cl.temperature_widget(cvae, test.classes), "temperature T"

    faces = cl.load_or_train_model("faces-vae", on_mismatch="raise", device="cpu").model
    x, attrs = cl.make_faces(2000, seed=12)
    mu = cl.encode_dataset(faces, x)
    vectors = {"smile": cl.attribute_vector(mu, torch.as_tensor(attrs.smile > 0)),
               "glasses": cl.attribute_vector(mu, torch.as_tensor(attrs.glasses > 0.5))}
    frowning = torch.as_tensor(np.flatnonzero(attrs.smile < -0.4)[:8])
    yield 7, "attribute edit (smile, 8 faces)", cl.attribute_edit_widget(faces, x[frowning], vectors,
                                                                          alpha_range=(-1.0, 3.0)), "smile"

    # chapter 8's picker over seven trained betas: their samples and (rate, distortion)
    g = torch.Generator().manual_seed(0)
    betas = [0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0]
    results = {b: {"rate": 30.0 / (1 + b), "distortion": 80.0 + 10 * b, "samples": torch.rand(16, 1, 28, 28, generator=g)}
               for b in betas}
    picker = widgets.SelectionSlider(options=betas, value=1.0, description="beta")
    yield 8, "beta picker (rate and distortion)", cl.figure_widget(_chapter8_draw(results), {"beta": picker}), "beta"


def _chapter5_draw(vae, x0, x1, data):
    """Chapter 5's draw function, as the chapter writes it."""
    import inspect

    if "fig" in inspect.signature(cl.interpolation_figure).parameters:
        return lambda t, fig=None: cl.interpolation_figure(vae, x0, x1, t, data=data, fig=fig)
    return lambda t: cl.interpolation_figure(vae, x0, x1, t, data=data)


def _chapter8_draw(results):
    """Chapter 8's draw function, as the chapter writes it."""
    import inspect

    if "fig" in inspect.signature(cl.rate_distortion_figure).parameters:
        return lambda beta, fig=None: cl.rate_distortion_figure(results, beta, fig=fig)
    return lambda beta: cl.rate_distortion_figure(results, beta)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--moves", type=int, default=50)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "widgets.json"))
    parser.add_argument("--label", default="", help="what was measured, e.g. the commit of course_lib")
    parser.add_argument("--baseline", help="a previous result (JSON) to keep beside this one as 'before'; "
                                           "by default the baseline already in --out is kept")
    args = parser.parse_args(argv)
    rows = []
    load = [os.getloadavg()[0]]
    for chapter, what, widget, name in build_widgets():
        times, cpu = move(widget, name, slider_values(slider_of(widget, name), args.moves))
        row = {"chapter": chapter, "widget": what, "moves": len(times),
               "median_ms": round(1000 * statistics.median(times), 1),
               "p90_ms": round(1000 * statistics.quantiles(times, n=10)[-1], 1)}
        if None not in cpu:
            row["cpu_median_ms"] = round(1000 * statistics.median(cpu), 1)
        print(json.dumps(row), flush=True)
        rows.append(row)
        load.append(os.getloadavg()[0])
    # the machine is shared: the load average (1 min) says how busy it was
    result = {**stamp(), "label": args.label, "load_average": [min(load), max(load)], "widgets": rows}
    out = Path(args.out)
    if args.baseline:
        before = json.loads(Path(args.baseline).read_text())
        result["baseline"] = {k: before[k] for k in ("label", "measured", "machine", "load_average", "widgets")
                              if k in before}
    elif out.is_file() and "baseline" in (previous := json.loads(out.read_text())):
        result["baseline"] = previous["baseline"]
    write_result(out, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
