/* In-page latent sliders for the static book (see course_lib/export.py).
 *
 * Each <div class="course-latent-slider" data-spec="...json"> gets a preset
 * picker, a slider and a canvas. The decoder runs in the browser with
 * onnxruntime-web (WebAssembly backend, one thread, files served by the book
 * itself). Every decoder input follows a line: input(s) = a + s * b.
 *
 * Nothing heavy loads with the page: a slider fetches its spec, onnxruntime
 * (about 14 MB of WebAssembly, shared by the sliders of a page) and its decoder
 * only when it comes near the viewport (IntersectionObserver). Until then its
 * data-state is "waiting"; then "loading", and "ready" or "failed".
 */
(function () {
  "use strict";
  if (window.CourseLatentSlider) { window.CourseLatentSlider.initAll(); return; }

  // per slider id: decode times in ms (benchmarks) and the last decoded output (tests)
  const stats = (window.__courseSliderStats = window.__courseSliderStats || {});
  const last = (window.__courseSliderLast = window.__courseSliderLast || {});
  let ortPromise = null;

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

  function fail(root, message) {
    root.innerHTML = "";
    root.appendChild(el("p", { class: "course-slider-fallback" },
      "Interactive figure unavailable here (" + message + "). The static figure above shows the same."));
    root.dataset.state = "failed";
  }

  function sigmoid(v) { return 1 / (1 + Math.exp(-v)); }

  async function setup(root) {
    if (root.dataset.state && root.dataset.state !== "waiting") return;
    root.dataset.state = "loading";
    if (typeof WebAssembly !== "object") { fail(root, "this browser has no WebAssembly"); return; }
    let spec, ort, session;
    try {
      const specUrl = new URL(root.dataset.spec, document.baseURI);
      spec = await (await fetch(specUrl)).json();
      ort = await loadOrt(root.dataset.vendor || "../vendor");
      session = await ort.InferenceSession.create(new URL(spec.model, specUrl).href,
        { executionProviders: ["wasm"] });
    } catch (err) {
      fail(root, String(err && err.message || err));
      return;
    }
    const p = spec.param;
    root.innerHTML = "";
    const controls = el("div", { class: "course-slider-controls" });
    const picker = el("select", { class: "course-slider-preset", "aria-label": "example" });
    spec.presets.forEach((preset, i) => picker.appendChild(el("option", { value: String(i) }, preset.label)));
    const slider = el("input", { type: "range", min: p.min, max: p.max, step: p.step, value: p.min,
      class: "course-slider-range", "aria-label": p.label });
    const readout = el("span", { class: "course-slider-value" });
    controls.append(el("label", {}, "example "), picker, el("label", {}, "  " + p.label + " "), slider, readout);
    const isImage = spec.kind === "image";
    const size = isImage ? 224 : 320;
    const canvas = el("canvas", { width: size, height: size, class: "course-slider-canvas" });
    const strip = el("canvas", { width: isImage ? 9 * 56 : 1, height: isImage ? 56 : 1, class: "course-slider-strip" });
    controls.style.margin = "0.5em 0";
    [canvas, strip].forEach((c) => { c.style.border = "1px solid #ccc"; c.style.display = "block"; c.style.marginBottom = "0.4em"; });
    root.append(controls, canvas);
    if (isImage) root.append(strip);
    const ctx = canvas.getContext("2d");
    const times = (stats[root.id] = []);

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

    function drawImage(target, values, x0, y0, w, h) {
      const im = spec.image, c = im.channels, H = im.height, W = im.width;
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
        for (let i = 0; i < n; i++) drawImage(strip, await decode(values[i]), i * 56, 0, 56, 56);
      } else {
        path = [];
        const m = 41;
        for (let i = 0; i < m; i++) path.push(await decode(p.min + (i / (m - 1)) * (p.max - p.min)));
      }
    }

    async function redraw() {
      const s = Number(slider.value);
      readout.textContent = s.toFixed(2);
      const start = performance.now();
      const values = await decode(s);
      times.push(performance.now() - start);
      last[root.id] = Array.from(values);
      if (isImage) {
        drawImage(canvas, values, 0, 0, size, size);
        const g = strip.getContext("2d");
        const pos = ((s - p.min) / (p.max - p.min)) * (strip.width - 56);
        await redrawStripMarker(g, pos);
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

    let stripImage = null;
    async function redrawStripMarker(g, pos) {
      if (!stripImage) stripImage = g.getImageData(0, 0, strip.width, strip.height);
      g.putImageData(stripImage, 0, 0);
      g.strokeStyle = "#d62728";
      g.lineWidth = 3;
      g.strokeRect(pos + 1.5, 1.5, 53, 53);
    }

    let busy = false, pending = false;
    async function schedule() {
      if (busy) { pending = true; return; }
      busy = true;
      try { await redraw(); } finally { busy = false; }
      if (pending) { pending = false; schedule(); }
    }
    slider.addEventListener("input", schedule);
    picker.addEventListener("change", async () => { stripImage = null; await redrawStatic(); await schedule(); });
    await redrawStatic();
    await redraw();
    root.dataset.state = "ready";
  }

  // start loading a little before the slider scrolls into view
  const observer = typeof IntersectionObserver === "function"
    ? new IntersectionObserver((entries) => {
        entries.forEach((entry) => {
          if (entry.isIntersecting) { observer.unobserve(entry.target); setup(entry.target); }
        });
      }, { rootMargin: "300px 0px" })
    : null;

  function initAll() {
    document.querySelectorAll(".course-latent-slider").forEach((root) => {
      if (root.dataset.state) return;
      if (observer) { root.dataset.state = "waiting"; observer.observe(root); }
      else setup(root);
    });
  }
  window.CourseLatentSlider = { initAll, setup };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", initAll);
  else initAll();
})();
