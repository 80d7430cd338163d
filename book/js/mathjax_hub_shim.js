/* MathJax 2 -> 3 bridge for the ipywidgets HTML manager.
 *
 * @jupyter-widgets/html-manager 1.x typesets widget labels with MathJax 2's
 * `MathJax.Hub.Queue(["Typeset", MathJax.Hub, element])`; the book loads
 * MathJax 3, which has no `Hub`. This script runs before MathJax and keeps a
 * small `Hub` on whatever object `window.MathJax` holds (the inline
 * configuration first, then MathJax 3 itself), translating "Typeset" requests
 * into MathJax 3's `typesetPromise`. Elements queued before MathJax 3 is ready
 * are typeset once it is.
 */
(function () {
  "use strict";
  var current = window.MathJax;
  var waiting = [];

  function ready() {
    return current && typeof current.typesetPromise === "function";
  }

  function typeset(elements) {
    var start = current.startup && current.startup.promise ? current.startup.promise : Promise.resolve();
    start.then(function () { return current.typesetPromise(elements); })
      .catch(function (err) { console.warn("MathJax could not typeset a widget label:", err); });
  }

  function flush() {
    if (!waiting.length) return;
    if (!ready()) { setTimeout(flush, 200); return; }
    var elements = waiting;
    waiting = [];
    typeset(elements);
  }

  var hub = {
    Queue: function () {
      for (var i = 0; i < arguments.length; i++) {
        var job = arguments[i];
        if (Array.isArray(job) && job[0] === "Typeset" && job[2]) waiting.push(job[2]);
      }
      flush();
    }
  };

  function attach(value) {
    if (value && typeof value === "object" && !("Hub" in value)) {
      // not enumerable, so MathJax 3 does not read it as a configuration key
      Object.defineProperty(value, "Hub", { value: hub, configurable: true, enumerable: false });
    }
    return value;
  }

  attach(current);
  Object.defineProperty(window, "MathJax", {
    configurable: true,
    enumerable: true,
    get: function () { return current; },
    set: function (value) { current = attach(value); }
  });
})();
