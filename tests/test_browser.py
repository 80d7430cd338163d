"""Open every page of the smoke-built book in a real headless Chromium, as a
reader would: no console errors, equations typeset, images loaded. Screenshots
go to _build/screenshots/. Skipped (with the reason) where Chromium or
playwright is missing; .ci/run installs both."""

import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

pytestmark = pytest.mark.book


def _need_browser() -> None:
    """Skip (with the reason) where Chromium or playwright is missing."""
    if shutil.which("chromium") is None and shutil.which("chromium-browser") is None:
        pytest.skip("Chromium is not installed (apt-get install chromium): browser tests skipped")
    pytest.importorskip("playwright", reason="playwright-python is not installed: browser tests skipped")


def _open_chapter(browser, base: str, path: Path):
    """A chapter page opened as a reader opens it: returns the page, the list its console
    errors and outside requests go to (tools.screenshot.collect_errors) and the list of
    its onnxruntime requests, both filled as they come."""
    from tools.screenshot import collect_errors

    page = browser.new_page()
    errors = collect_errors(page, base)
    ort: list[str] = []
    page.on("request", lambda r: ort.append(r.url) if "/vendor/ort/" in r.url else None)
    page.goto(f"{base}/chapters/{path.name}", wait_until="networkidle")
    return page, errors, ort


@pytest.fixture(scope="module")
def report(smoke_site):
    _need_browser()
    from tools.screenshot import visit

    pages = sorted(p.relative_to(smoke_site).as_posix() for p in smoke_site.rglob("*.html")
                   if not {"vendor", "_static", "_sources"} & set(p.parts)
                   and p.name not in ("genindex.html", "search.html"))
    return visit(pages, smoke_site, ROOT / "_build" / "screenshots")


def test_every_page_loads_without_console_errors(report):
    """No console error, no failed request and no request outside the site (so
    nothing comes from a CDN: the book works with the network cut)."""
    bad = {page: r["errors"] for page, r in report.items() if r["errors"]}
    assert not bad, bad


def test_every_image_loads(report):
    bad = {page: r["broken_images"] for page, r in report.items() if r["broken_images"]}
    assert not bad, bad


def test_equations_are_typeset_offline(report, smoke_site):
    for page, r in report.items():
        source = (smoke_site / page).read_text()
        if 'class="math' in source:
            assert r["math"] > 0, f"{page} has maths but MathJax rendered none"
    assert report["book/notation.html"]["math"] > 10


@pytest.fixture(scope="module")
def equations(smoke_site):
    """Every display equation of every page with maths, measured at a desktop
    width (1280 px) and on a phone (390 px)."""
    _need_browser()
    from tools.screenshot import measure_equations

    pages = sorted(p.relative_to(smoke_site).as_posix() for p in smoke_site.rglob("*.html")
                   if not {"vendor", "_static", "_sources"} & set(p.parts) and 'class="math' in p.read_text())
    return measure_equations(pages, smoke_site, widths=(1280, 390))


@pytest.mark.parametrize("width", [1280, 390])
def test_no_display_equation_is_wider_than_its_column(equations, width):
    """Issues 15 and 25: at 1280 px every display equation fits its column, in the
    prose and in a cell's output (docstrings shown by cl.show_source) alike: long ones
    are split. On a 390 px phone an equation may be wider only if its box scrolls with
    a scrollbar the reader sees. Numbers and boxes never stick out."""
    from tools.screenshot import equation_problems

    rows = [r for r in equations if r["width"] == width]
    assert len(rows) > 50, f"only {len(rows)} display equations measured at {width} px"
    bad = equation_problems(rows, scroll_ok=width < 1280)
    assert not bad, f"{len(bad)} display equations clipped at {width} px:\n" + "\n".join(bad)


#: the in-page sliders the chapters must ship (issue 8): chapter 5 (toy VAE),
#: chapter 6 (conditional VAE) and chapter 7 (faces VAE); chapter 10's latent traversal (issue 17)
SLIDERS = {"ch02-ae-interpolation-roll", "ch02-ae-interpolation-mnist", "ch05-vae-interpolation",
           "ch06-cvae-interpolation", "ch07-attribute-edit", "ch10-traversal"}

READ_CANVAS = """id => { const c = document.querySelector('#' + id + ' .course-slider-canvas');
    return {width: c.width, height: c.height,
            data: Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data)}; }"""
MOVE_TO_MAX = """id => { const s = document.querySelector('#' + id + ' .course-slider-range');
    s.value = s.max; s.dispatchEvent(new Event('input')); return Number(s.max); }"""


def _canvas(page, sid):
    c = page.evaluate(READ_CANVAS, sid)
    import numpy as np

    return np.array(c["data"], dtype=np.uint8).reshape(c["height"], c["width"], 4)


def _check_drawn(spec, canvas, values):
    """The canvas shows ``values`` (the decoded output): for an image, the centre
    of every enlarged pixel has its grey/RGB level; for a point, the marker sits
    at its position."""
    import numpy as np

    values = np.asarray(values)
    if spec["kind"] == "image":
        c, h, w = (spec["image"][k] for k in ("channels", "height", "width"))
        rows = ((np.arange(h) + 0.5) * canvas.shape[0] / h).astype(int)
        cols = ((np.arange(w) + 0.5) * canvas.shape[1] / w).astype(int)
        shown = canvas[rows][:, cols, :3].astype(float) / 255              # (h, w, 3)
        expect = values.reshape(c, h, w).transpose(1, 2, 0)
        expect = np.repeat(expect, 3, axis=2) if c == 1 else expect
        np.testing.assert_allclose(shown, np.clip(expect, 0, 1), atol=1.5 / 255)
    else:
        lo, hi = spec["points"]["lims"]
        u = int((values[0] - lo) / (hi - lo) * canvas.shape[1])
        v = int((1 - (values[1] - lo) / (hi - lo)) * canvas.shape[0])
        u, v = min(max(u, 0), canvas.shape[1] - 1), min(max(v, 0), canvas.shape[0] - 1)
        r, g, b = canvas[v, u, :3]
        assert r > 180 and g < 90 and b < 90, f"no marker at the decoded point ({u}, {v}): {(r, g, b)}"


def test_in_page_sliders_decode_like_pytorch(smoke_site):
    """Every live slider of the built book loads its ONNX decoder and, at both
    ends of the slider, decodes what PyTorch decodes (within 1e-4) and draws it
    on the canvas; the picture changes when the slider moves."""
    import json

    import numpy as np

    _need_browser()
    from tools.screenshot import open_site

    pages = sorted(p for p in (smoke_site / "chapters").glob("*.html") if "course-latent-slider" in p.read_text())
    found = set()
    with open_site(smoke_site) as (base, browser):
        for path in pages:
            page, errors, ort = _open_chapter(browser, base, path)
            ids = page.eval_on_selector_all(".course-latent-slider", "els => els.map(e => e.id)")
            # issue 15: onnxruntime (14 MB) loads only when a slider comes into view, as a reader scrolls
            assert not ort, f"{path.name}: onnxruntime requested before any slider is in view: {ort}"
            states = page.eval_on_selector_all(".course-latent-slider", "els => els.map(e => e.dataset.state)")
            assert set(states) == {"waiting"}, f"{path.name}: sliders out of view are {states}, not waiting"
            for sid in ids:
                name = sid.removeprefix("slider-")
                found.add(name)
                spec = json.loads((smoke_site / "assets" / f"{name}.json").read_text())
                page.locator(f"#{sid}").scroll_into_view_if_needed()
                page.wait_for_selector(f"#{sid}[data-state=ready]", timeout=60_000)
                assert ort, f"{name}: ready without loading onnxruntime?"
                shots = []
                for ref in (spec["reference"], spec["reference_end"]):
                    if ref is spec["reference_end"]:
                        top = page.evaluate(MOVE_TO_MAX, sid)
                        assert top == ref["value"]
                        page.wait_for_function(f"Number(document.querySelector('#{sid}').dataset.value) === {top}")
                    decoded = page.evaluate(f"window.__courseSliderLast['{sid}']")
                    np.testing.assert_allclose(decoded, ref["output"], atol=1e-4,
                                               err_msg=f"{name} at {ref['value']}: in-page decoder differs from PyTorch")
                    shots.append(_canvas(page, sid))
                    _check_drawn(spec, shots[-1], decoded)
                assert (shots[0] != shots[1]).any(), f"{name}: moving the slider did not change the canvas"
            page.close()
            assert not errors, f"{path.name}: {errors}"
    assert found == SLIDERS, f"sliders in the built book: {sorted(found)}, expected {sorted(SLIDERS)}"


#: the in-page latent planes with their draw pads (issue 18): chapter 9's L = 2 MNIST VAE
PLANES = {"ch09-latent-plane"}


def test_in_page_latent_planes_decode_and_encode_like_pytorch(smoke_site):
    """Every latent plane of the built book waits out of view (no onnxruntime
    requested), then loads; its in-page decoder and encoder give the PyTorch outputs
    stored at export time (within 1e-4); the pointer changes the plane and the
    decoded image; drawing a digit shows its posterior on the plane."""
    import json

    import numpy as np

    _need_browser()
    from tools.screenshot import SEVEN, draw_strokes, open_site

    pages = sorted(p for p in (smoke_site / "chapters").glob("*.html") if "course-latent-plane" in p.read_text())
    found = set()
    with open_site(smoke_site) as (base, browser):
        for path in pages:
            page, errors, ort = _open_chapter(browser, base, path)
            ids = page.eval_on_selector_all(".course-latent-plane", "els => els.map(e => e.id)")
            states = page.eval_on_selector_all(".course-latent-plane", "els => els.map(e => e.dataset.state)")
            if not page.evaluate("document.querySelector('.course-latent-slider') !== null"):
                assert not ort, f"{path.name}: onnxruntime requested before any widget is in view: {ort}"
                assert set(states) == {"waiting"}, f"{path.name}: planes out of view are {states}, not waiting"
            for pid in ids:
                name = pid.removeprefix("plane-")
                found.add(name)
                spec = json.loads((smoke_site / "assets" / f"{name}.json").read_text())
                page.locator(f"#{pid}").scroll_into_view_if_needed()
                page.wait_for_selector(f"#{pid}[data-state=ready]", timeout=60_000)
                assert ort, f"{name}: ready without loading onnxruntime?"
                plane = page.locator(f"#{pid} .course-plane-canvas")
                plane.scroll_into_view_if_needed()
                api = f"window.CourseLatentSlider.widgets['{pid}']"
                for ref in spec["references"]["decode"]:
                    np.testing.assert_allclose(page.evaluate(f"{api}.decodeAt({ref['z']})"), ref["output"],
                                               atol=1e-4, err_msg=f"{name}: decoder at {ref['z']}")
                enc = spec["references"]["encode"]
                got = page.evaluate(f"{api}.encode({enc['x']})")
                np.testing.assert_allclose(got["mu"] + got["sigma"], enc["mu"] + enc["sigma"], atol=1e-4,
                                           err_msg=f"{name}: in-page encoder differs from PyTorch")
                read = f"() => Array.from(document.querySelector('#{pid} .course-plane-canvas')" \
                       ".getContext('2d').getImageData(0, 0, 360, 360).data)"
                before = page.evaluate(read)
                box = plane.bounding_box()
                page.mouse.move(box["x"] + 0.3 * box["width"], box["y"] + 0.6 * box["height"])
                page.wait_for_function(f"document.querySelector('#{pid}').dataset.z !== '0,0'")
                page.wait_for_timeout(200)
                assert page.evaluate(read) != before, f"{name}: the pointer did not change the plane"
                pad = page.locator(f"#{pid} .course-draw-pad")
                pad.scroll_into_view_if_needed()
                before = page.evaluate(read)
                draw_strokes(page, pad, SEVEN)
                page.wait_for_function(f"document.querySelector('#{pid}').dataset.strokes === '2'")
                page.wait_for_timeout(300)
                assert page.evaluate(read) != before, f"{name}: drawing did not show a posterior on the plane"
            page.close()
            assert not errors, f"{path.name}: {errors}"
    assert found == PLANES, f"latent planes in the built book: {sorted(found)}, expected {sorted(PLANES)}"


#: in-page widgets without a model in the page (issue 18): sliders over figures drawn in Python,
#: and chapter 4's closed-form q-against-posterior explorer
FRAMES = {"ch01-code-size", "ch03-denoising-strength", "ch08-beta-picker"}
EXPLORERS = {"ch04-q-vs-posterior"}


def test_in_page_widgets_without_webassembly(smoke_site):
    """The frames sliders and the explorer of the built book: each becomes ready
    when scrolled into view, with no console error, no request leaving the site and
    no onnxruntime at all on pages without a model widget; a frames slider shows the
    picture its spec names for each value and a move changes it; the explorer's
    terms equal Python's within 1e-9 and a move redraws its canvas."""
    import json

    _need_browser()
    from tools.screenshot import open_site

    kinds = {"course-frames": ("frames-", set()), "course-gaussian-posterior": ("gaussian-posterior-", set())}
    pages = sorted(p for p in (smoke_site / "chapters").glob("*.html") if any(k in p.read_text() for k in kinds))
    with open_site(smoke_site) as (base, browser):
        for path in pages:
            page, errors, ort = _open_chapter(browser, base, path)
            for kind, (prefix, found) in kinds.items():
                for wid in page.eval_on_selector_all(f".{kind}", "els => els.map(e => e.id)"):
                    name = wid.removeprefix(prefix)
                    found.add(name)
                    spec = json.loads((smoke_site / "assets" / f"{name}.json").read_text())
                    page.locator(f"#{wid}").scroll_into_view_if_needed()
                    page.wait_for_selector(f"#{wid}[data-state=ready]", timeout=60_000)
                    move = f"""v => {{ const s = document.querySelector('#{wid} .course-slider-range');
                        s.value = v; s.dispatchEvent(new Event('input')); }}"""
                    if kind == "course-frames":
                        src = f"document.querySelector('#{wid} img.course-frame').getAttribute('src')"
                        for i in (spec["start"], len(spec["values"]) - 1, 0):
                            page.evaluate(move, i)
                            page.wait_for_function(f"document.querySelector('#{wid}').dataset.value === "
                                                   f"{json.dumps(spec['values'][i])}")
                            assert page.evaluate(src).endswith(spec["frames"][i]["file"]), (name, i)
                            assert page.evaluate(f"document.querySelector('#{wid} img').naturalWidth") > 0
                    else:
                        for ref in spec["references"]:
                            got = page.evaluate(f"window.CourseLatentSlider.widgets['{wid}'].terms({ref['mu']}, "
                                                f"{ref['sigma']})")
                            for key in ("log_px", "elbo", "kl_post", "recon", "kl_prior"):
                                assert got[key] == pytest.approx(ref[key], abs=1e-9), (name, key, ref)
                        read = f"""() => (c => Array.from(c.getContext('2d').getImageData(0, 0, c.width,
                            c.height).data))(document.querySelector('#{wid} canvas'))"""
                        before = page.evaluate(read)
                        page.evaluate(move, spec["mu"]["max"])
                        page.wait_for_function(f"document.querySelector('#{wid}').dataset.value.startsWith("
                                               f"'{spec['mu']['max']:.2f},')")
                        page.wait_for_timeout(100)
                        assert page.evaluate(read) != before, f"{name}: moving mu did not redraw"
            if "course-latent-slider" not in path.read_text() and "course-latent-plane" not in path.read_text():
                assert not ort, f"{path.name}: onnxruntime loaded on a page without a model widget: {ort}"
            page.close()
            assert not errors, f"{path.name}: {errors}"
    assert kinds["course-frames"][1] == FRAMES, f"frames sliders in the built book: {kinds['course-frames'][1]}"
    assert kinds["course-gaussian-posterior"][1] == EXPLORERS


WIDGET_VIEW = 'type="application/vnd.jupyter.widget-view+json"'


def test_widget_manager_only_on_pages_that_show_widgets(smoke_site):
    """Issue 15: the widget manager (RequireJS and the HTML manager, ~3.6 MB)
    loads only on pages that still show a kernel widget; where in-page widgets
    replace them (chapters 2-5, 7 and 8) the page loads none of it."""
    shown, bare = [], []
    for path in sorted((smoke_site / "chapters").glob("*.html")):
        text = path.read_text()
        manager = "vendor/html-manager/embed-amd.js" in text or "vendor/require.js" in text
        state = "application/vnd.jupyter.widget-state+json" in text
        if WIDGET_VIEW in text:
            shown.append(path.stem)
            assert manager and state, f"{path.name} shows a widget but lacks the widget manager or its state"
        else:
            bare.append(path.stem)
            assert not manager and not state, f"{path.name} shows no widget but loads the widget manager"
    assert {"02_uses_and_limits", "03_regularised_autoencoders", "04_variational_inference_elbo",
            "05_gaussian_vae_toy", "07_latent_arithmetic", "08_beyond_vanilla_vae"} <= set(bare), bare
    assert "06_conditional_vae" in shown, shown   # its temperature widget has no in-page version


@pytest.mark.parametrize("width", [1280, 390])
def test_static_widgets_say_they_need_a_kernel_and_fit_the_column(smoke_site, width):
    """Every kernel widget drawn on a page shows the note that it needs a running
    notebook (course_lib.widgets._static_note), and nothing of it is wider than the
    text column; its picture is not stretched beyond its own size."""
    _need_browser()
    from tools.screenshot import collect_errors, open_site

    pages = sorted(p for p in (smoke_site / "chapters").glob("*.html") if WIDGET_VIEW in p.read_text())
    assert pages
    problems = []
    with open_site(smoke_site) as (base, browser):
        for path in pages:
            page = browser.new_page(viewport={"width": width, "height": 900})
            errors = collect_errors(page, base)
            page.goto(f"{base}/chapters/{path.name}", wait_until="networkidle")
            n_views = page.locator(f"script[{WIDGET_VIEW}]").count()
            page.wait_for_function(f"document.querySelectorAll('.course-static-note').length >= {n_views}",
                                   timeout=60_000)
            rows = page.evaluate("""() => [...document.querySelectorAll('.widget-vbox')]
                .filter(b => !b.parentElement.closest('.widget-vbox')).map(b => {
                const col = b.closest('.cell_output') || b.closest('article');
                const right = col.getBoundingClientRect().right;
                const note = b.querySelector('.course-static-note');
                const nr = note && note.getBoundingClientRect();
                return {
                  note: note ? note.innerText.trim() : null,
                  note_visible: !!note && nr.width > 50 && nr.height > 10 && getComputedStyle(note).display !== 'none',
                  out: [...b.querySelectorAll('*')].filter(e => e.getBoundingClientRect().width > 0
                          && e.getBoundingClientRect().right > right + 1).map(e => e.className).slice(0, 3),
                  stretched: [...b.querySelectorAll('img')].filter(i => i.getBoundingClientRect().width
                          > i.naturalWidth + 1).map(i => [i.naturalWidth, i.getBoundingClientRect().width]),
                }; })""")
            if len(rows) != n_views:
                problems.append(f"{path.name}: {n_views} widget views, {len(rows)} drawn")
            for k, r in enumerate(rows):
                where = f"{path.name} widget {k} @{width}px"
                if not (r["note_visible"] and "running notebook" in (r["note"] or "")):
                    problems.append(f"{where}: no visible note that it needs a kernel ({r['note']!r})")
                if r["out"]:
                    problems.append(f"{where}: sticks out of the column: {r['out']}")
                if r["stretched"]:
                    problems.append(f"{where}: picture stretched (natural, shown): {r['stretched']}")
            page.close()
            problems += [f"{path.name}: {e}" for e in errors]
    assert not problems, "\n".join(problems)


def test_page_weight_counts_what_loads_and_what_waits_for_the_reader(tmp_path):
    """tools/page_weight.py on a two-file site: the file fetched on load counts
    'on load'; the file fetched when a box at the bottom of a tall page scrolls
    into view counts only once the page is read to the end."""
    _need_browser()
    from tools.page_weight import book_pages, measure

    (tmp_path / "assets").mkdir()
    (tmp_path / "assets" / "now.bin").write_bytes(b"a" * 100_000)
    (tmp_path / "assets" / "later.bin").write_bytes(b"b" * 50_000)
    (tmp_path / "page.html").write_text("""<!doctype html><html><head><link rel="icon" href="data:,"></head><body>
        <div style="height: 5000px">top</div><div id="late">bottom</div>
        <script>
        fetch('assets/now.bin');
        new IntersectionObserver((es) => { if (es[0].isIntersecting) fetch('assets/later.bin'); })
            .observe(document.getElementById('late'));
        </script></body></html>""")
    html_bytes = len((tmp_path / "page.html").read_bytes())
    assert book_pages(tmp_path) == ["page.html"]
    [row] = measure(tmp_path, ["page.html"])
    load, read = row["on_load"], row["read_to_end"]
    assert load["requests"] == 2 and read["requests"] == 3
    headers = 1000  # per response, generous
    assert html_bytes + 100_000 <= load["bytes"] <= html_bytes + 100_000 + 2 * headers
    assert read["bytes"] - load["bytes"] - 50_000 in range(0, headers)
    assert read["by_group"]["ONNX decoders"] >= 150_000   # both under assets/
