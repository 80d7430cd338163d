"""Vendor the JavaScript the book needs so that it renders with no network:
MathJax 3, the ipywidgets HTML manager, RequireJS and onnxruntime-web (plus the
course's own scripts from book/js/), from the npm packages
pinned in package.json/package-lock.json, into _build/vendor_root/vendor/.
_config.yml serves that folder through html_extra_path and points mathjax_path
and nb_ipywidgets_js at it. These files are build outputs, never committed.

    python tools/vendor.py        # runs `npm ci` first when node_modules is stale
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NODE = ROOT / "node_modules"
DEST = ROOT / "_build" / "vendor_root" / "vendor"

# (source under node_modules, destination under vendor/, glob patterns or None for everything)
ASSETS = [
    ("mathjax/es5", "mathjax/es5", None),
    ("@jupyter-widgets/html-manager/dist", "html-manager",
     ["embed-amd.js", "*.woff", "*.woff2", "*.ttf", "*.eot", "*.svg"]),
    ("requirejs/require.js", "require.js", None),
    ("onnxruntime-web/dist", "ort",
     ["ort.wasm.min.mjs", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm"]),
]
# The course's own scripts (committed under book/js/), refreshed at every build.
OWN = ROOT / "book" / "js"


def npm_install() -> None:
    stamp = NODE / ".package-lock.json"
    lock = ROOT / "package-lock.json"
    if stamp.exists() and stamp.stat().st_mtime >= lock.stat().st_mtime:
        return
    npm = shutil.which("npm")
    if npm is None:
        sys.exit("error: the book vendors MathJax and the widget manager with npm, and npm is not on "
                 "PATH (install Node.js, e.g. `apt-get install npm`)")
    print("installing the book's JavaScript assets with `npm ci` ...", flush=True)
    subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error"],
                   cwd=ROOT, check=True)


def vendor() -> Path:
    npm_install()
    for src, dst, patterns in ASSETS:
        source, target = NODE / src, DEST / dst
        if not source.exists():
            sys.exit(f"error: {source} is missing after npm ci")
        if target.exists():
            continue  # already vendored (delete _build/vendor_root to refresh)
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_file():
            shutil.copy2(source, target)
        elif patterns is None:
            shutil.copytree(source, target)
        else:
            target.mkdir()
            for pattern in patterns:
                for f in source.glob(pattern):
                    shutil.copy2(f, target / f.name)
    # The widget manager's bundle asks for its icon fonts relative to the page
    # (<page dir>/@jupyter-widgets/html-manager/dist/...); widget pages live in
    # chapters/, so the fonts are served there as well.
    # (seen requested both under @jupyter-widgets/ and @jupyter-widgets/html-manager/dist/).
    for fonts in (DEST.parent / "chapters" / "@jupyter-widgets" / "html-manager" / "dist",
                  DEST.parent / "chapters" / "@jupyter-widgets"):
        fonts.mkdir(parents=True, exist_ok=True)
        for pattern in ("*.woff", "*.woff2", "*.ttf", "*.eot", "*.svg"):
            for f in (NODE / "@jupyter-widgets/html-manager/dist").glob(pattern):
                if not (fonts / f.name).exists():
                    shutil.copy2(f, fonts / f.name)
    own = DEST / "course"
    own.mkdir(parents=True, exist_ok=True)
    for f in OWN.glob("*.js"):
        shutil.copy2(f, own / f.name)
    return DEST


if __name__ == "__main__":
    print(f"vendored into {vendor()}")
