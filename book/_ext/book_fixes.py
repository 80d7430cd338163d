"""Small Sphinx fixes for the rendered book.

sphinx-thebe registers its inline configuration script once per read of the
sources, so a page can carry ``const THEBE_JS_URL = ...`` twice, which the
browser rejects ("Identifier 'THEBE_JS_URL' has already been declared"). We
drop repeated script entries from each page's context.

The ipywidgets HTML manager calls MathJax 2's ``MathJax.Hub.Queue``, which the
book's MathJax 3 lacks; ``book/js/mathjax_hub_shim.js`` bridges the two and is
inlined at the top of every page, before MathJax loads.
"""

from pathlib import Path

SHIM = Path(__file__).resolve().parent.parent / "js" / "mathjax_hub_shim.js"


def _dedupe_scripts(app, pagename, templatename, context, doctree):
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, unique = set(), []
    for js in scripts:
        attributes = getattr(js, "attributes", {}) or {}
        key = (getattr(js, "filename", None) or "", tuple(sorted((k, str(v)) for k, v in attributes.items())))
        if key not in seen:
            seen.add(key)
            unique.append(js)
    context["script_files"] = unique


def setup(app):
    app.connect("html-page-context", _dedupe_scripts, priority=900)
    # priority < 500: before MathJax's configuration and MathJax itself
    app.add_js_file(None, body=SHIM.read_text(), priority=100)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
