"""Kernel-side latency of the chapters' sliders: what one slider move costs in a
running notebook (decode + draw the figure + render it to PNG), read from the
``last_seconds`` that ``cl.figure_widget`` records, over 50 moves per widget.

The widgets are built exactly as the chapters build them; chapters 6 and 7 use
the committed checkpoints, the others untrained models of the chapter's size
(the time does not depend on the weights). Writes JSON for ``bench/report.py``.

    python bench/bench_widgets.py [--moves 50] [--out bench/results/widgets.json]
"""

from __future__ import annotations

import argparse
import json
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


def move(widget, name: str, values) -> list[float]:
    """Set the slider ``name`` (its description) to each value; the redraw times."""
    import ipywidgets as widgets

    slider = next(w for w in _walk(widget) if isinstance(w, widgets.FloatSlider) and w.description == name)
    box = next(w for w in _walk(widget) if hasattr(w, "last_seconds"))
    times = []
    for v in values:
        slider.value = float(v)
        times.append(box.last_seconds)
    return times


def build_widgets():
    """(chapter, description, widget, slider name, values) for every slider widget."""
    import ipywidgets as widgets

    torch.manual_seed(0)
    roll = cl.swiss_roll(3000, noise=0.1, seed=0)
    x0, x1 = roll[10], roll[2000]
    ae = cl.mlp_autoencoder(2, 2).eval()
    yield 2, "classic AE interpolation (toy data)", cl.ae_interpolation_widget(ae, x0, x1, data=roll), "t"

    vae = cl.mlp_vae(2, 16, sigma=0.1).eval()
    w5 = cl.figure_widget(lambda t: cl.interpolation_figure(vae, x0, x1, t, data=roll),
                          {"t": widgets.FloatSlider(value=0.5, min=0.0, max=1.0, step=0.02, description="t")})
    yield 5, "VAE interpolation (toy data)", w5, "t"

    test = cl.load_images("fashion-mnist", "test", size=32, subset=2000)
    cvae = cl.load_or_train_model("cvae-fashion", on_mismatch="raise", device="cpu").model
    yield 6, "conditional VAE interpolation", cl.interpolation_widget(cvae, test.x, test.y, test.classes), "t"

    faces = cl.load_or_train_model("faces-vae", on_mismatch="raise", device="cpu").model
    x, attrs = cl.make_faces(2000, seed=12)
    mu = cl.encode_dataset(faces, x)
    vectors = {"smile": cl.attribute_vector(mu, torch.as_tensor(attrs.smile > 0)),
               "glasses": cl.attribute_vector(mu, torch.as_tensor(attrs.glasses > 0.5))}
    frowning = torch.as_tensor(np.flatnonzero(attrs.smile < -0.4)[:8])
    yield 7, "attribute edit (smile, 8 faces)", cl.attribute_edit_widget(faces, x[frowning], vectors,
                                                                          alpha_range=(-1.0, 3.0)), "smile"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--moves", type=int, default=50)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "widgets.json"))
    args = parser.parse_args(argv)
    rows = []
    for chapter, what, widget, name in build_widgets():
        slider = next(w for w in _walk(widget) if getattr(w, "description", None) == name)
        values = np.linspace(slider.min, slider.max, args.moves + 1)[1:]
        times = move(widget, name, values)
        row = {"chapter": chapter, "widget": what, "moves": len(times),
               "median_ms": round(1000 * statistics.median(times), 1),
               "p90_ms": round(1000 * statistics.quantiles(times, n=10)[-1], 1)}
        print(json.dumps(row), flush=True)
        rows.append(row)
    write_result(args.out, {**stamp(), "widgets": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
