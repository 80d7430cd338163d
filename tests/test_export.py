"""ONNX export of decoders and the in-page slider that runs them in the browser."""

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import course_lib as cl

ROOT = Path(__file__).resolve().parent.parent
ort = pytest.importorskip("onnxruntime")


class _ConvDecoder(nn.Module):
    """A decoder with two inputs (code and one-hot class), like chapter 6's."""

    def __init__(self, L=4, C=3):
        super().__init__()
        self.fc = nn.Linear(L + C, 16 * 7 * 7)
        self.up = nn.Sequential(nn.ConvTranspose2d(16, 8, 4, 2, 1), nn.ReLU(),
                                nn.ConvTranspose2d(8, 1, 4, 2, 1))

    def forward(self, z, y):
        return self.up(self.fc(torch.cat([z, y], 1)).view(-1, 16, 7, 7))


def _run(path, feeds):
    sess = ort.InferenceSession(str(path))
    return sess.run(None, {k: v.numpy() for k, v in feeds.items()})[0]


def test_mlp_decoder_matches_pytorch(tmp_path):
    torch.manual_seed(0)
    ae = cl.mlp_autoencoder(2, 16).eval()
    z = torch.randn(1, 16)
    path = cl.export_onnx(ae.decoder, {"z": z}, tmp_path / "dec.onnx")
    assert not list(tmp_path.glob("*.data")), "weights must be inside the single .onnx file"
    np.testing.assert_allclose(_run(path, {"z": z}), ae.decoder(z).detach().numpy(), atol=1e-4)
    # another input than the example one
    z2 = torch.randn(1, 16) * 3
    np.testing.assert_allclose(_run(path, {"z": z2}), ae.decoder(z2).detach().numpy(), atol=1e-4)


def test_two_input_conv_decoder_matches_pytorch(tmp_path):
    torch.manual_seed(1)
    dec = _ConvDecoder().eval()
    feeds = {"z": torch.randn(1, 4), "y": torch.eye(3)[[2]]}
    path = cl.export_onnx(dec, feeds, tmp_path / "conv.onnx")
    out = _run(path, feeds)
    assert out.shape == (1, 1, 28, 28)
    np.testing.assert_allclose(out, dec(*feeds.values()).detach().numpy(), atol=1e-4)


def test_slider_outside_a_book_build_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.delenv("COURSE_SITE_ASSETS", raising=False)
    monkeypatch.chdir(tmp_path)
    dec = _ConvDecoder().eval()
    out = cl.latent_slider(dec, forward=lambda m, z, y: m(z, y), name="t", image_shape=(1, 28, 28),
                           lines=[{"z": (torch.zeros(4), torch.ones(4)), "y": (torch.eye(3)[0], torch.zeros(3))}])
    assert "built book" in out.data and not list(tmp_path.iterdir())


def test_slider_argument_errors():
    dec = _ConvDecoder().eval()
    line = {"z": (torch.zeros(4), torch.ones(4)), "y": (torch.eye(3)[0], torch.zeros(3))}
    with pytest.raises(ValueError, match="image_shape"):
        cl.latent_slider(dec, name="x", lines=[line])
    with pytest.raises(ValueError, match="kind"):
        cl.latent_slider(dec, name="x", lines=[line], kind="video")
    with pytest.raises(ValueError, match="every preset"):
        cl.latent_slider(dec, name="x", image_shape=(1, 28, 28), lines=[line, {"z": line["z"]}])
    with pytest.raises(ValueError, match="one label per preset"):
        cl.latent_slider(dec, name="x", image_shape=(1, 28, 28), lines=[line], labels=["a", "b"])
    with pytest.raises(ValueError, match="min < max"):
        cl.latent_slider(dec, name="x", image_shape=(1, 28, 28), lines=[line], param=("t", 1.0, 0.0, 0.1))


def _write_slider(assets, monkeypatch):
    monkeypatch.setenv("COURSE_SITE_ASSETS", str(assets))
    torch.manual_seed(2)
    dec = _ConvDecoder().eval()
    z0, z1 = torch.randn(4), torch.randn(4)
    lines = [{"z": (z0, z1 - z0), "y": (torch.eye(3)[0], torch.eye(3)[1] - torch.eye(3)[0])},
             {"z": (z1, z0 - z1), "y": (torch.eye(3)[2], torch.zeros(3))}]
    html = cl.latent_slider(dec, forward=lambda m, z, y: m(z, y), name="demo", lines=lines, labels=["a", "b"],
                            image_shape=(1, 28, 28), activation="sigmoid")   # _ConvDecoder outputs logits
    return dec, lines, html


def test_slider_spec_and_reference(tmp_path, monkeypatch):
    dec, lines, html = _write_slider(tmp_path, monkeypatch)
    spec = json.loads((tmp_path / "demo.json").read_text())
    assert spec["inputs"] == ["z", "y"] and [p["label"] for p in spec["presets"]] == ["a", "b"]
    assert spec["presets"][0]["shapes"] == {"z": [1, 4], "y": [1, 3]}
    ref = torch.sigmoid(dec(lines[0]["z"][0][None], lines[0]["y"][0][None])).reshape(-1)
    np.testing.assert_allclose(spec["reference"]["output"], ref.detach().numpy(), atol=1e-5)
    (z0, dz), (y0, dy) = lines[0]["z"], lines[0]["y"]
    ref_end = torch.sigmoid(dec((z0 + dz)[None], (y0 + dy)[None])).reshape(-1)
    assert spec["reference_end"]["value"] == 1.0
    np.testing.assert_allclose(spec["reference_end"]["output"], ref_end.detach().numpy(), atol=1e-5)
    assert 'data-spec="../assets/demo.json"' in html.data
    onnx_out = _run(tmp_path / "demo.onnx", {"z": lines[1]["z"][0][None], "y": lines[1]["y"][0][None]})
    np.testing.assert_allclose(onnx_out, dec(lines[1]["z"][0][None], lines[1]["y"][0][None]).detach().numpy(),
                               atol=1e-4)


def test_slider_stores_a_decoders_mean_unchanged_by_default(tmp_path, monkeypatch):
    """The default activation is the identity: a forward that returns the decoder's mean
    (``model.decode``) is stored as it comes, with no second sigmoid."""
    monkeypatch.setenv("COURSE_SITE_ASSETS", str(tmp_path))
    torch.manual_seed(3)
    vae = cl.mlp_vae((1, 4, 4), 2, (8,), likelihood="bernoulli").eval()
    z0, dz = torch.randn(2), torch.randn(2)
    cl.latent_slider(vae, forward=lambda m, z: m.decode(z), name="mean", lines=[{"z": (z0, dz)}],
                     image_shape=(1, 4, 4))
    spec = json.loads((tmp_path / "mean.json").read_text())
    assert spec["activation"] == "identity"
    with torch.no_grad():
        for ref, z in ((spec["reference"], z0), (spec["reference_end"], z0 + dz)):
            want = torch.sigmoid(vae.decode_logits(z[None])).reshape(-1)
            np.testing.assert_allclose(ref["output"], want.numpy(), atol=1e-5)


@pytest.mark.book
def test_slider_runs_in_a_real_browser(tmp_path, monkeypatch):
    """The in-page decoder draws the PyTorch image at t = 0 and the canvas changes
    when the slider moves (headless Chromium, site served on 127.0.0.1)."""
    if shutil.which("chromium") is None:
        pytest.skip("Chromium is not installed: in-browser slider test skipped")
    pytest.importorskip("playwright")
    sys.path.insert(0, str(ROOT))
    from playwright.sync_api import sync_playwright

    from tools.screenshot import FLAGS, serve
    from tools.vendor import vendor

    site = tmp_path / "site"
    shutil.copytree(vendor(), site / "vendor")
    _, _, html = _write_slider(site / "assets", monkeypatch)
    (site / "chapters").mkdir()
    (site / "chapters" / "demo.html").write_text(f"<html><body>{html.data}</body></html>")
    spec = json.loads((site / "assets" / "demo.json").read_text())
    with serve(site) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=shutil.which("chromium"), args=FLAGS)
        page = browser.new_page()
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{base}/chapters/demo.html")
        page.wait_for_selector(".course-latent-slider[data-state=ready]", timeout=60_000)
        read = """() => { const c = document.querySelector('.course-slider-canvas');
            const g = c.getContext('2d'); const out = [];
            const step = c.width / 28;
            for (let y = 0; y < 28; y++) for (let x = 0; x < 28; x++)
              out.push(g.getImageData(Math.floor((x + 0.5) * step), Math.floor((y + 0.5) * step), 1, 1).data[0]);
            return out; }"""
        at_zero = np.array(page.evaluate(read)) / 255
        np.testing.assert_allclose(at_zero, spec["reference"]["output"], atol=2 / 255)
        page.evaluate("""() => { const s = document.querySelector('.course-slider-range');
            s.value = s.max; s.dispatchEvent(new Event('input')); }""")
        page.wait_for_function("document.querySelector('.course-latent-slider').dataset.value === '1'")
        at_one = np.array(page.evaluate(read)) / 255
        assert np.abs(at_one - at_zero).max() > 0.05, "moving the slider must change the picture"
        browser.close()
    assert not errors, errors


# The decoders the chapters export, with their forward functions as in the notebooks.
CHAPTER_DECODERS = {
    "ch05 mlp_vae": (lambda: cl.mlp_vae(2, 16, sigma=0.1), lambda m, z: m.decode(z), {"z": (1, 16)}),
    "ch06 ConditionalVAE": (lambda: cl.conditional_conv_vae(),
                            lambda m, z, c: m.decoder(torch.cat([z, c], dim=1)), {"z": (1, 128), "c": (1, 10)}),
    "ch07 faces conv_vae": (lambda: cl.FacesVAEConfig().build(), lambda m, z: m.decode(z), {"z": (1, 32)}),
}


@pytest.mark.parametrize("name", list(CHAPTER_DECODERS))
def test_chapter_decoders_match_pytorch_on_random_inputs(name, tmp_path):
    build, forward, shapes = CHAPTER_DECODERS[name]
    torch.manual_seed(0)
    model = build().eval()
    example = {k: torch.randn(s) for k, s in shapes.items()}
    path = cl.export_onnx(model, example, tmp_path / "dec.onnx", forward=forward)
    assert not list(tmp_path.glob("*.data")), "weights must be inside the single .onnx file"
    g = torch.Generator().manual_seed(1)
    for _ in range(5):
        feeds = {k: 2 * torch.randn(s, generator=g) for k, s in shapes.items()}
        with torch.no_grad():
            expected = forward(model, *feeds.values()).numpy()
        assert np.abs(_run(path, feeds) - expected).max() < 1e-4


@pytest.mark.book
def test_the_books_onnx_files_reproduce_their_pytorch_references(smoke_site):
    """Each decoder the built book ships, run by onnxruntime on the slider's first
    preset at both ends, gives the PyTorch output stored at export time; a latent
    plane's decoder and encoder give theirs."""
    specs = sorted((smoke_site / "assets").glob("*.json"))
    assert {p.stem for p in specs} >= {"ch05-vae-interpolation", "ch06-cvae-interpolation", "ch07-attribute-edit",
                                       "ch09-latent-plane"}
    for path in specs:
        spec = json.loads(path.read_text())
        if spec["kind"] in ("frames", "gaussian-posterior"):   # no model in the page: see tests/test_browser.py
            continue
        if spec["kind"] == "plane":   # a latent plane: its decoder and encoder references
            refs = spec["references"]
            for ref in refs["decode"]:
                out = _run(path.with_name(spec["decoder"]), {"z": torch.tensor([ref["z"]])}).reshape(-1)
                assert np.abs(out - np.array(ref["output"])).max() < 1e-4, (path.stem, ref["z"])
            if "encode" in refs:
                x = torch.tensor(refs["encode"]["x"]).reshape(1, *spec["image"].values())
                out = _run(path.with_name(spec["encoder"]), {"x": x}).reshape(-1)
                want = np.r_[refs["encode"]["mu"], refs["encode"]["sigma"]]
                assert np.abs(out - want).max() < 1e-4, (path.stem, "encoder")
            continue
        preset = spec["presets"][0]
        for ref in (spec["reference"], spec["reference_end"]):
            feeds = {k: (torch.tensor(preset["a"][k]) + ref["value"] * torch.tensor(preset["b"][k]))
                     .reshape(preset["shapes"][k]) for k in spec["inputs"]}
            out = torch.from_numpy(_run(path.with_suffix(".onnx"), feeds)).reshape(-1)
            if spec["activation"] == "sigmoid":
                out = torch.sigmoid(out)
            assert np.abs(out.numpy() - np.array(ref["output"])).max() < 1e-4, (path.stem, ref["value"])


# ---------------------------------------------------------------- latent_plane

def _small_vae2d():
    torch.manual_seed(4)
    return cl.mlp_vae((1, 28, 28), 2, (16,), likelihood="bernoulli").eval()


def _plane_inputs(n=300):
    g = torch.Generator().manual_seed(5)
    return torch.randn(n, 2, generator=g), torch.randint(0, 10, (n,), generator=g)


def test_plane_outside_a_book_build_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.delenv("COURSE_SITE_ASSETS", raising=False)
    monkeypatch.chdir(tmp_path)
    codes, labels = _plane_inputs()
    out = cl.latent_plane(_small_vae2d(), name="p", codes=codes, labels=labels)
    assert "built book" in out.data and not list(tmp_path.iterdir())


def test_plane_argument_errors():
    vae = _small_vae2d()
    codes, labels = _plane_inputs()
    cases = [
        (dict(codes=torch.zeros(5, 3), labels=torch.zeros(5)), r"2-D codes of shape \(N, 2\)"),
        (dict(codes=codes, labels=labels[:-1]), "one label per code"),
        (dict(codes=codes, labels=labels, image_shape=(1, 32, 32)), "draw=True needs image_shape"),
        (dict(codes=codes, labels=labels, lims=(1, -1)), "min < max"),
        (dict(codes=codes, labels=labels, sigmas=(2, 1)), "positive and increasing"),
        (dict(codes=codes, labels=labels, class_names=["a"]), "a name for every label"),
        (dict(codes=codes, labels=labels, draw=False, image_shape=(1, 20, 20)), "decode gives 784 values"),
    ]
    for kwargs, message in cases:
        with pytest.raises(ValueError, match=message):
            cl.latent_plane(vae, name="x", **kwargs)


def test_plane_spec_and_onnx_files_match_pytorch(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_SITE_ASSETS", str(tmp_path))
    vae = _small_vae2d()
    codes, labels = _plane_inputs()
    html = cl.latent_plane(vae, name="plane", codes=codes, labels=labels, caption="look")
    spec = json.loads((tmp_path / "plane.json").read_text())
    assert 'data-spec="../assets/plane.json"' in html.data and 'id="plane-plane"' in html.data
    assert 'class="course-caption">look<' in html.data
    assert spec["kind"] == "plane" and spec["labels"] == labels.tolist()
    np.testing.assert_allclose(np.reshape(spec["codes"], (-1, 2)), codes.numpy(), atol=0.005 + 1e-9)
    assert spec["class_names"] == [str(c) for c in range(10)]
    assert [c["sigma"] for c in spec["contours"]] == [1, 2, 3]
    np.testing.assert_allclose([c["mass"] for c in spec["contours"]], [0.3935, 0.8647, 0.9889], atol=1e-4)
    assert spec["draw"]["samples"] == 4 and spec["image"] == {"channels": 1, "height": 28, "width": 28}
    with torch.no_grad():
        for ref in spec["references"]["decode"]:
            want = vae.decode(torch.tensor([ref["z"]])).reshape(-1).numpy()
            np.testing.assert_allclose(ref["output"], want, atol=1e-5)
            np.testing.assert_allclose(_run(tmp_path / spec["decoder"], {"z": torch.tensor([ref["z"]])}).reshape(-1),
                                       want, atol=1e-4)
        enc = spec["references"]["encode"]
        x = torch.tensor(enc["x"]).reshape(1, 1, 28, 28)
        mu, logvar = vae.encode(x)
        np.testing.assert_allclose(enc["mu"], mu[0].numpy(), atol=1e-5)
        np.testing.assert_allclose(enc["sigma"], torch.exp(0.5 * logvar[0]).numpy(), atol=1e-5)
        onnx = _run(tmp_path / spec["encoder"], {"x": x}).reshape(-1)
        np.testing.assert_allclose(onnx, np.r_[enc["mu"], enc["sigma"]], atol=1e-4)
    sizes = {p.name: p.stat().st_size for p in tmp_path.iterdir()}
    assert set(sizes) == {"plane.json", "plane-decoder.onnx", "plane-encoder.onnx"}


def test_plane_without_draw_exports_no_encoder(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_SITE_ASSETS", str(tmp_path))
    codes, labels = _plane_inputs()
    cl.latent_plane(_small_vae2d(), name="only", codes=codes, labels=labels, draw=False)
    spec = json.loads((tmp_path / "only.json").read_text())
    assert "encoder" not in spec and "draw" not in spec and "encode" not in spec["references"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["only-decoder.onnx", "only.json"]


@pytest.mark.book
def test_plane_and_draw_pad_run_in_a_real_browser(tmp_path, monkeypatch):
    """The latent plane and its draw pad in headless Chromium (site on 127.0.0.1): no
    console error and no request leaving the site; the pointer (mouse and touch) and
    the arrow keys move z and change the pictures; the in-page decoder and encoder
    give PyTorch's outputs within 1e-4 (float32 in both; onnxruntime's kernels add
    differences of order 1e-6); the page's MNIST pre-processing of the drawing equals
    cl.preprocess_drawing on the same pad pixels within 1e-6 (the same float64 steps
    in both, the page's result rounded to float32 for the encoder); at 390 px nothing
    is wider than the column."""
    if shutil.which("chromium") is None:
        pytest.skip("Chromium is not installed: in-browser plane test skipped")
    pytest.importorskip("playwright")
    sys.path.insert(0, str(ROOT))
    from tools.screenshot import SEVEN, collect_errors, draw_strokes, open_site
    from tools.vendor import vendor

    site = tmp_path / "site"
    shutil.copytree(vendor(), site / "vendor")
    monkeypatch.setenv("COURSE_SITE_ASSETS", str(site / "assets"))
    vae = _small_vae2d()
    codes, labels = _plane_inputs()
    html = cl.latent_plane(vae, name="demo", codes=codes, labels=labels, caption="what to look for")
    (site / "chapters").mkdir()
    (site / "chapters" / "demo.html").write_text(
        f'<html><head><meta name="viewport" content="width=device-width"><link rel="icon" href="data:,">'
        f'</head>'
        f'<body><article style="max-width: 720px; padding: 0 8px">{html.data}</article></body></html>')

    def decode(z):
        with torch.no_grad():
            return vae.decode(torch.tensor([z], dtype=torch.float32)).reshape(-1).numpy()

    last = "window.__courseSliderLast['plane-demo']"
    plane_pixels = "() => Array.from(document.querySelector('#plane-demo .course-plane-canvas')" \
                   ".getContext('2d').getImageData(0, 0, 360, 360).data)"
    image_pixels = "() => Array.from(document.querySelector('#plane-demo .course-plane-image')" \
                   ".getContext('2d').getImageData(0, 0, 140, 140).data)"
    with open_site(site) as (base, browser):
        page = browser.new_page()
        errors = collect_errors(page, base)
        page.goto(f"{base}/chapters/demo.html")
        page.wait_for_selector("#plane-demo[data-state=ready]", timeout=60_000)
        assert page.locator("#plane-demo .course-caption").inner_text() == "what to look for"
        legend = page.locator("#plane-demo .course-legend").inner_text()
        assert all(str(d) in legend for d in range(10)), legend
        np.testing.assert_allclose(page.evaluate(last), decode([0.0, 0.0]), atol=1e-4)
        z = [0.7, -1.3]
        np.testing.assert_allclose(page.evaluate(f"window.CourseLatentSlider.widgets['plane-demo'].decodeAt({z})"),
                                   decode(z), atol=1e-4)
        before = (page.evaluate(plane_pixels), page.evaluate(image_pixels))
        # the mouse: a quarter of the way in from the top left corner
        box = page.locator("#plane-demo .course-plane-canvas").bounding_box()
        page.mouse.move(box["x"] + 0.25 * box["width"], box["y"] + 0.25 * box["height"])
        page.wait_for_function("document.querySelector('#plane-demo').dataset.z !== '0,0'")
        page.wait_for_timeout(200)
        z_page = [float(v) for v in page.get_attribute("#plane-demo", "data-z").split(",")]
        assert z_page[0] < -1 and z_page[1] > 1, z_page
        np.testing.assert_allclose(page.evaluate(last), decode(z_page), atol=1e-4)
        assert page.evaluate(plane_pixels) != before[0], "the pointer must move the cross on the plane"
        assert page.evaluate(image_pixels) != before[1], "the decoded image must follow the pointer"
        # the keyboard: two steps right from where the pointer left z
        page.locator("#plane-demo .course-plane-canvas").focus()
        page.keyboard.press("ArrowRight")
        page.keyboard.press("ArrowRight")
        page.wait_for_function(f"Number(document.querySelector('#plane-demo').dataset.z.split(',')[0]) > "
                               f"{z_page[0] + 0.15}")
        # the draw pad
        pad = page.locator("#plane-demo .course-draw-pad")
        pad.scroll_into_view_if_needed()
        plane_before = page.evaluate(plane_pixels)
        draw_strokes(page, pad, SEVEN[:1])
        page.wait_for_function("document.querySelector('#plane-demo').dataset.strokes === '1'")
        draw_strokes(page, pad, SEVEN[1:])
        page.wait_for_function("document.querySelector('#plane-demo').dataset.strokes === '2'")
        page.wait_for_timeout(300)
        ink = np.array(page.evaluate("""() => { const c = document.querySelector('#plane-demo .course-draw-pad');
            return Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data)
                .filter((v, i) => i % 4 === 0); }"""), dtype=np.float64).reshape(224, 224) / 255
        drawn = page.evaluate(f"window.__courseSliderLast['plane-demo:draw']")
        x_page = np.array(drawn["x"])
        assert x_page.max() > 0.5
        np.testing.assert_allclose(x_page, cl.preprocess_drawing(ink).reshape(-1), atol=1e-6)
        with torch.no_grad():
            x = torch.tensor(x_page, dtype=torch.float32).reshape(1, 1, 28, 28)
            mu, logvar = vae.encode(x)
        np.testing.assert_allclose(drawn["mu"], mu[0].numpy(), atol=1e-4)
        np.testing.assert_allclose(drawn["sigma"], torch.exp(0.5 * logvar[0]).numpy(), atol=1e-4)
        np.testing.assert_allclose(drawn["recon"], decode(drawn["mu"]), atol=1e-4)
        assert len(drawn["samples"]) == 4
        assert page.evaluate(plane_pixels) != plane_before, "the posterior must appear on the plane"
        page.close()

        # a phone: touch moves z, and nothing of the widget is wider than the column
        context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True,
                                      device_scale_factor=2)
        phone = context.new_page()
        errors += collect_errors(phone, base)
        phone.goto(f"{base}/chapters/demo.html")
        phone.wait_for_selector("#plane-demo[data-state=ready]", timeout=60_000)
        box = phone.locator("#plane-demo .course-plane-canvas").bounding_box()
        phone.touchscreen.tap(box["x"] + 0.75 * box["width"], box["y"] + 0.75 * box["height"])
        phone.wait_for_function("document.querySelector('#plane-demo').dataset.z !== '0,0'")
        z_touch = [float(v) for v in phone.get_attribute("#plane-demo", "data-z").split(",")]
        assert z_touch[0] > 1 and z_touch[1] < -1, z_touch
        out = phone.evaluate("""() => { const root = document.querySelector('#plane-demo');
            const right = root.getBoundingClientRect().right;
            return [...root.querySelectorAll('*')].filter(e => e.getBoundingClientRect().right > right + 1)
                .map(e => e.tagName + '.' + e.className); }""")
        assert not out, f"wider than the column at 390 px: {out}"
        assert phone.evaluate("document.documentElement.scrollWidth") <= 390
        context.close()
    assert not errors, errors


# ------------------------------------------------- figure_frames and the chapter-4 explorer

def _draw_line(a):
    """A small figure that depends on ``a``, as a chapter's figure function would."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(2.0, 1.5))
    ax.plot([0, 1], [0, a])
    ax.set(ylim=(0, 2), title=f"a = {a}")
    return fig


def _pixels(png: bytes) -> np.ndarray:
    import io

    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def test_frames_outside_a_book_build_draw_and_write_nothing(tmp_path, monkeypatch):
    monkeypatch.delenv("COURSE_SITE_ASSETS", raising=False)
    calls = []
    html = cl.figure_frames(lambda a: calls.append(a), [0.5, 1.0], name="demo", label="a")
    assert "In the built book" in html.data and not calls
    assert not list(tmp_path.iterdir())


def test_frames_argument_errors(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_SITE_ASSETS", str(tmp_path))
    with pytest.raises(ValueError, match="at least two values"):
        cl.figure_frames(_draw_line, [1.0], name="demo", label="a")
    with pytest.raises(ValueError, match="one label per value: 1 labels for 2 values"):
        cl.figure_frames(_draw_line, [0.5, 1.0], name="demo", label="a", value_labels=["x"])
    with pytest.raises(ValueError, match="start must be one of the values"):
        cl.figure_frames(_draw_line, [0.5, 1.0], name="demo", label="a", start=0.7)
    with pytest.raises(TypeError, match="must return a matplotlib Figure, got NoneType for 0.5"):
        cl.figure_frames(lambda a: None, [0.5, 1.0], name="demo", label="a")


def test_frames_are_the_figures_the_notebook_draws(tmp_path, monkeypatch):
    """One PNG per value, pixel for pixel what the notebook's inline display shows
    (a retina PNG of draw(value)), its CSS size half its pixels; the spec lists the
    values as written, the files and the first one shown; no figure left open."""
    import matplotlib.pyplot as plt
    from IPython.core.pylabtools import print_figure

    monkeypatch.setenv("COURSE_SITE_ASSETS", str(tmp_path))
    open_before = plt.get_fignums()
    values = [0.5, 1.0, 2.0]
    html = cl.figure_frames(_draw_line, values, name="demo", label="a", unit="units", start=1.0,
                            caption="what to look for")
    assert 'class="course-frames"' in html.data and 'id="frames-demo"' in html.data
    assert "what to look for" in html.data
    assert plt.get_fignums() == open_before
    spec = json.loads((tmp_path / "demo.json").read_text())
    assert spec["kind"] == "frames" and spec["values"] == ["0.5", "1", "2"] and spec["start"] == 1
    assert (spec["label"], spec["unit"]) == ("a", "units")
    pictures = []
    for value, frame in zip(values, spec["frames"]):
        png = (tmp_path / frame["file"]).read_bytes()
        fig = _draw_line(value)
        want = print_figure(fig, fmt="retina")
        plt.close(fig)
        np.testing.assert_array_equal(_pixels(png), _pixels(want))
        h, w = _pixels(png).shape[:2]
        assert (frame["width"], frame["height"]) == (w // 2, h // 2)
        pictures.append(_pixels(png))
    assert not np.array_equal(pictures[0], pictures[2]), "different values must give different pictures"
    labelled = cl.figure_frames(_draw_line, values, name="other", label="a", value_labels=["low", "mid", "high"])
    assert json.loads((tmp_path / "other.json").read_text())["values"] == ["low", "mid", "high"]
    assert 'id="frames-other"' in labelled.data


def test_explorer_outside_a_book_build_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.delenv("COURSE_SITE_ASSETS", raising=False)
    html = cl.gaussian_posterior_explorer(name="demo")
    assert "In the built book" in html.data
    assert not list(tmp_path.iterdir())


def test_explorer_argument_errors():
    with pytest.raises(ValueError, match=r"mu needs \(start, min, max, step\)"):
        cl.gaussian_posterior_explorer(name="demo", mu=(3.0, -1.0, 2.0, 0.1))
    with pytest.raises(ValueError, match=r"sigma needs"):
        cl.gaussian_posterior_explorer(name="demo", sigma=(1.0, 1.5, 0.5, 0.1))
    with pytest.raises(ValueError, match="sigma's range must be positive"):
        cl.gaussian_posterior_explorer(name="demo", sigma=(0.5, 0.0, 1.0, 0.1))
    with pytest.raises(ValueError, match="noise must be positive"):
        cl.gaussian_posterior_explorer(name="demo", noise=0.0)


def test_explorer_spec_against_torch_distributions(tmp_path, monkeypatch):
    """The spec's model, posterior and reference terms, checked against
    torch.distributions (Bayes' rule for the posterior, kl_divergence for the KLs,
    the evidence N(0, w^2 + noise^2)); the axes hold every q of the sliders' range
    within 2 sd and the posterior within 4 sd."""
    from torch.distributions import Normal, kl_divergence

    monkeypatch.setenv("COURSE_SITE_ASSETS", str(tmp_path))
    x, w, noise = 1.2, -1.5, 0.7
    cl.gaussian_posterior_explorer(name="demo", x=x, w=w, noise=noise, mu=(0.0, -1.0, 1.5, 0.05),
                                   sigma=(0.5, 0.1, 1.2, 0.05))
    spec = json.loads((tmp_path / "demo.json").read_text())
    assert spec["kind"] == "gaussian-posterior" and spec["model"] == {"x": x, "w": w, "noise": noise}
    precision = 1 + w ** 2 / noise ** 2
    pm, ps = (w * x / noise ** 2) / precision, precision ** -0.5
    assert spec["posterior"]["mean"] == pytest.approx(pm, rel=1e-12)
    assert spec["posterior"]["std"] == pytest.approx(ps, rel=1e-12)
    evidence = Normal(torch.tensor(0.0, dtype=torch.float64), torch.tensor((w ** 2 + noise ** 2) ** 0.5,
                                                                            dtype=torch.float64))
    assert len(spec["references"]) == 4
    for ref in spec["references"]:
        q = Normal(torch.tensor(ref["mu"], dtype=torch.float64), torch.tensor(ref["sigma"], dtype=torch.float64))
        posterior = Normal(torch.tensor(pm, dtype=torch.float64), torch.tensor(ps, dtype=torch.float64))
        prior = Normal(torch.tensor(0.0, dtype=torch.float64), torch.tensor(1.0, dtype=torch.float64))
        assert ref["log_px"] == pytest.approx(float(evidence.log_prob(torch.tensor(x, dtype=torch.float64))), abs=1e-10)
        assert ref["kl_post"] == pytest.approx(float(kl_divergence(q, posterior)), abs=1e-10)
        assert ref["kl_prior"] == pytest.approx(float(kl_divergence(q, prior)), abs=1e-10)
        assert ref["elbo"] == pytest.approx(ref["log_px"] - ref["kl_post"], abs=1e-10)
        assert ref["elbo"] == pytest.approx(ref["recon"] - ref["kl_prior"], abs=1e-10)
    (z_lo, z_hi), (d_lo, d_hi) = spec["axes"]["z"], spec["axes"]["density"]
    assert z_lo <= min(-1.0 - 2 * 1.2, pm - 4 * ps) and z_hi >= max(1.5 + 2 * 1.2, pm + 4 * ps)
    assert d_lo == 0 and d_hi > float(Normal(pm, ps).log_prob(torch.tensor(pm, dtype=torch.float64)).exp())


@pytest.mark.book
def test_frames_and_explorer_run_in_a_real_browser(tmp_path, monkeypatch):
    """Both widgets without WebAssembly in headless Chromium (site on 127.0.0.1): no
    console error and no request leaving the site; the frames slider starts at its
    start value and shows each value's picture as it moves (mouse-free: the input
    event and the arrow keys); the explorer's JavaScript gives Python's terms within
    1e-9 at the spec's references, redraws when a slider moves and shows the numbers;
    at 390 px nothing of either is wider than the column."""
    if shutil.which("chromium") is None:
        pytest.skip("Chromium is not installed: in-browser widget test skipped")
    pytest.importorskip("playwright")
    sys.path.insert(0, str(ROOT))
    from tools.screenshot import collect_errors, open_site

    site = tmp_path / "site"
    (site / "vendor" / "course").mkdir(parents=True)
    shutil.copy(ROOT / "book" / "js" / "latent_slider.js", site / "vendor" / "course" / "latent_slider.js")
    monkeypatch.setenv("COURSE_SITE_ASSETS", str(site / "assets"))
    frames = cl.figure_frames(_draw_line, [0.5, 1.0, 2.0], name="demo", label="a", start=1.0)
    explorer = cl.gaussian_posterior_explorer(name="q", caption="what to look for")
    spec = json.loads((site / "assets" / "q.json").read_text())
    (site / "chapters").mkdir()
    (site / "chapters" / "demo.html").write_text(
        f'<html><head><meta name="viewport" content="width=device-width"><link rel="icon" href="data:,">'
        f'</head><body><article style="max-width: 720px; padding: 0 8px">{frames.data}{explorer.data}'
        f'</article></body></html>')
    src = "document.querySelector('#frames-demo img.course-frame').getAttribute('src')"
    canvas = "(c => Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data))" \
             "(document.querySelector('#gaussian-posterior-q canvas'))"
    with open_site(site) as (base, browser):
        for viewport in ({"width": 1280, "height": 900}, {"width": 390, "height": 844}):
            page = browser.new_page(viewport=viewport)
            errors = collect_errors(page, base)
            page.goto(f"{base}/chapters/demo.html")
            page.wait_for_selector("#frames-demo[data-state=ready]", timeout=30_000)
            assert page.evaluate(src).endswith("demo-1.png")
            assert page.get_attribute("#frames-demo", "data-value") == "1"
            page.evaluate("""() => { const s = document.querySelector('#frames-demo input');
                s.value = s.max; s.dispatchEvent(new Event('input')); }""")
            page.wait_for_function("document.querySelector('#frames-demo').dataset.value === '2'")
            assert page.evaluate(src).endswith("demo-2.png")
            assert page.evaluate("document.querySelector('#frames-demo img').naturalWidth") > 0
            page.locator("#frames-demo input").focus()
            page.keyboard.press("ArrowLeft")
            page.keyboard.press("ArrowLeft")
            page.wait_for_function("document.querySelector('#frames-demo').dataset.value === '0.5'")
            assert page.evaluate(src).endswith("demo-0.png")

            page.locator("#gaussian-posterior-q").scroll_into_view_if_needed()
            page.wait_for_selector("#gaussian-posterior-q[data-state=ready]", timeout=30_000)
            assert page.locator("#gaussian-posterior-q .course-caption").inner_text() == "what to look for"
            for ref in spec["references"]:
                got = page.evaluate(f"window.CourseLatentSlider.widgets['gaussian-posterior-q']"
                                    f".terms({ref['mu']}, {ref['sigma']})")
                for key in ("log_px", "elbo", "kl_post", "recon", "kl_prior"):
                    assert got[key] == pytest.approx(ref[key], abs=1e-9), (key, ref)
            table = page.locator("#gaussian-posterior-q table").inner_text()
            assert f"{spec['references'][0]['elbo']:.3f} nats" in table, table
            before = page.evaluate(f"() => {canvas}")
            page.locator("#gaussian-posterior-q input").first.focus()
            for _ in range(10):
                page.keyboard.press("ArrowRight")
            page.wait_for_function("document.querySelector('#gaussian-posterior-q').dataset.value === '0.50,1.00'")
            page.wait_for_timeout(100)
            assert page.evaluate(f"() => {canvas}") != before, "moving mu must redraw the densities"
            out = page.evaluate("""() => [...document.querySelectorAll('.course-inpage')].flatMap(root => {
                const right = root.getBoundingClientRect().right;
                return [...root.querySelectorAll('*')].filter(e => e.getBoundingClientRect().right > right + 1)
                    .map(e => root.id + ' ' + e.tagName + '.' + e.className); })""")
            assert not out, f"wider than the column at {viewport['width']} px: {out}"
            page.close()
            assert not errors, errors
