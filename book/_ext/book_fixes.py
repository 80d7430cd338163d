"""Small Sphinx fixes for the rendered book.

sphinx-thebe registers its inline configuration script once per read of the
sources, so a page can carry ``const THEBE_JS_URL = ...`` twice, which the
browser rejects ("Identifier 'THEBE_JS_URL' has already been declared"). We
drop repeated script entries from each page's context.

The ipywidgets HTML manager calls MathJax 2's ``MathJax.Hub.Queue``, which the
book's MathJax 3 lacks; ``book/js/mathjax_hub_shim.js`` bridges the two and is
inlined at the top of every page, before MathJax loads.

Kernel widgets (course_lib/widgets.py): myst-nb adds the widget manager
(``nb_ipywidgets_js``: RequireJS and the HTML manager, about 3.6 MB) and the
saved widget state to every page whose notebook has widget state, even when
the chapter hides every widget's output (``remove-output``, where an in-page
slider replaces it). We drop them from pages without a widget view, and on
pages that keep one we add the stylesheet that shows each widget's
``course-static-note`` (hidden in a live notebook): the controls need a kernel.
"""

from pathlib import Path

from docutils import nodes

SHIM = Path(__file__).resolve().parent.parent / "js" / "mathjax_hub_shim.js"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
NOTE_CLASS = "course-static-note"  # course_lib.widgets.STATIC_NOTE_CLASS
WIDGET_CSS = f"""<style>
/* the widget's layout hides the note (display: none) in a live notebook; the book shows it */
.{NOTE_CLASS} {{ display: block !important; max-width: 100%; }}
/* a widget picture never wider than its box (the widget margins included) */
.jupyter-widgets.widget-image {{ max-width: calc(100% - 4px) !important; }}
.{NOTE_CLASS}-text {{ white-space: normal; line-height: 1.45; font-size: 0.9rem; margin: 0.2rem 0 0.5rem;
  padding: 0.45rem 0.75rem; border-left: 4px solid #d9a400; background: #fff8e1; color: #3d3200; }}
</style>"""


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


def has_widget_views(doctree) -> bool:
    """Whether the page shows at least one ipywidgets view (myst-nb renders each as a raw script)."""
    return doctree is not None and any(WIDGET_VIEW in node.astext() for node in doctree.findall(nodes.raw))


def _widget_resources(app, pagename, templatename, context, doctree):
    """The widget manager only where a widget is shown; there, the note's stylesheet."""
    scripts = context.get("script_files")
    if not scripts:
        return
    nb_config = getattr(getattr(app, "env", None), "mystnb_config", None)
    manager = set(getattr(app.config, "nb_ipywidgets_js", None) or ())
    manager |= set(getattr(nb_config, "ipywidgets_js", None) or ())
    names = tuple(str(m).rsplit("/", 1)[-1] for m in manager) or ("require.js", "embed-amd.js")

    def is_widget_js(js) -> bool:
        attributes = getattr(js, "attributes", {}) or {}
        filename = str(getattr(js, "filename", None) or "")
        return (bool(filename) and filename.endswith(names)) or attributes.get("type") == WIDGET_STATE

    if not any(is_widget_js(js) for js in scripts):
        return
    if has_widget_views(doctree):
        context["metatags"] = context.get("metatags", "") + WIDGET_CSS
    else:
        context["script_files"] = [js for js in scripts if not is_widget_js(js)]


def setup(app):
    app.connect("html-page-context", _dedupe_scripts, priority=900)
    app.connect("html-page-context", _widget_resources, priority=901)
    # priority < 500: before MathJax's configuration and MathJax itself
    app.add_js_file(None, body=SHIM.read_text(), priority=100)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
