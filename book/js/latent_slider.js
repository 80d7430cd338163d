/* The course's in-page widgets for the static book (see course_lib/export.py):
 * one script, loaded by every page that shows one, for every kind.
 *
 *   <div class="course-latent-slider" data-spec="...json">   a decoder along a line,
 *       input(s) = a + s * b, with a preset picker, a slider and a canvas;
 *   <div class="course-latent-plane" data-spec="...json">    a 2-D latent plane: test
 *       codes coloured by class, the prior's contours, the decoded image under the
 *       pointer; with a draw pad, the posterior q(z|x) of a drawn digit on the plane;
 *   <div class="course-frames" data-spec="...json">          a slider over figures drawn in
 *       Python at a few values (no model in the page, no WebAssembly);
 *   <div class="course-gaussian-posterior" data-spec="...json">  chapter 4's q against the
 *       exact posterior of a 1-D linear-Gaussian model, in closed form (no WebAssembly).
 *
 * Models run in the browser with onnxruntime-web (WebAssembly backend, one thread,
 * files served by the book itself). Nothing heavy loads with the page: a widget
 * fetches its spec, onnxruntime (about 14 MB of WebAssembly, shared by the widgets
 * of a page) and its models only when it comes near the viewport
 * (IntersectionObserver). Until then its data-state is "waiting"; then "loading",
 * and "ready" or "failed".
 *
 * Shared parts: the lazy onnxruntime load, labelled controls, captions, image
 * drawing, theme colours, timing statistics (window.__courseSliderStats[id]: ms per
 * decode, for the benchmark) and the last outputs (window.__courseSliderLast[id],
 * for the tests). window.CourseLatentSlider.preprocess is the MNIST pre-processing
 * of a drawing, the same as course_lib.preprocess_drawing.
 */
(function () {
  "use strict";
  if (window.CourseLatentSlider) { window.CourseLatentSlider.initAll(); return; }

  const stats = (window.__courseSliderStats = window.__courseSliderStats || {});
  const last = (window.__courseSliderLast = window.__courseSliderLast || {});
  const widgets = {};  // per widget id: functions the tests call (decodeAt, encode, ...)
  let ortPromise = null;

  // ---------------------------------------------------------------- shared parts

  function loadOrt(vendor) {
    if (!ortPromise) {
      const base = new URL(vendor + "/ort/", document.baseURI).href;
      ortPromise = import(base + "ort.wasm.min.mjs").then((ort) => {
        ort.env.wasm.numThreads = 1;
        ort.env.wasm.proxy = false;
        ort.env.wasm.wasmPaths = base;
        return ort;
      });
    }
    return ortPromise;
  }

  function el(tag, attrs, text) {
    const e = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => e.setAttribute(k, v));
    if (text !== undefined) e.textContent = text;
    return e;
  }

  let uid = 0;
  /* A control with a visible label tied to it (<label for>), and a readout
   * (aria-live) that says its current value and units. */
  function labelled(text, control, readout) {
    if (!control.id) control.id = "course-control-" + (++uid);
    const box = el("span", { class: "course-control" });
    box.append(el("label", { for: control.id }, text), control);
    if (readout) { readout.setAttribute("aria-live", "polite"); box.append(readout); }
    return box;
  }

  /* A value shown, not set: its name and a readout (aria-live). */
  function shown(text, readout) {
    const box = el("span", { class: "course-control" });
    readout.setAttribute("aria-live", "polite");
    box.append(el("span", { class: "course-label" }, text), readout);
    return box;
  }

  function figure(label, canvas) {
    const box = el("figure", { class: "course-panel" });
    box.append(canvas, el("figcaption", {}, label));
    return box;
  }

  function fail(root, message) {
    root.innerHTML = "";
    root.appendChild(el("p", { class: "course-slider-fallback" },
      "Interactive figure unavailable here (" + message + "). The static figures of this section show the same."));
    root.dataset.state = "failed";
  }

  function sigmoid(v) { return 1 / (1 + Math.exp(-v)); }

  /* The book theme's colours (pydata-sphinx-theme variables), with fallbacks. */
  function theme() {
    const css = getComputedStyle(document.documentElement);
    const get = (name, fallback) => (css.getPropertyValue(name) || "").trim() || fallback;
    return {
      text: get("--pst-color-text-base", "#222832"),
      muted: get("--pst-color-text-muted", "#5f6b7a"),
      border: get("--pst-color-border", "#cbd1d8"),
      background: get("--pst-color-background", "#ffffff"),
      primary: get("--pst-color-primary", "#0a7d91"),
      accent: get("--pst-color-secondary", "#d62728"),
    };
  }

  const STYLE = `
.course-inpage { margin: 0.6em 0 1.2em; max-width: 100%; color: var(--pst-color-text-base, #222832); }
.course-inpage * { box-sizing: border-box; }
.course-inpage canvas { display: block; max-width: 100%; height: auto; margin-bottom: 0.4em;
  border: 1px solid var(--pst-color-border, #cbd1d8); border-radius: 4px; }
.course-inpage canvas:focus-visible, .course-inpage input:focus-visible, .course-inpage select:focus-visible,
.course-inpage button:focus-visible { outline: 3px solid var(--pst-color-primary, #0a7d91); outline-offset: 2px; }
.course-inpage .course-slider-controls { display: flex; flex-wrap: wrap; gap: 0.4em 1em; align-items: center; margin: 0.5em 0; }
.course-inpage .course-control { display: inline-flex; flex-wrap: wrap; gap: 0.3em; align-items: center; max-width: 100%; }
.course-inpage label, .course-inpage .course-label, .course-inpage figcaption { font-size: 0.9em; font-weight: 600; }
.course-inpage figcaption { font-weight: normal; color: var(--pst-color-text-muted, #5f6b7a); max-width: 22em;
  text-align: left; margin-top: 0.2em; }
.course-inpage .course-readout, .course-inpage .course-slider-value { font-variant-numeric: tabular-nums; font-size: 0.9em; }
.course-inpage input[type=range] { accent-color: var(--pst-color-primary, #0a7d91); max-width: 100%; }
.course-inpage select, .course-inpage button { max-width: 100%; font: inherit; font-size: 0.9em; }
.course-inpage button { border: 1px solid var(--pst-color-primary, #0a7d91); color: var(--pst-color-primary, #0a7d91);
  background: transparent; border-radius: 4px; padding: 0.15em 0.7em; cursor: pointer; }
.course-inpage .course-row { display: flex; flex-wrap: wrap; gap: 0.6em 1em; align-items: flex-start; max-width: 100%; }
.course-inpage figure.course-panel { margin: 0; max-width: 100%; }
.course-inpage .course-caption { font-size: 0.9em; color: var(--pst-color-text-muted, #5f6b7a); margin: 0.3em 0 0; }
.course-inpage .course-legend { display: flex; flex-wrap: wrap; gap: 0.1em 0.8em; font-size: 0.85em; margin: 0.2em 0 0.5em; }
.course-inpage .course-swatch { display: inline-block; width: 0.75em; height: 0.75em; border-radius: 50%; margin-right: 0.3em; }
.course-inpage h4.course-subtitle { font-size: 1em; margin: 0.8em 0 0.3em; }
.course-inpage .course-plane-canvas, .course-inpage .course-draw-pad { touch-action: none; cursor: crosshair; }
.course-inpage img.course-frame { display: block; max-width: 100%; height: auto; margin-bottom: 0.4em; }
.course-inpage table.course-numbers { border-collapse: collapse; font-size: 0.9em; margin: 0.2em 0 0.4em; max-width: 100%; }
.course-inpage table.course-numbers th, .course-inpage table.course-numbers td { padding: 0.1em 0.8em 0.1em 0; text-align: left;
  border: none; vertical-align: top; }
.course-inpage table.course-numbers td.course-readout, .course-inpage table.course-numbers th { white-space: nowrap; }
.course-inpage table.course-numbers td.course-readout { text-align: right; }
.course-inpage table.course-numbers td.course-note { color: var(--pst-color-text-muted, #5f6b7a); }
@media (max-width: 600px) { .course-inpage table.course-numbers td.course-note { display: none; } }
`;
  function injectStyle() {
    if (document.getElementById("course-inpage-style")) return;
    const style = el("style", { id: "course-inpage-style" });
    style.textContent = STYLE;
    document.head.appendChild(style);
  }

  /* Draw values (C*H*W in [0, 1], channel-major) as an image into target's box. */
  function drawImage(target, values, shape, x0, y0, w, h) {
    const c = shape.channels, H = shape.height, W = shape.width;
    const tmp = el("canvas", { width: W, height: H });
    const tctx = tmp.getContext("2d");
    const img = tctx.createImageData(W, H);
    for (let i = 0; i < H * W; i++) {
      for (let k = 0; k < 3; k++) {
        const v = values[(c === 1 ? 0 : k) * H * W + i];
        img.data[4 * i + k] = Math.max(0, Math.min(255, Math.round(255 * v)));
      }
      img.data[4 * i + 3] = 255;
    }
    tctx.putImageData(img, 0, 0);
    const g = target.getContext("2d");
    g.imageSmoothingEnabled = false;
    g.drawImage(tmp, x0, y0, w, h);
  }

  /* Run fn() at most once at a time; a call during a run is kept (only the latest). */
  function coalesce(fn) {
    let busy = false, pending = false;
    return async function schedule() {
      if (busy) { pending = true; return; }
      busy = true;
      try { await fn(); } finally { busy = false; }
      if (pending) { pending = false; schedule(); }
    };
  }

  async function timed(id, work) {
    const start = performance.now();
    const result = await work();
    (stats[id] = stats[id] || []).push(performance.now() - start);
    return result;
  }

  /* MNIST's pre-processing of a drawing (course_lib.preprocess_drawing, same steps
   * in double precision): ink (H*W, levels in [0, 1]) -> bounding box of the ink ->
   * longer side scaled to `box` px by area averaging (aspect kept) -> pasted in a
   * size x size image -> shifted by whole pixels so that the centre of mass is at
   * the centre. Returns a Float64Array(size * size), all zeros without ink. */
  function areaWeights(nOut, nIn) {
    const f = nIn / nOut, rows = [];
    for (let i = 0; i < nOut; i++) {
      const lo = i * f, hi = (i + 1) * f, row = [];
      for (let k = Math.floor(lo); k < Math.min(nIn, Math.ceil(hi)); k++) {
        row.push([k, (Math.min(hi, k + 1) - Math.max(lo, k)) / f]);
      }
      rows.push(row);
    }
    return rows;
  }

  function preprocess(ink, H, W, box, size) {
    box = box || 20; size = size || 28;
    const out = new Float64Array(size * size);
    let r0 = H, r1 = -1, c0 = W, c1 = -1;
    for (let i = 0; i < H; i++) for (let j = 0; j < W; j++) {
      if (ink[i * W + j] > 0) { r0 = Math.min(r0, i); r1 = Math.max(r1, i); c0 = Math.min(c0, j); c1 = Math.max(c1, j); }
    }
    if (r1 < 0) return out;
    const h = r1 - r0 + 1, w = c1 - c0 + 1;
    const scale = box / Math.max(h, w);
    const oh = Math.max(1, Math.floor(h * scale + 0.5)), ow = Math.max(1, Math.floor(w * scale + 0.5));
    const wy = areaWeights(oh, h), wx = areaWeights(ow, w);
    const tmp = new Float64Array(oh * w);                        // rows resized: (oh, w)
    for (let i = 0; i < oh; i++) for (const [k, a] of wy[i]) {
      const src = (r0 + k) * W + c0;
      for (let j = 0; j < w; j++) tmp[i * w + j] += a * ink[src + j];
    }
    const small = new Float64Array(oh * ow);                     // then columns: (oh, ow)
    for (let i = 0; i < oh; i++) for (let j = 0; j < ow; j++) {
      let s = 0;
      for (const [k, a] of wx[j]) s += a * tmp[i * w + k];
      small[i * ow + j] = s;
    }
    const top = Math.floor((size - oh) / 2), left = Math.floor((size - ow) / 2);
    for (let i = 0; i < oh; i++) for (let j = 0; j < ow; j++) out[(top + i) * size + left + j] = small[i * ow + j];
    let total = 0, mi = 0, mj = 0;
    for (let i = 0; i < size; i++) for (let j = 0; j < size; j++) {
      const v = out[i * size + j];
      total += v; mi += i * v; mj += j * v;
    }
    const centre = (size - 1) / 2;
    const dy = Math.floor(centre - mi / total + 0.5), dx = Math.floor(centre - mj / total + 0.5);
    const shifted = new Float64Array(size * size);
    for (let i = 0; i < size; i++) for (let j = 0; j < size; j++) {
      const ti = i + dy, tj = j + dx;
      if (ti >= 0 && ti < size && tj >= 0 && tj < size) shifted[ti * size + tj] = Math.min(1, Math.max(0, out[i * size + j]));
    }
    return shifted;
  }

  /* A small seeded generator (mulberry32) and standard normals (Box-Muller), so that
   * the samples z ~ q(z|x) of a drawing are the same at every visit. */
  function normals(seed) {
    let a = seed >>> 0;
    const uniform = () => {
      a = (a + 0x6D2B79F5) >>> 0;
      let t = a;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    return () => Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
  }

  async function loadSpec(root) {
    const specUrl = new URL(root.dataset.spec, document.baseURI);
    const spec = await (await fetch(specUrl)).json();
    const ort = await loadOrt(root.dataset.vendor || "../vendor");
    const open = (file) => ort.InferenceSession.create(new URL(file, specUrl).href, { executionProviders: ["wasm"] });
    return { spec, ort, open };
  }

  /* Clear the fallback text but keep the caption (what to look for), put last. */
  function takeCaption(root) {
    const caption = root.querySelector(".course-caption");
    root.innerHTML = "";
    return caption;
  }

  // ------------------------------------------------------------ the line slider

  async function setupSlider(root) {
    let spec, ort, session;
    try {
      const loaded = await loadSpec(root);
      spec = loaded.spec; ort = loaded.ort;
      session = await loaded.open(spec.model);
    } catch (err) {
      fail(root, String(err && err.message || err));
      return;
    }
    const p = spec.param;
    const caption = takeCaption(root);
    const controls = el("div", { class: "course-slider-controls" });
    const picker = el("select", { class: "course-slider-preset" });
    spec.presets.forEach((preset, i) => picker.appendChild(el("option", { value: String(i) }, preset.label)));
    const slider = el("input", { type: "range", min: p.min, max: p.max, step: p.step, value: p.min,
      class: "course-slider-range" });
    const readout = el("span", { class: "course-slider-value" });
    const unit = p.unit ? " " + p.unit : "";
    if (spec.presets.length > 1) controls.append(labelled("example", picker));
    controls.append(labelled(p.label, slider, readout));
    const isImage = spec.kind === "image";
    const size = isImage ? 224 : 320;
    const canvas = el("canvas", { width: size, height: size, class: "course-slider-canvas", role: "img",
      "aria-label": isImage ? "decoded image at the slider's value" : "decoded point on the data plane" });
    const strip = el("canvas", { width: isImage ? 9 * 56 : 1, height: isImage ? 56 : 1, class: "course-slider-strip",
      role: "img", "aria-label": "decoded images at nine evenly spaced values, the current one framed" });
    root.append(controls, canvas);
    if (isImage) root.append(strip);
    // without a caption from the chapter, say what moves and what to look for
    root.append(caption || el("p", { class: "course-caption" }, isImage
      ? "Move the slider (or click it and use the arrow keys) to change " + p.label + " from " + p.min
        + " to " + p.max + ": the large picture is the decoder's output at that value; the strip shows "
        + "nine evenly spaced values, the current one framed. Look at how the picture changes along the way."
      : "Move the slider (or click it and use the arrow keys) to change " + p.label + " from " + p.min
        + " to " + p.max + ": the red dot is the decoded point, the line the path it follows, over the data "
        + "in grey."));
    const ctx = canvas.getContext("2d");
    const colours = theme();
    stats[root.id] = [];

    async function decode(s) {
      const preset = spec.presets[Number(picker.value)];
      const feeds = {};
      spec.inputs.forEach((name) => {
        const a = preset.a[name], b = preset.b[name];
        const data = new Float32Array(a.length);
        for (let i = 0; i < a.length; i++) data[i] = a[i] + s * b[i];
        feeds[name] = new ort.Tensor("float32", data, preset.shapes[name]);
      });
      const out = await session.run(feeds);
      const values = out[session.outputNames[0]].data;
      return spec.activation === "sigmoid" ? Float32Array.from(values, sigmoid) : values;
    }

    const lims = isImage ? null : spec.points.lims;
    function toPx(x, y) {
      const f = (v) => (v - lims[0]) / (lims[1] - lims[0]);
      return [f(x) * size, (1 - f(y)) * size];
    }
    let path = [];

    async function redrawStatic() {
      const n = 9;
      const values = [];
      for (let i = 0; i < n; i++) values.push(p.min + (i / (n - 1)) * (p.max - p.min));
      if (isImage) {
        const g = strip.getContext("2d");
        g.clearRect(0, 0, strip.width, strip.height);
        for (let i = 0; i < n; i++) drawImage(strip, await decode(values[i]), spec.image, i * 56, 0, 56, 56);
      } else {
        path = [];
        const m = 41;
        for (let i = 0; i < m; i++) path.push(await decode(p.min + (i / (m - 1)) * (p.max - p.min)));
      }
    }

    let stripImage = null;
    function redrawStripMarker(pos) {
      const g = strip.getContext("2d");
      if (!stripImage) stripImage = g.getImageData(0, 0, strip.width, strip.height);
      g.putImageData(stripImage, 0, 0);
      g.strokeStyle = colours.accent;
      g.lineWidth = 3;
      g.strokeRect(pos + 1.5, 1.5, 53, 53);
    }

    async function redraw() {
      const s = Number(slider.value);
      readout.textContent = "= " + s.toFixed(2) + unit;
      slider.setAttribute("aria-valuetext", p.label + " = " + s.toFixed(2) + unit);
      const values = await timed(root.id, () => decode(s));
      last[root.id] = Array.from(values);
      if (isImage) {
        drawImage(canvas, values, spec.image, 0, 0, size, size);
        redrawStripMarker(((s - p.min) / (p.max - p.min)) * (strip.width - 56));
      } else {
        ctx.fillStyle = "#fff";
        ctx.fillRect(0, 0, size, size);
        ctx.fillStyle = "rgba(120,120,120,0.35)";
        const bg = spec.points.background;
        for (let i = 0; i + 1 < bg.length; i += 2) { const [u, v] = toPx(bg[i], bg[i + 1]); ctx.fillRect(u, v, 2, 2); }
        ctx.strokeStyle = "#1f77b4";
        ctx.beginPath();
        path.forEach((q, i) => { const [u, v] = toPx(q[0], q[1]); if (i) ctx.lineTo(u, v); else ctx.moveTo(u, v); });
        ctx.stroke();
        const [u, v] = toPx(values[0], values[1]);
        ctx.fillStyle = "#d62728";
        ctx.beginPath(); ctx.arc(u, v, 6, 0, 2 * Math.PI); ctx.fill();
      }
      root.dataset.value = String(s);
    }

    const schedule = coalesce(redraw);
    slider.addEventListener("input", schedule);
    picker.addEventListener("change", async () => { stripImage = null; await redrawStatic(); await schedule(); });
    await redrawStatic();
    await redraw();
    widgets[root.id] = { decodeAt: async (s) => Array.from(await decode(s)) };
    root.dataset.state = "ready";
  }

  // --------------------------------------------- the latent plane and draw pad

  // matplotlib's tab10, as in the chapters' scatter plots
  const TAB10 = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
    "#bcbd22", "#17becf"];

  async function setupPlane(root) {
    let spec, ort, decoder, encoder = null;
    try {
      const loaded = await loadSpec(root);
      spec = loaded.spec; ort = loaded.ort;
      decoder = await loaded.open(spec.decoder);
      if (spec.encoder) encoder = await loaded.open(spec.encoder);
    } catch (err) {
      fail(root, String(err && err.message || err));
      return;
    }
    const caption = takeCaption(root);
    const colours = theme();
    const [lo, hi] = spec.lims;
    const SIZE = 360, PAD = 28;                   // plane canvas and its margin for the axes
    const inner = SIZE - 2 * PAD;
    const toPx = (z1, z2) => [PAD + ((z1 - lo) / (hi - lo)) * inner, PAD + (1 - (z2 - lo) / (hi - lo)) * inner];
    const toZ = (u, v) => [lo + ((u - PAD) / inner) * (hi - lo), lo + (1 - (v - PAD) / inner) * (hi - lo)];
    const clampZ = (z) => z.map((v) => Math.min(hi, Math.max(lo, v)));
    stats[root.id] = [];

    // the plane
    const readout = el("span", { class: "course-readout" });
    const plane = el("canvas", { width: SIZE, height: SIZE, class: "course-plane-canvas", tabindex: "0",
      role: "application", "aria-roledescription": "2-D latent plane",
      "aria-label": "latent plane: point or touch to choose z; with the keyboard, arrow keys move z by 0.1, "
        + "with Shift by 0.5" });
    const image = el("canvas", { width: 140, height: 140, class: "course-plane-image", role: "img",
      "aria-label": "decoder's mean image at the chosen z" });
    const controls = el("div", { class: "course-slider-controls" });
    controls.append(shown("latent code z (pointer, touch or arrow keys):", readout));
    const legend = el("div", { class: "course-legend", "aria-label": "colours of the test codes" });
    legend.append(el("span", {}, "test codes, by digit:"));
    spec.class_names.forEach((name, c) => {
      const item = el("span", {});
      const sw = el("span", { class: "course-swatch" });
      sw.style.background = TAB10[c % 10];
      item.append(sw, document.createTextNode(name));
      legend.append(item);
    });
    const row = el("div", { class: "course-row" });
    row.append(figure("the plane z = (z1, z2): dots are test codes (posterior means), circles the prior's "
      + "1, 2 and 3 sigma contours; the cross marks z", plane),
    figure("decoded at z (the decoder's mean, 28x28)", image));
    root.append(controls, row, legend);

    // the background (codes, contours, axes) is drawn once and copied at every move
    const bg = el("canvas", { width: SIZE, height: SIZE });
    (function drawBackground() {
      const g = bg.getContext("2d");
      g.fillStyle = colours.background;
      g.fillRect(0, 0, SIZE, SIZE);
      g.strokeStyle = colours.border;
      g.lineWidth = 1;
      g.strokeRect(PAD, PAD, inner, inner);
      g.fillStyle = colours.muted;
      g.font = "11px sans-serif";
      g.textAlign = "center";
      g.textBaseline = "top";
      for (let t = Math.ceil(lo); t <= Math.floor(hi); t++) {
        const [u] = toPx(t, 0), [, v] = toPx(0, t);
        g.fillText(String(t), u, SIZE - PAD + 3);
        g.textAlign = "right"; g.textBaseline = "middle";
        g.fillText(String(t), PAD - 4, v);
        g.textAlign = "center"; g.textBaseline = "top";
        g.beginPath(); g.moveTo(u, SIZE - PAD); g.lineTo(u, SIZE - PAD + 3); g.stroke();
      }
      g.fillText("z1", SIZE - PAD / 2, SIZE - PAD + 3);
      g.textBaseline = "bottom";
      g.fillText("z2", PAD - 12, PAD - 4);
      const codes = spec.codes, labels = spec.labels;
      g.globalAlpha = 0.55;
      for (let i = 0; i < labels.length; i++) {
        const [u, v] = toPx(codes[2 * i], codes[2 * i + 1]);
        g.fillStyle = TAB10[labels[i] % 10];
        g.fillRect(u - 1.25, v - 1.25, 2.5, 2.5);
      }
      g.globalAlpha = 1;
      const [cu, cv] = toPx(0, 0);
      const unit = inner / (hi - lo);
      g.strokeStyle = colours.text;
      g.fillStyle = colours.text;
      g.setLineDash([4, 3]);
      g.textAlign = "left"; g.textBaseline = "bottom";
      g.font = "bold 11px sans-serif";
      spec.contours.forEach((c) => {
        g.beginPath(); g.arc(cu, cv, c.sigma * unit, 0, 2 * Math.PI); g.stroke();
        const a = -Math.PI / 4;
        g.fillText(c.sigma + "\u03c3 (" + Math.round(100 * c.mass) + "%)",
          cu + c.sigma * unit * Math.cos(a) + 2, cv + c.sigma * unit * Math.sin(a) - 1);
      });
      g.setLineDash([]);
    })();

    async function decodeAt(z) {
      const out = await decoder.run({ z: new ort.Tensor("float32", Float32Array.from(z), [1, 2]) });
      return out[decoder.outputNames[0]].data;
    }
    async function encode(x) {
      const im = spec.image;
      const out = await encoder.run({ x: new ort.Tensor("float32", Float32Array.from(x), [1, im.channels, im.height, im.width]) });
      const v = out[encoder.outputNames[0]].data;
      return { mu: [v[0], v[1]], sigma: [v[2], v[3]] };
    }

    let z = [0, 0];
    let posterior = null;  // {mu, sigma, samples} of the drawing

    function drawPlane() {
      const g = plane.getContext("2d");
      g.drawImage(bg, 0, 0);
      if (posterior) {
        const [mu, sigma] = [posterior.mu, posterior.sigma];
        const unit = inner / (hi - lo);
        const [mu_u, mu_v] = toPx(mu[0], mu[1]);
        g.strokeStyle = colours.primary;
        [1, 2].forEach((k) => {
          g.lineWidth = k === 1 ? 2.5 : 1.5;
          g.setLineDash(k === 1 ? [] : [5, 3]);
          g.beginPath();
          g.ellipse(mu_u, mu_v, Math.max(1, k * sigma[0] * unit), Math.max(1, k * sigma[1] * unit), 0, 0, 2 * Math.PI);
          g.stroke();
        });
        g.setLineDash([]);
        g.fillStyle = colours.primary;
        posterior.samples.forEach((s) => { const [u, v] = toPx(s[0], s[1]); g.beginPath(); g.arc(u, v, 3, 0, 2 * Math.PI); g.fill(); });
        g.font = "bold 11px sans-serif"; g.textAlign = "left"; g.textBaseline = "bottom";
        g.fillText("q(z|x)", mu_u + 2 * sigma[0] * unit + 3, mu_v);
      }
      const [u, v] = toPx(z[0], z[1]);
      g.strokeStyle = colours.accent;
      g.lineWidth = 2.5;
      g.beginPath(); g.moveTo(u - 7, v); g.lineTo(u + 7, v); g.moveTo(u, v - 7); g.lineTo(u, v + 7); g.stroke();
    }

    async function redraw() {
      const here = z.slice();
      const r = Math.hypot(here[0], here[1]);
      readout.textContent = "z = (" + here[0].toFixed(2) + ", " + here[1].toFixed(2) + "), |z| = "
        + r.toFixed(2) + " (prior standard deviations from 0)";
      const values = await timed(root.id, () => decodeAt(here));
      last[root.id] = Array.from(values);
      drawImage(image, values, spec.image, 0, 0, image.width, image.height);
      drawPlane();
      root.dataset.z = here.join(",");
    }
    const schedule = coalesce(redraw);

    function fromEvent(e) {
      const rect = plane.getBoundingClientRect();
      const u = ((e.clientX - rect.left) / rect.width) * SIZE, v = ((e.clientY - rect.top) / rect.height) * SIZE;
      z = clampZ(toZ(u, v));
      schedule();
    }
    plane.addEventListener("pointermove", fromEvent);
    plane.addEventListener("pointerdown", (e) => { plane.focus({ preventScroll: true }); fromEvent(e); });
    plane.addEventListener("keydown", (e) => {
      const step = e.shiftKey ? 0.5 : 0.1;
      const moves = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, step], ArrowDown: [0, -step] };
      if (!moves[e.key]) return;
      e.preventDefault();
      z = clampZ([z[0] + moves[e.key][0], z[1] + moves[e.key][1]]);
      schedule();
    });

    const api = { decodeAt: async (q) => Array.from(await decodeAt(q)),
      setZ: async (q) => { z = clampZ(q.slice()); await schedule(); } };
    widgets[root.id] = api;

    if (encoder && spec.draw) setupDraw(root, spec, api, encode, decodeAt, (p) => { posterior = p; drawPlane(); }, colours);
    if (caption) root.append(caption);
    await redraw();
    root.dataset.state = "ready";
  }

  function setupDraw(root, spec, api, encode, decodeAt, showPosterior, colours) {
    const d = spec.draw, im = spec.image, N = d.pad;
    api.encode = async (x) => encode(x);
    const section = el("div", { class: "course-draw" });
    const pad = el("canvas", { width: N, height: N, class: "course-draw-pad", role: "img",
      "aria-label": "drawing pad: draw a digit with the mouse, a finger or a pen" });
    const clear = el("button", { type: "button", class: "course-draw-clear" }, "Clear the drawing");
    const seen = el("canvas", { width: 112, height: 112, class: "course-draw-input", role: "img",
      "aria-label": "the drawing as the encoder sees it, 28x28" });
    const recon = el("canvas", { width: 112, height: 112, class: "course-draw-recon", role: "img",
      "aria-label": "reconstruction: the decoder at mu" });
    const strip = el("canvas", { width: d.samples * 56, height: 56, class: "course-draw-samples", role: "img",
      "aria-label": "decoded samples z from q(z|x)" });
    const post = el("span", { class: "course-readout" }, "draw a digit to see its posterior");
    const controls = el("div", { class: "course-slider-controls" });
    controls.append(clear, shown("posterior q(z|x) of the drawing:", post));
    const row = el("div", { class: "course-row" });
    row.append(figure("draw a digit here (mouse, finger or pen)", pad),
      figure("what the encoder sees: 28x28, centred like MNIST", seen),
      figure("reconstruction: decoded at mu", recon),
      figure(d.samples + " samples z ~ q(z|x), decoded (dots on the plane)", strip));
    section.append(el("h4", { class: "course-subtitle" }, "Draw a digit: its posterior on the plane above"), controls, row);
    root.append(section);

    const g = pad.getContext("2d");
    function blank() {
      g.fillStyle = "#000"; g.fillRect(0, 0, N, N);
      [seen, recon, strip].forEach((c) => { const q = c.getContext("2d"); q.fillStyle = "#000"; q.fillRect(0, 0, c.width, c.height); });
    }
    blank();
    g.strokeStyle = "#fff"; g.lineWidth = d.line_width; g.lineCap = "round"; g.lineJoin = "round";
    let drawing = false, prev = null, strokes = 0;
    const at = (e) => { const r = pad.getBoundingClientRect(); return [((e.clientX - r.left) / r.width) * N, ((e.clientY - r.top) / r.height) * N]; };
    pad.addEventListener("pointerdown", (e) => {
      drawing = true; prev = at(e);
      try { pad.setPointerCapture(e.pointerId); } catch (err) { /* synthetic events have no capture */ }
      g.beginPath(); g.moveTo(prev[0], prev[1]); g.lineTo(prev[0] + 0.01, prev[1]); g.stroke();
      e.preventDefault();
    });
    pad.addEventListener("pointermove", (e) => {
      if (!drawing) return;
      const p = at(e);
      g.beginPath(); g.moveTo(prev[0], prev[1]); g.lineTo(p[0], p[1]); g.stroke();
      prev = p;
    });
    const end = () => { if (!drawing) return; drawing = false; strokes += 1; process(); };
    pad.addEventListener("pointerup", end);
    pad.addEventListener("pointercancel", end);
    pad.addEventListener("pointerleave", end);
    clear.addEventListener("click", () => {
      blank(); showPosterior(null); strokes = 0;
      post.textContent = "draw a digit to see its posterior";
      root.dataset.strokes = "0";
      delete last[root.id + ":draw"];
    });

    const process = coalesce(() => timed(root.id + ":draw", async () => {
      const data = g.getImageData(0, 0, N, N).data;
      const ink = new Float64Array(N * N);
      for (let i = 0; i < N * N; i++) ink[i] = data[4 * i] / 255;
      const x = preprocess(ink, N, N, d.box, d.size);
      drawImage(seen, x, im, 0, 0, seen.width, seen.height);
      const { mu, sigma } = await encode(x);
      const xhat = await decodeAt(mu);
      drawImage(recon, xhat, im, 0, 0, recon.width, recon.height);
      const eps = normals(12345);
      const samples = [];
      for (let k = 0; k < d.samples; k++) {
        const zk = [mu[0] + sigma[0] * eps(), mu[1] + sigma[1] * eps()];
        samples.push(zk);
        drawImage(strip, await decodeAt(zk), im, k * 56, 0, 56, 56);
      }
      post.textContent = "mu = (" + mu[0].toFixed(2) + ", " + mu[1].toFixed(2) + "), sigma = ("
        + sigma[0].toFixed(2) + ", " + sigma[1].toFixed(2) + ")";
      showPosterior({ mu, sigma, samples });
      last[root.id + ":draw"] = { x: Array.from(x), mu, sigma, recon: Array.from(xhat), samples };
      root.dataset.strokes = String(strokes);
    }));
  }

  // ------------------------------------ pictures at a few values (no WebAssembly)

  /* A slider over figures the chapter drew in Python at each value (figure_frames):
   * every picture is fetched once, then a move only swaps the one shown. */
  async function setupFrames(root) {
    const specUrl = new URL(root.dataset.spec, document.baseURI);
    const spec = await (await fetch(specUrl)).json();
    const urls = spec.frames.map((f) => new URL(f.file, specUrl).href);
    await Promise.all(urls.map((u) => { const im = new Image(); im.src = u; return im.decode(); }));
    const caption = takeCaption(root);
    const n = spec.values.length, unit = spec.unit ? " " + spec.unit : "";
    const slider = el("input", { type: "range", min: 0, max: n - 1, step: 1, value: spec.start,
      class: "course-slider-range" });
    const readout = el("span", { class: "course-slider-value" });
    const controls = el("div", { class: "course-slider-controls" });
    controls.append(labelled(spec.label, slider, readout));
    const img = el("img", { class: "course-frame" });
    root.append(controls, img, caption || el("p", { class: "course-caption" },
      "Move the slider (or click it and use the arrow keys) to change " + spec.label + " through "
      + spec.values.join(", ") + unit + ": each picture is the chapter's figure drawn at that value."));
    stats[root.id] = [];

    async function show() {
      const i = Number(slider.value), f = spec.frames[i];
      const text = spec.label + " = " + spec.values[i] + unit;
      readout.textContent = "= " + spec.values[i] + unit;
      slider.setAttribute("aria-valuetext", text);
      await timed(root.id, async () => {
        img.src = urls[i];
        img.width = f.width;
        img.alt = "the figure at " + text;
        await img.decode();
      });
      last[root.id] = { index: i, value: spec.values[i], file: f.file };
      root.dataset.value = spec.values[i];
    }
    slider.addEventListener("input", coalesce(show));
    await show();
    root.dataset.state = "ready";
  }

  // ------------------------- chapter 4: q against the exact posterior (closed form)

  /* z ~ N(0, 1), x | z ~ N(w z, noise^2), one observed x and q = N(mu, sigma^2): the
   * same terms as course_lib.q_posterior_terms, in double precision. */
  function gaussianTerms(model, mu, sigma) {
    const { x, w, noise } = model, s2 = noise * noise, v = sigma * sigma;
    const postVar = 1 / (1 + (w * w) / s2), postMean = (postVar * w * x) / s2;
    const evidenceVar = w * w + s2;
    const logPx = -0.5 * Math.log(2 * Math.PI * evidenceVar) - (x * x) / (2 * evidenceVar);
    const recon = -0.5 * Math.log(2 * Math.PI * s2) - ((x - w * mu) ** 2 + w * w * v) / (2 * s2);
    const klPrior = 0.5 * (v + mu * mu - 1) - Math.log(sigma);
    const klPost = 0.5 * Math.log(postVar / v) + (v + (mu - postMean) ** 2) / (2 * postVar) - 0.5;
    return { log_px: logPx, elbo: recon - klPrior, kl_post: klPost, recon, kl_prior: klPrior,
      post_mean: postMean, post_std: Math.sqrt(postVar) };
  }

  function gaussPdf(z, mean, std) { return Math.exp(-0.5 * ((z - mean) / std) ** 2) / (std * Math.sqrt(2 * Math.PI)); }

  /* Round tick values for the interval [lo, hi], about n of them. */
  function ticks(lo, hi, n) {
    const raw = (hi - lo) / n, mag = 10 ** Math.floor(Math.log10(raw));
    const step = [1, 2, 5, 10].map((k) => k * mag).find((k) => k >= raw);
    const out = [];
    for (let t = Math.ceil(lo / step) * step; t <= hi + 1e-9; t += step) out.push(Math.abs(t) < 1e-12 ? 0 : t);
    return out;
  }

  async function setupGaussianPosterior(root) {
    const specUrl = new URL(root.dataset.spec, document.baseURI);
    const spec = await (await fetch(specUrl)).json();
    const caption = takeCaption(root);
    const colours = theme();
    const slider = (p) => el("input", { type: "range", min: p.min, max: p.max, step: p.step, value: p.value,
      class: "course-slider-range" });
    const muSlider = slider(spec.mu), sigmaSlider = slider(spec.sigma);
    const muOut = el("span", { class: "course-slider-value" }), sigmaOut = el("span", { class: "course-slider-value" });
    const controls = el("div", { class: "course-slider-controls" });
    controls.append(labelled("mean of q, \u03bc", muSlider, muOut), labelled("standard deviation of q, \u03c3", sigmaSlider, sigmaOut));
    // the canvas is as wide as the column (at most 640 CSS px), so that its 12 px labels stay
    // 12 px on a phone instead of shrinking with a scaled-down picture
    const W = Math.max(280, Math.min(640, Math.floor(root.clientWidth || 640)));
    const H = Math.round(Math.max(220, 0.47 * W)), L = 52, R = 12, T = 12, B = 40;   // and margins
    const ratio = Math.min(2, window.devicePixelRatio || 1);
    const canvas = el("canvas", { width: W * ratio, height: H * ratio, class: "course-slider-canvas", role: "img",
      "aria-label": "densities of q, the exact posterior and the prior over z" });
    canvas.style.width = W + "px";
    const legend = el("div", { class: "course-legend" });
    [["posterior p(z | x)", colours.text], ["prior p(z)", "#8a8a8a"], ["q(z)", "#ff7f0e"]].forEach(([t, c]) => {
      const item = el("span", {});
      const sw = el("span", { class: "course-swatch" });
      sw.style.background = c;
      item.append(sw, t);
      legend.append(item);
    });
    const numbers = el("table", { class: "course-numbers" });
    const rows = [["log p(x)", "log_px", "the evidence (does not depend on q)"],
      ["ELBO", "elbo", "= log p(x) \u2212 KL(q \u2016 posterior) = E_q log p(x | z) \u2212 KL(q \u2016 prior)"],
      ["KL(q \u2016 posterior)", "kl_post", "the gap between log p(x) and the ELBO"],
      ["E_q log p(x | z)", "recon", "expected reconstruction term"],
      ["KL(q \u2016 prior)", "kl_prior", "the rate"]];
    const cells = {};
    rows.forEach(([name, key, note]) => {
      const tr = el("tr", {});
      cells[key] = el("td", { class: "course-readout" });
      tr.append(el("th", { scope: "row" }, name), cells[key], el("td", { class: "course-note" }, note));
      numbers.append(tr);
    });
    numbers.setAttribute("aria-live", "polite");
    root.append(controls, canvas, legend, numbers, caption || el("p", { class: "course-caption" },
      "Move the sliders (or click one and use the arrow keys): the ELBO reaches log p(x) only when q "
      + "lies on the posterior, and the gap is the KL between them. Values in nats."));
    stats[root.id] = [];
    const [z0, z1] = spec.axes.z, [d0, d1] = spec.axes.density;
    const px = (z) => L + ((z - z0) / (z1 - z0)) * (W - L - R);
    const py = (d) => T + (1 - (Math.min(d, d1 * 1.02) - d0) / (d1 - d0)) * (H - T - B);
    const g = canvas.getContext("2d");

    function axes() {
      g.strokeStyle = colours.border; g.fillStyle = colours.muted; g.lineWidth = 1;
      g.font = "12px sans-serif"; g.textAlign = "center"; g.textBaseline = "top";
      g.beginPath(); g.moveTo(L, T); g.lineTo(L, H - B); g.lineTo(W - R, H - B); g.stroke();
      ticks(z0, z1, 8).forEach((t) => { g.fillText(String(+t.toFixed(2)), px(t), H - B + 4); });
      g.fillText("z", (L + W - R) / 2, H - 16);
      g.textAlign = "right"; g.textBaseline = "middle";
      ticks(d0, d1, 4).forEach((t) => { g.fillText(String(+t.toFixed(2)), L - 6, py(t)); });
      g.save(); g.translate(14, (T + H - B) / 2); g.rotate(-Math.PI / 2); g.textAlign = "center";
      g.fillText("density", 0, 0); g.restore();
    }

    function curve(f, colour, dash, fill) {
      const n = 240;
      g.beginPath();
      for (let i = 0; i <= n; i++) {
        const z = z0 + (i / n) * (z1 - z0);
        if (i) g.lineTo(px(z), py(f(z))); else g.moveTo(px(z), py(f(z)));
      }
      g.setLineDash(dash); g.strokeStyle = colour; g.lineWidth = 2; g.stroke(); g.setLineDash([]);
      if (fill) {
        g.lineTo(px(z1), py(0)); g.lineTo(px(z0), py(0)); g.closePath();
        g.fillStyle = fill; g.fill();
      }
    }

    function draw() {
      const mu = Number(muSlider.value), sigma = Number(sigmaSlider.value);
      const t = gaussianTerms(spec.model, mu, sigma);
      muOut.textContent = "= " + mu.toFixed(2);
      sigmaOut.textContent = "= " + sigma.toFixed(2);
      muSlider.setAttribute("aria-valuetext", "mu = " + mu.toFixed(2));
      sigmaSlider.setAttribute("aria-valuetext", "sigma = " + sigma.toFixed(2));
      const start = performance.now();
      g.setTransform(ratio, 0, 0, ratio, 0, 0);
      g.fillStyle = colours.background; g.fillRect(0, 0, W, H);
      g.save(); g.beginPath(); g.rect(L, T, W - L - R, H - T - B); g.clip();
      curve((z) => gaussPdf(z, mu, sigma), "#ff7f0e", [], "rgba(255, 127, 14, 0.3)");
      curve((z) => gaussPdf(z, 0, 1), "#8a8a8a", [3, 3]);
      curve((z) => gaussPdf(z, t.post_mean, t.post_std), colours.text, []);
      g.restore();
      axes();
      rows.forEach(([, key]) => { cells[key].textContent = t[key].toFixed(3) + " nats"; });
      (stats[root.id] = stats[root.id] || []).push(performance.now() - start);
      last[root.id] = { mu, sigma, ...t };
      root.dataset.value = mu.toFixed(2) + "," + sigma.toFixed(2);
    }
    let queued = false;                  // one redraw per frame, however many inputs came
    const schedule = () => {
      if (queued) return;
      queued = true;
      requestAnimationFrame(() => { queued = false; draw(); });
    };
    muSlider.addEventListener("input", schedule);
    sigmaSlider.addEventListener("input", schedule);
    draw();
    widgets[root.id] = { terms: (mu, sigma) => gaussianTerms(spec.model, mu, sigma) };
    root.dataset.state = "ready";
  }

  // ------------------------------------------------------------------ start-up

  const KINDS = { "course-latent-slider": setupSlider, "course-latent-plane": setupPlane,
    "course-frames": setupFrames, "course-gaussian-posterior": setupGaussianPosterior };
  const NEEDS_WASM = new Set(["course-latent-slider", "course-latent-plane"]);
  const SELECTOR = Object.keys(KINDS).map((k) => "." + k).join(", ");

  async function setup(root) {
    if (root.dataset.state && root.dataset.state !== "waiting") return;
    root.dataset.state = "loading";
    injectStyle();
    root.classList.add("course-inpage");
    const kind = Object.keys(KINDS).find((k) => root.classList.contains(k));
    if (NEEDS_WASM.has(kind) && typeof WebAssembly !== "object") { fail(root, "this browser has no WebAssembly"); return; }
    try {
      await KINDS[kind](root);
    } catch (err) {
      fail(root, String(err && err.message || err));
    }
  }

  // start loading a little before the widget scrolls into view
  const observer = typeof IntersectionObserver === "function"
    ? new IntersectionObserver((entries) => {
        entries.forEach((entry) => {
          if (entry.isIntersecting) { observer.unobserve(entry.target); setup(entry.target); }
        });
      }, { rootMargin: "300px 0px" })
    : null;

  function initAll() {
    injectStyle();
    document.querySelectorAll(SELECTOR).forEach((root) => {
      if (root.dataset.state) return;
      root.classList.add("course-inpage");
      if (observer) { root.dataset.state = "waiting"; observer.observe(root); }
      else setup(root);
    });
  }
  window.CourseLatentSlider = { initAll, setup, preprocess, widgets, SELECTOR };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", initAll);
  else initAll();
})();
