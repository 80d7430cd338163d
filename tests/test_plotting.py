import numpy as np
import pytest
import torch
from matplotlib.figure import Figure
import matplotlib.pyplot as plt

import course_lib as cl


def test_scatter2d_returns_labelled_figure_and_closes_it():
    before = plt.get_fignums()
    fig = cl.scatter2d(torch.randn(50, 2), overlay=torch.randn(20, 2), title="t")
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert ax.get_xlabel() and ax.get_ylabel() and ax.get_title() == "t"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["data", "model"]
    assert plt.get_fignums() == before


def test_scatter2d_rejects_wrong_shape():
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        cl.scatter2d(torch.randn(5, 3))


def test_image_grid_layout_and_labels():
    fig = cl.image_grid(torch.rand(6, 1, 8, 8), row_labels=["a", "b"], col_labels=["x", "y", "z"])
    assert len(fig.axes) == 6
    assert fig.axes[0].get_ylabel() == "a" and fig.axes[3].get_ylabel() == "b"
    assert fig.axes[1].get_title() == "y"
    img = fig.axes[4].images[0].get_array()
    assert img.shape == (8, 8)


def test_image_grid_rejects_bad_shape():
    with pytest.raises(ValueError):
        cl.image_grid(torch.rand(8, 8))


def test_plot_history_draws_each_part():
    h = cl.History(records=[{"loss": 1.0 / i, "kl": 0.5} for i in range(1, 51)])
    fig = cl.plot_history(h, smooth=5)
    lines = fig.axes[0].get_lines()
    assert len(lines) == 2 and len(lines[0].get_ydata()) == 46
    assert fig.axes[0].get_xlabel() == "optimisation step"


def test_plot_history_of_a_manifest_is_per_epoch():
    history = [{"loss": 10.0 - i, "recon": 8.0 - i, "kl": 2.0} for i in range(4)]   # a manifest's list
    fig = cl.plot_history(history, keys=["loss", "kl"], logy=False)
    ax = fig.axes[0]
    assert ax.get_xlabel() == "epoch" and [l.get_label() for l in ax.get_lines()] == ["loss", "kl"]
    assert list(ax.get_lines()[0].get_xdata()) == [1, 2, 3, 4]
    assert list(ax.get_lines()[0].get_ydata()) == [10.0, 9.0, 8.0, 7.0]
    with pytest.raises(ValueError, match="empty"):
        cl.plot_history([])
    with pytest.raises(KeyError, match="elbo"):
        cl.plot_history(history, keys=["elbo"])


# --- the figures behind the chapters' sliders ---------------------------------------------------


def test_q_vs_posterior_figure_and_errors():
    fig = cl.q_vs_posterior_figure(0.5, 0.3)
    t = cl.q_posterior_terms(0.5, 0.3)
    title = fig.axes[0].get_title()
    assert "ELBO" in title and f"{t['elbo']:.3f}" in title and f"{t['log_px']:.3f}" in title
    with pytest.raises(ValueError, match="sigma must be positive"):
        cl.q_vs_posterior_figure(0.0, 0.0)


def test_interpolation_figure_2d_for_a_vae_and_an_autoencoder():
    torch.manual_seed(0)
    vae = cl.mlp_vae(2, 4, sigma=0.1)
    x0, x1 = torch.tensor([1.0, 0.0]), torch.tensor([-1.0, 0.5])
    fig = cl.interpolation_figure(vae, x0, x1, 0.3, data=torch.randn(50, 2))
    assert fig.axes[0].get_xlabel() == "$x_1$"
    with pytest.raises(ValueError, match="t must lie"):
        cl.interpolation_figure(vae, x0, x1, 1.5)
    model = cl.mlp_autoencoder(2, 4, hidden=(8,))
    fig = cl.interpolation_figure(model, torch.zeros(2), torch.ones(2), 0.3, data=torch.randn(50, 2))
    ax = fig.axes[0]
    red = [c for c in ax.collections if c.get_offsets().shape == (1, 2)][-1].get_offsets()[0]
    np.testing.assert_allclose(red, cl.interpolate(model, torch.zeros(2), torch.ones(2), [0.3])[0], rtol=1e-5)
    path = ax.lines[0].get_xydata()                   # the decoded path for t in [0, 1]
    np.testing.assert_allclose(path, cl.interpolate(model, torch.zeros(2), torch.ones(2), np.linspace(0, 1, 100)),
                               rtol=1e-5, atol=1e-6)


def test_interpolation_figure_of_images_shows_the_decoded_mean():
    torch.manual_seed(0)
    vae = cl.mlp_vae((1, 8, 8), 3, (16,), likelihood="bernoulli")
    x = torch.rand(2, 1, 8, 8)
    fig = cl.interpolation_figure(vae, x[0], x[1], 0.5)
    assert len(fig.axes) == 4
    shown = fig.axes[1].images[0].get_array()
    np.testing.assert_allclose(shown, cl.interpolate(vae, x[0], x[1], [0.5])[0, 0].numpy(), rtol=1e-6)
    np.testing.assert_allclose(fig.axes[3].images[0].get_array(), (0.5 * (x[0] + x[1]))[0].numpy(), rtol=1e-6)


def test_rate_distortion_figure():
    results = {b: {"rate": 10 / b, "distortion": 80 + 5 * b, "samples": torch.rand(16, 1, 28, 28)}
               for b in (0.5, 1.0, 4.0)}
    fig = cl.rate_distortion_figure(results, 1.0)
    ax = fig.axes[1]
    assert ax.get_xlabel().startswith("rate") and len(ax.get_legend().get_texts()) == 2
    x, y = ax.lines[1].get_data()
    assert (float(x[0]), float(y[0])) == (10.0, 85.0)
    with pytest.raises(KeyError, match="trained betas"):
        cl.rate_distortion_figure(results, 2.0)


# --- the course's figure style: set once by setup_notebook, legible at the column width ----------

from course_lib.plotting import COLUMN_PX, COURSE_STYLE  # noqa: E402


@pytest.fixture
def course_shell():
    """An IPython shell in which ``setup_notebook`` ran after matplotlib's own defaults
    were restored; the defaults, the formatters and the shell are put back afterwards."""
    import matplotlib as mpl
    from IPython.core.interactiveshell import InteractiveShell

    fresh = not InteractiveShell.initialized()
    shell = InteractiveShell.instance()
    png = shell.display_formatter.formatters["image/png"]
    before = png.type_printers.get(Figure)
    with mpl.rc_context():
        mpl.rcdefaults()
        cl.setup_notebook(seed=0, profile="smoke", device="cpu")
        yield shell
    png.type_printers.pop(Figure, None)
    if before is not None:
        png.for_type(Figure, before)
    if fresh:
        InteractiveShell.clear_instance()


def shown(fig, shell) -> dict:
    """How ``fig`` appears on a book page: Jupyter's display of it (the PNG and its
    width metadata), the CSS pixels per inch that follow, the scale at which the
    text column shows it, and its smallest text in CSS pixels."""
    import base64
    import struct

    from matplotlib.text import Text

    data, metadata = shell.display_formatter.format(fig)
    png = base64.b64decode(data["image/png"])
    png_w, png_h = struct.unpack(">II", png[16:24])
    css_w = metadata["image/png"]["width"]
    # the figure cropped to what is drawn, padded 0.1 in on each side, as Jupyter does
    width_in = fig.get_tightbbox().width + 0.2
    px_per_inch = css_w / width_in
    scale = min(1.0, COLUMN_PX / css_w)
    points = [t.get_fontsize() for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]
    return {"png_w": png_w, "css_w": css_w, "px_per_inch": px_per_inch, "scale": scale,
            "min_text_px": min(points) / 72 * px_per_inch * scale, "n_texts": len(points)}


def test_setup_notebook_applies_the_course_style(course_shell):
    import matplotlib as mpl

    for key, value in COURSE_STYLE.items():
        got = mpl.rcParams[key]
        assert (list(got) == list(value)) if isinstance(value, tuple) else got == value, key
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1], label="a line")
    ax.set(title="t", xlabel="x", ylabel="y")
    ax.legend()
    plt.close(fig)
    data, metadata = course_shell.display_formatter.format(fig)
    assert set(data) - {"text/plain"} == {"image/png"}      # one picture, no svg/pdf beside it
    assert set(metadata["image/png"]) == {"width"}         # no height: the column may shrink it
    s = shown(fig, course_shell)
    assert s["png_w"] // 2 == s["css_w"]                   # twice the pixels of its size on the page
    # the default figure is shown at its full size, one figure inch per CSS inch (96 px)
    assert s["scale"] == 1.0 and s["px_per_inch"] == pytest.approx(96, rel=0.02)


def _figures():
    torch.manual_seed(0)
    ae2 = cl.mlp_autoencoder(2, 4, hidden=(8,))
    vae_img = cl.mlp_vae((1, 8, 8), 3, (16,), likelihood="bernoulli")
    img_ae = cl.mlp_autoencoder((1, 8, 8), 3, hidden=(8,))
    x = torch.rand(8, 1, 8, 8)
    rd = {b: {"rate": 10 / b, "distortion": 80 + 5 * b, "samples": torch.rand(16, 1, 28, 28)} for b in (0.5, 1, 4)}
    return {
        "scatter2d": lambda: cl.scatter2d(torch.randn(50, 2), overlay=torch.randn(50, 2), title="t"),
        "scatter2d coloured": lambda: cl.scatter2d(torch.randn(50, 2), c=torch.rand(50)),
        "plot_history": lambda: cl.plot_history(cl.History(records=[{"loss": 1 / i, "kl": 0.5} for i in range(1, 30)])),
        "image_grid, 12 columns, row labels": lambda: cl.image_grid(
            torch.rand(36, 1, 28, 28), nrow=3, row_labels=[r"fitted $\mathcal{N}(\hat\mu, \hat\Sigma)$", "", "N(0, I)"]),
        "image_grid, column labels, title": lambda: cl.image_grid(
            torch.rand(20, 3, 32, 32), nrow=2, col_labels=[f"t={t}" for t in range(10)], title="a title"),
        "image_mosaic": lambda: cl.image_mosaic(torch.rand(10, 16, 1, 28, 28), row_labels=[f"class {i}" for i in range(10)],
                                                col_labels=[f"t={i / 15:.2f}" for i in range(16)], title="mosaic"),
        "denoising_figure": lambda: cl.denoising_figure({"AE": img_ae, "DAE": img_ae}, x, "block mask", 0.5),
        "q_vs_posterior_figure": lambda: cl.q_vs_posterior_figure(0.5, 0.3),
        "interpolation_figure 2-D": lambda: cl.interpolation_figure(ae2, torch.zeros(2), torch.ones(2), 0.3,
                                                                    data=torch.randn(50, 2)),
        "interpolation_figure images": lambda: cl.interpolation_figure(vae_img, x[0], x[1], 0.5),
        "rate_distortion_figure": lambda: cl.rate_distortion_figure(rd, 1),
    }


@pytest.mark.parametrize("name", list(_figures()))
def test_course_figures_are_legible_at_the_column_width(course_shell, name):
    fig = _figures()[name]()
    s = shown(fig, course_shell)
    assert s["n_texts"] > 0
    assert s["min_text_px"] >= 9.0, (name, s)
    if name.startswith(("image_grid", "image_mosaic", "denoising")):
        assert s["css_w"] <= COLUMN_PX, (name, s)   # grids shrink their cells, not their labels


def test_the_legibility_check_flags_a_wide_figure_with_small_text(course_shell):
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.4))   # what the chapters used to draw
    for ax in axes:
        ax.plot([1, 2], [1, 2], label="a line")
        ax.legend(fontsize=8)
    fig.tight_layout()
    plt.close(fig)
    s = shown(fig, course_shell)
    assert s["scale"] < 0.6 and s["min_text_px"] < 9.0


class _CodeAsImage(torch.nn.Module):
    """A 'decoder' that draws the code itself: a 1 x L image whose pixel j is sigmoid(z_j)."""

    def decode(self, z):
        return torch.sigmoid(z)[:, None, None, :]


def test_traversal_figure_changes_one_dimension_per_row():
    z = torch.tensor([0.3, -0.2, 1.0])
    values = [-1.0, 0.0, 2.0]
    fig = cl.traversal_figure(_CodeAsImage(), z, dims=[2, 0], values=values)
    assert len(fig.axes) == 6
    assert fig.axes[0].get_ylabel() == "z3" and fig.axes[3].get_ylabel() == "z1"
    for r, d in enumerate([2, 0]):
        for c, v in enumerate(values):
            expected = z.clone()
            expected[d] = v
            shown = fig.axes[3 * r + c].images[0].get_array()
            np.testing.assert_allclose(np.asarray(shown).reshape(-1), torch.sigmoid(expected).numpy(), rtol=1e-6)
    with pytest.raises(ValueError, match="dims must index the code's 3 dimensions"):
        cl.traversal_figure(_CodeAsImage(), z, dims=[3])


def _overlapping_texts(fig: Figure) -> list[tuple[str, str]]:
    """Pairs of visible texts of ``fig`` whose drawn glyphs share a pixel: the figure
    is laid out once, then each text is drawn alone on a cleared canvas and its opaque
    pixels are compared, so slanted labels count by their glyphs, not their boxes."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.text import Text

    canvas = FigureCanvasAgg(fig)  # a closed course figure has no canvas of its own
    canvas.draw()
    renderer = canvas.get_renderer()
    texts = [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()
             and renderer is not None]
    masks = []
    for t in texts:
        renderer.clear()
        t.draw(renderer)
        masks.append(np.asarray(renderer.buffer_rgba())[..., 3] > 128)
    assert all(m.any() for m in masks), "a visible text drew nothing"
    return [(texts[i].get_text(), texts[j].get_text()) for i in range(len(texts))
            for j in range(i + 1, len(texts)) if (masks[i] & masks[j]).any()]


def test_the_overlap_check_finds_two_labels_on_top_of_each_other():
    fig = Figure(figsize=(3, 2))
    ax = fig.add_subplot()
    ax.set_xticks([0.5, 0.52], ["corrupted", "match 1"])
    assert ("corrupted", "match 1") in _overlapping_texts(fig)


LONG_LABELS = ["clean", "corrupted", *[f"match {i + 1}" for i in range(8)], "mean of\nmatches", "DAE"]
FASHION = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
           "Ankle boot"]


@pytest.mark.parametrize("draw", [
    # chapter 3's Fig. 3.8: twelve narrow columns (their labels ran together at every width)
    lambda: cl.image_grid(torch.rand(12, 1, 28, 28), nrow=1, cell=0.95, col_labels=LONG_LABELS),
    lambda: cl.image_grid(torch.rand(6, 1, 28, 28), nrow=1, col_labels=["x", "y", "z", "u", "v", "w"]),
    lambda: cl.image_grid(torch.rand(8, 1, 28, 28), row_labels=["first row", "second"],
                          col_labels=LONG_LABELS[:4], title="a title"),
    lambda: cl.image_mosaic(torch.rand(10, 11, 1, 32, 32), row_labels=FASHION, col_labels=["original", *FASHION]),
    lambda: cl.image_mosaic(torch.rand(3, 9, 1, 28, 28), col_labels=[f"t={t:.2f}" for t in np.linspace(0, 1, 9)]),
], ids=["fig-3.8", "short-labels", "rows-and-title", "class-swap", "interpolation-strip"])
def test_no_two_labels_of_an_image_figure_overlap(draw):
    fig = draw()
    assert _overlapping_texts(fig) == []
