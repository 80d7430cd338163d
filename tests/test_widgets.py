import pytest
import ipywidgets as widgets
import matplotlib.pyplot as plt

import course_lib as cl


def test_figure_widget_redraws_with_new_values():
    calls = []

    def draw(t, label):
        calls.append((t, label))
        fig, ax = plt.subplots()
        ax.set_title(f"{label} {t}")
        plt.close(fig)
        return fig

    t = widgets.FloatSlider(value=0.0, min=0, max=1, step=0.1)
    label = widgets.Dropdown(options=["a", "b"], value="a")
    box = cl.figure_widget(draw, {"t": t, "label": label}, title="demo")
    assert calls == [(0.0, "a")]
    t.value = 0.5
    label.value = "b"
    assert calls[-2:] == [(0.5, "a"), (0.5, "b")]
    assert isinstance(box.children[-1], widgets.Image) and bytes(box.children[-1].value).startswith(b"\x89PNG")


def test_q_posterior_terms_both_decompositions_agree():
    t = cl.q_posterior_terms(0.2, 0.7, x=1.5, w=2.0, noise=0.5)
    assert abs(t["elbo"] - (t["log_px"] - t["kl_post"])) < 1e-9
    assert abs(t["elbo"] - (t["recon"] - t["kl_prior"])) < 1e-9
    # recon = E_q log p(x | z) by Monte Carlo, independently of the closed forms above
    import torch

    z = 0.2 + 0.7 * torch.randn(400_000, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    log_lik = torch.distributions.Normal(2.0 * z, 0.5).log_prob(torch.tensor(1.5, dtype=torch.float64))
    assert abs(float(log_lik.mean()) - t["recon"]) < 4 * float(log_lik.std()) / 400_000 ** 0.5
    assert t["kl_post"] > 0 and t["elbo"] < t["log_px"]
    # densities integrate to one on the grid
    import numpy as np
    for key in ("q", "posterior"):
        assert abs(np.trapezoid(t[key], t["z"]) - 1) < 1e-3


def test_q_equal_to_posterior_closes_the_gap():
    t0 = cl.q_posterior_terms(0.0, 1.0)
    t = cl.q_posterior_terms(t0["post_mean"], t0["post_std"])
    assert abs(t["kl_post"]) < 1e-9 and abs(t["elbo"] - t["log_px"]) < 1e-9
    # by hand: x ~ N(0, w^2 + s^2) with w = 2, s = 0.5, x = 1.5
    import math
    var = 4.25
    assert abs(t["log_px"] - (-0.5 * (math.log(2 * math.pi * var) + 1.5 ** 2 / var))) < 1e-9


def test_edit_figure_and_widget_for_latent_arithmetic():
    import torch

    torch.manual_seed(0)
    vae = cl.conv_vae(latent_dim=4, width=8).eval()
    x = torch.rand(3, 3, 32, 32)
    vectors = {"smile": torch.ones(4), "glasses": torch.zeros(4)}
    fig = cl.edit_figure(vae, x, vectors, {"smile": 1.0, "glasses": 0.0})
    assert len(fig.axes) == 6  # two rows of three faces
    shown = fig.axes[3].images[0].get_array()
    want = cl.edit_many(vae, x, vectors, [{"smile": 1.0, "glasses": 0.0}])[0, 0].permute(1, 2, 0).numpy()
    assert abs(float(shown.mean()) - float(want.mean())) < 1e-6
    box = cl.attribute_edit_widget(vae, x, vectors, alpha_range=(-1.0, 2.0))
    sliders = list(box.controls.values())
    assert [s.description for s in sliders] == ["smile", "glasses"]
    before = bytes(box.image.value)
    sliders[0].value = 1.5
    assert bytes(box.image.value) != before, "moving the smile slider redraws the faces"
    import pytest

    with pytest.raises(ValueError, match="contain 0"):
        cl.attribute_edit_widget(vae, x, vectors, alpha_range=(1.0, 2.0))
# --- chapter 6: conditional VAE widgets ---------------------------------------

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

NAMES = ["a", "b", "c"]


@pytest.fixture
def cvae_and_data():
    torch.manual_seed(0)
    model = cl.conditional_conv_vae(image_shape=(1, 16, 16), latent_dim=4, n_classes=3, channels=(4, 8))
    x = torch.rand(12, 1, 16, 16, generator=torch.Generator().manual_seed(1))
    y = torch.arange(12) % 3
    return model, x, y


def test_interpolation_picture_shows_frame_strip_and_t(cvae_and_data):
    model, x, y = cvae_and_data
    ts = np.linspace(0, 1, 5)
    strip = cl.interpolate(model, x[0], x[1], ts, 0, 1)           # (5, 1, 16, 16)
    frame = cl.interpolate(model, x[0], x[1], [0.5], 0, 1)[0]      # (1, 16, 16)
    pic = cl.interpolation_picture(strip, ts, frame, 0.5, scale=4)
    # frame enlarged 4x on the left, strip enlarged 2x on the right, 8 px apart
    assert pic.dtype == np.uint8 and pic.shape == (64, 64 + 8 + 5 * 32, 3)
    expected = (frame[0].numpy() * 255).round()
    np.testing.assert_allclose(pic[::4, :64:4, 0], expected, atol=1)      # grey: R = G = B
    # the red bar sits on the centre of the middle image of the strip
    x_t = 64 + 8 + int(2.5 * 32)
    assert tuple(pic[32, x_t]) == (214, 39, 40) and tuple(pic[32, x_t - 40]) != (214, 39, 40)
    # the strip's first image at 2x
    np.testing.assert_allclose(pic[16:48:2, 72:104:2, 1], (strip[0, 0].numpy() * 255).round(), atol=1)
    with pytest.raises(ValueError, match="5 images but ts has 2"):
        cl.interpolation_picture(strip, [0, 1], frame, 0.5)


def test_figure_widget_accepts_pictures_and_rejects_other_returns():
    import io

    from PIL import Image

    t = widgets.FloatSlider(value=0.0, min=0.0, max=1.0)
    box = cl.figure_widget(lambda t: np.full((4, 6, 3), int(255 * t), np.uint8), {"t": t})
    t.value = 1.0
    shown = np.asarray(Image.open(io.BytesIO(box.children[-1].value)))
    assert shown.shape == (4, 6, 3) and (shown == 255).all()
    with pytest.raises(ValueError, match="Figure or an RGB picture"):
        cl.figure_widget(lambda t: np.zeros((4, 6)), {"t": widgets.FloatSlider()})


def test_interpolation_widget_updates_and_caches(cvae_and_data):
    model, x, y = cvae_and_data
    root = cl.interpolation_widget(model, x, y, NAMES, n_strip=5)
    button = root.button
    c0, i0, c1, i1, t = root.controls.values()
    assert i0.max == 3  # four images per class
    before = bytes(root.image.value)
    t.value = 0.25
    assert bytes(root.image.value) != before, "moving t redraws the interpolation"
    c0.value = 2
    button.click()  # a random pair: values stay within range
    assert 0 <= i0.value <= i0.max and 0 <= i1.value <= i1.max


def test_temperature_figure_and_widget(cvae_and_data):
    model, _, _ = cvae_and_data
    eps = torch.randn(3, 4, generator=torch.Generator().manual_seed(0))
    fig = cl.temperature_figure(model, eps, 0.0, NAMES)
    assert fig.axes[0].get_title() == "temperature T = 0.00"
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == NAMES
    picture = fig.axes[0].images[0].get_array()
    assert picture.shape == (3 * 18 - 2, 3 * 18 - 2)  # 3x3 images of 16 pixels, 2-pixel gaps
    # T = 0: the three columns of a row are the same image
    np.testing.assert_allclose(picture[:16, :16], picture[:16, 36:52])
    box = cl.temperature_widget(model, NAMES, n_samples=3)
    first = box.image.value
    assert first[:8] == b"\x89PNG\r\n\x1a\n"  # the picture is a PNG in an Image widget
    box.controls["temperature"].value = 1.5
    assert box.last_seconds >= 0 and box.image.value != first


def test_image_mosaic_layout():
    imgs = torch.zeros(2, 3, 1, 4, 5)
    imgs[1, 2] = 1.0
    fig = cl.image_mosaic(imgs, row_labels=["r0", "r1"], col_labels=["c0", "c1", "c2"])
    arr = fig.axes[0].images[0].get_array()
    assert arr.shape == (2 * 6 - 2, 3 * 7 - 2)
    assert arr[6:, 14:].min() == 1.0 and arr[:4, :5].max() == 0.0
    with pytest.raises(ValueError, match="rows, cols"):
        cl.image_mosaic(torch.zeros(3, 4, 5))



# --- chapters 2 and 3 -----------------------------------------------------------
import numpy as np
import pytest
import torch


def _images_ae():
    torch.manual_seed(0)
    return cl.mlp_autoencoder((1, 8, 8), 3, hidden=(16,), out_activation=torch.nn.Sigmoid())


def test_interpolation_widget_redraws():
    torch.manual_seed(0)
    model = cl.mlp_autoencoder(2, 4, hidden=(8,))
    box = cl.ae_interpolation_widget(model, torch.zeros(2), torch.ones(2))
    slider = box.controls["t"]
    before = bytes(box.image.value)
    slider.value = 0.9
    assert bytes(box.image.value) != before, "moving t redraws the path"


def test_denoise_is_corrupt_then_model():
    model = _images_ae()
    x = torch.rand(3, 1, 8, 8)
    x_tilde, x_hat = cl.denoise(model, x, "pixel dropping", 0.5, seed=1)
    torch.testing.assert_close(x_tilde, cl.corrupt(x, "pixel dropping", 0.5, generator=1))
    with torch.no_grad():
        torch.testing.assert_close(x_hat, model(x_tilde).x_hat)


def test_denoising_figure_and_widget():
    model = _images_ae()
    x = torch.rand(4, 1, 8, 8)
    fig = cl.denoising_figure({"AE": model, "DAE": model}, x, "block mask", 0.5)
    assert len(fig.axes) == 4 * 4  # clean, corrupted, two models
    box = cl.denoising_widget({"DAE": model}, x)
    kind, strength = box.controls.values()
    kind.value = "blur"
    strength.value = 0.2
    assert box.last_seconds >= 0


# --- every kernel widget in the static book (issue 15) ---------------------------

def _every_widget():
    """One of each kernel widget of the course, built on tiny untrained models."""
    torch.manual_seed(0)
    cvae = cl.conditional_conv_vae(image_shape=(1, 16, 16), latent_dim=4, n_classes=3, channels=(4, 8))
    x = torch.rand(12, 1, 16, 16, generator=torch.Generator().manual_seed(1))
    y = torch.arange(12) % 3
    faces = cl.conv_vae(latent_dim=4, width=8).eval()
    return {
        "figure_widget": cl.figure_widget(lambda t: np.zeros((4, 6, 3), np.uint8),
                                          {"t": widgets.FloatSlider(description="t")}),
        "ae_interpolation": cl.ae_interpolation_widget(cl.mlp_autoencoder(2, 4, hidden=(8,)),
                                                       torch.zeros(2), torch.ones(2)),
        "denoising": cl.denoising_widget({"DAE": _images_ae()}, torch.rand(2, 1, 8, 8)),
        "interpolation": cl.interpolation_widget(cvae, x, y, NAMES, n_strip=3),
        "temperature": cl.temperature_widget(cvae, NAMES, n_samples=2),
        "attribute_edit": cl.attribute_edit_widget(faces, torch.rand(2, 3, 32, 32), {"smile": torch.ones(4)}),
    }


def test_every_kernel_widget_starts_with_the_static_note_hidden_in_a_notebook():
    """The saved picture of a widget in the book has a note that its controls need a
    kernel (the book's CSS shows it); in a live notebook the note is hidden."""
    from course_lib.widgets import STATIC_NOTE_CLASS

    for name, box in _every_widget().items():
        note = box.children[0]
        assert isinstance(note, widgets.HTML), name
        assert STATIC_NOTE_CLASS in note._dom_classes, name
        assert note.layout.display == "none", f"{name}: the note must be hidden in a live notebook"
        assert "running notebook" in note.value and "launch buttons" in note.value, name
        notes = [w for w in _descendants(box) if STATIC_NOTE_CLASS in getattr(w, "_dom_classes", ())]
        assert len(notes) == 1, f"{name}: {len(notes)} notes"


def _descendants(w):
    yield w
    for child in getattr(w, "children", ()):
        yield from _descendants(child)


def test_every_kernel_widget_labels_its_controls_and_wraps_them():
    """Labels take their own width (never clipped to the default 80 px) and the
    controls wrap onto new rows instead of leaving the column."""
    boxes = _every_widget()
    for name, box in boxes.items():
        for control in box.controls.values():
            assert control.description, f"{name}: a control without a label"
            assert control.style.description_width == "initial", (name, control.description)
        rows = [w for w in _descendants(box) if isinstance(w, widgets.HBox)
                and set(w.children) & set(box.controls.values())]
        assert rows and all(r.layout.flex_flow == "row wrap" for r in rows), name
    assert "temperature" in boxes["temperature"].controls["temperature"].description


def test_widget_picture_is_shown_at_its_own_size():
    """A Figure is shown at the size the inline backend shows it (figure.dpi pixels
    per inch) whatever dpi it is saved at; a picture one pixel per pixel; never
    stretched beyond the column (max-width 100 %)."""
    import io

    import matplotlib
    from PIL import Image

    def draw(t):
        fig, ax = plt.subplots(figsize=(3.0, 2.0), dpi=100)
        ax.plot([0, t])
        plt.close(fig)
        return fig

    with matplotlib.rc_context({"savefig.dpi": 200}):
        box = cl.figure_widget(draw, {"t": widgets.FloatSlider(value=1.0)})
    saved = Image.open(io.BytesIO(box.image.value))
    assert saved.width > 400  # saved at 200 dpi ...
    assert box.image.layout.width == f"{round(saved.width / 2)}px"  # ... shown at 100 px per inch
    assert box.image.layout.max_width == "100%"
    pic = cl.figure_widget(lambda t: np.zeros((10, 37, 3), np.uint8), {"t": widgets.FloatSlider()})
    assert pic.image.layout.width == "37px"


def test_widget_figure_keeps_labels_outside_the_axes():
    """Row names drawn left of the axes (as image grids do) are saved, not cut off."""
    import io

    from PIL import Image

    def draw(t):
        fig, ax = plt.subplots(figsize=(2.0, 2.0), dpi=100)
        ax.text(-0.1, 0.5, "reconstruction", transform=ax.transAxes, ha="right")
        plt.close(fig)
        return fig

    box = cl.figure_widget(draw, {"t": widgets.FloatSlider()})
    assert Image.open(io.BytesIO(box.image.value)).width > 200, "the label left of the figure was cut off"


def test_book_drops_the_widget_manager_where_no_widget_is_shown():
    """book/_ext/book_fixes.py: the widget manager's scripts and the saved state
    stay only on pages that show a widget, which also get the note's CSS."""
    import sys
    from pathlib import Path
    from types import SimpleNamespace

    from docutils import nodes

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "book" / "_ext"))
    import book_fixes

    from course_lib.widgets import STATIC_NOTE_CLASS

    assert book_fixes.NOTE_CLASS == STATIC_NOTE_CLASS
    js = SimpleNamespace
    app = SimpleNamespace(config=SimpleNamespace(nb_ipywidgets_js={"../vendor/require.js": {},
                                                                    "../vendor/html-manager/embed-amd.js": {}}))

    def page(with_view: bool):
        scripts = [js(filename="_static/doctools.js", attributes={}),
                   js(filename=None, attributes={"type": book_fixes.WIDGET_STATE, "body": "{}"}),
                   js(filename="../vendor/require.js", attributes={}),
                   js(filename="../vendor/html-manager/embed-amd.js", attributes={})]
        doctree = nodes.document(None, None)
        doctree += nodes.raw("", '<p>text</p>', format="html")
        if with_view:
            doctree += nodes.raw("", f'<script type="{book_fixes.WIDGET_VIEW}">{{}}</script>', format="html")
        context = {"script_files": scripts, "metatags": ""}
        book_fixes._widget_resources(app, "chapters/x", "page.html", context, doctree)
        return context

    hidden = page(with_view=False)
    assert [s.filename for s in hidden["script_files"]] == ["_static/doctools.js"]
    assert STATIC_NOTE_CLASS not in hidden["metatags"]
    shown = page(with_view=True)
    assert len(shown["script_files"]) == 4 and f".{STATIC_NOTE_CLASS} " in shown["metatags"]


# --- a slider move updates one reused figure in place (issue 18 item 5) ------------

def _pixels(png: bytes) -> np.ndarray:
    import io

    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def _sliders():
    """Every kernel slider of the course on tiny models: (name, widget, moves, the figure
    a fresh full redraw draws after those moves). The moves change the texts too
    (values in titles and labels, the error of each row)."""
    from course_lib.widgets import figure_widget

    torch.manual_seed(0)
    roll = cl.swiss_roll(300, noise=0.1, seed=0)
    toy = cl.mlp_autoencoder(2, 4, hidden=(8,)).eval()
    img_ae = _images_ae().eval()
    x8 = torch.rand(2, 1, 8, 8, generator=torch.Generator().manual_seed(2))
    dae = {"AE": img_ae, "DAE": _images_ae().eval()}
    cvae = cl.conditional_conv_vae(image_shape=(1, 16, 16), latent_dim=4, n_classes=3, channels=(4, 8)).eval()
    faces = cl.conv_vae(latent_dim=4, width=8).eval()
    xf = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(3))
    vectors = {"smile": torch.ones(4), "glasses": -torch.ones(4)}
    eps = torch.randn(2, 4, generator=torch.Generator().manual_seed(0))   # temperature_widget's noise
    results = {b: {"rate": 10.0 / b, "distortion": 50.0 + b,
                   "samples": torch.rand(4, 1, 28, 28, generator=torch.Generator().manual_seed(int(b * 10)))}
               for b in (0.5, 1.0, 4.0)}
    picker = widgets.SelectionSlider(options=sorted(results), value=1.0, description="beta")
    return [
        ("interpolation, 2-D", cl.ae_interpolation_widget(toy, roll[0], roll[200], data=roll), {"t": 0.85},
         lambda: cl.interpolation_figure(toy, roll[0], roll[200], 0.85, data=roll)),
        ("interpolation, images", cl.ae_interpolation_widget(img_ae, x8[0], x8[1]), {"t": 0.3},
         lambda: cl.interpolation_figure(img_ae, x8[0], x8[1], 0.3)),
        ("denoising", cl.denoising_widget(dae, x8), {"kind": "blur", "strength": 0.95},
         lambda: cl.denoising_figure(dae, x8, "blur", 0.95)),
        ("q vs posterior", figure_widget(cl.q_vs_posterior_figure,
                                         {"mu": widgets.FloatSlider(value=0.0, min=-1.5, max=2.0, description="mu"),
                                          "sigma": widgets.FloatSlider(value=1.0, min=0.05, max=1.5,
                                                                       description="sigma")}),
         {"mu": 1.95, "sigma": 0.1}, lambda: cl.q_vs_posterior_figure(1.95, 0.1)),
        ("q vs posterior, fixed axes", cl.q_posterior_widget(), {"mu": 1.95, "sigma": 0.1},
         lambda: cl.q_vs_posterior_figure(1.95, 0.1, axes=cl.q_posterior_axes((-1.5, 2.0), (0.05, 1.5)))),
        ("temperature", cl.temperature_widget(cvae, NAMES, n_samples=2), {"temperature": 1.7},
         lambda: cl.temperature_figure(cvae, eps, 1.7, NAMES)),
        ("attribute edit", cl.attribute_edit_widget(faces, xf, vectors, alpha_range=(-1.0, 2.0)),
         {"smile": -0.75, "glasses": 2.0}, lambda: cl.edit_figure(faces, xf, vectors, {"smile": -0.75, "glasses": 2.0})),
        ("beta picker", figure_widget(lambda beta, fig=None: cl.rate_distortion_figure(results, beta, fig=fig),
                                      {"beta": picker}), {"beta": 4.0}, lambda: cl.rate_distortion_figure(results, 4.0)),
    ]


@pytest.mark.parametrize("case", range(8))
def test_a_move_shows_what_a_fresh_figure_shows_and_reuses_the_figure(case):
    """After the moves, the widget's picture equals, pixel for pixel, the picture of a
    figure drawn from scratch for the new values (whether the move redrew the whole
    figure or only its moving artists over a kept picture); and it came from the
    same Figure object as the first picture, with no pyplot figure left open."""
    from course_lib.widgets import _png

    open_before = plt.get_fignums()
    name, box, moves, fresh = _sliders()[case]
    figure = box.figure
    assert figure is not None, f"{name}: the widget keeps no figure to update"
    first = bytes(box.image.value)
    start = {control: box.controls[control].value for control in moves}
    for target in (moves, start, moves):    # there and back: later moves redraw over a kept picture
        for control, value in target.items():
            box.controls[control].value = value
    assert box.figure is figure, f"{name}: a move drew a new figure"
    assert plt.get_fignums() == open_before, f"{name}: a move left a pyplot figure open"
    shown, first = _pixels(bytes(box.image.value)), _pixels(first)
    assert shown.shape != first.shape or not np.array_equal(shown, first), f"{name}: the move changed nothing"
    want = _pixels(_png(fresh())[0])
    assert shown.shape == want.shape, f"{name}: {shown.shape} shown, {want.shape} drawn afresh"
    np.testing.assert_array_equal(shown, want, err_msg=f"{name}: the move shows something else")


def test_figure_widget_passes_the_previous_figure_only_to_draw_functions_that_take_it():
    seen = []

    def draw(t, fig=None):
        seen.append(fig)
        if fig is None:
            fig, ax = plt.subplots(figsize=(2, 2))
            ax.plot([0, 1], [0, t])
            plt.close(fig)
        else:
            fig.axes[0].lines[0].set_ydata([0, t])
        return fig

    t = widgets.FloatSlider(value=0.2)
    box = cl.figure_widget(draw, {"t": t})
    t.value = 0.7
    t.value = 0.9
    assert seen[0] is None and seen[1] is seen[2] is box.figure
    assert box.figure.axes[0].lines[0].get_ydata()[1] == 0.9
    fresh = cl.figure_widget(lambda t: draw(t), {"t": widgets.FloatSlider()})   # no fig parameter
    assert fresh.figure is None


def test_figure_functions_refuse_a_figure_they_did_not_draw():
    other, _ = plt.subplots(1, 3)
    plt.close(other)
    with pytest.raises(ValueError, match="3 axes where this figure has 1"):
        cl.q_vs_posterior_figure(0.0, 1.0, fig=other)


def test_every_slider_works_on_float64_models_under_strict_placement():
    """Strict placement (what `make test` runs the chapters with) gives every model
    float64 weights and refuses stray float32 inputs: the in-place updates feed
    the models as the fresh figures do."""
    cl.strict_placement()
    try:
        device = torch.device("cpu")
        torch.manual_seed(0)
        toy = cl.mlp_autoencoder(2, 4, hidden=(8,)).to(device).eval()
        roll = cl.swiss_roll(100, noise=0.1, seed=0, device=device)
        images = _images_ae().to(device).eval()
        x = torch.rand(2, 1, 8, 8).to(device)
        cvae = cl.conditional_conv_vae(image_shape=(1, 16, 16), latent_dim=4, n_classes=3,
                                       channels=(4, 8)).to(device).eval()
        faces = cl.conv_vae(latent_dim=4, width=8).to(device).eval()
        assert cl.model_dtype(toy) == torch.float64
        boxes = [(cl.ae_interpolation_widget(toy, roll[0], roll[50], data=roll), {"t": 0.9}),
                 (cl.ae_interpolation_widget(images, x[0], x[1]), {"t": 0.9}),
                 (cl.denoising_widget({"DAE": images}, x), {"strength": 0.9}),
                 (cl.temperature_widget(cvae, NAMES, n_samples=2), {"temperature": 1.5}),
                 (cl.attribute_edit_widget(faces, torch.rand(2, 3, 32, 32).to(device),
                                           {"smile": torch.ones(4).to(device)}), {"smile": 1.5})]
        for box, moves in boxes:
            before = bytes(box.image.value)
            for control, value in moves.items():
                box.controls[control].value = value
            assert bytes(box.image.value) != before
    finally:
        cl.strict_placement(False)
