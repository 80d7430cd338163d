"""Build the Jupyter Book with the notebooks executed under one run profile.

jupyter-cache keys a notebook on its code cells only, so on its own it would
keep showing figures made by an older course_lib or another profile. This
script gives every (profile, course_lib contents) pair its own cache folder,
writes a copy of _config.yml that points at it, and runs ``jupyter-book build``
with warnings as errors.

    python tools/build_book.py --profile cpu            # -> _build/html
    python tools/build_book.py --profile smoke --out _build/smoke
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def course_lib_hash(package: Path = ROOT / "course_lib") -> str:
    """sha256 over the package's source files (names and contents)."""
    h = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
        h.update(path.relative_to(package).as_posix().encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:12]


def cache_folder(profile: str, package: Path = ROOT / "course_lib") -> Path:
    """The jupyter-cache folder for this profile and this version of course_lib."""
    return ROOT / "_build" / ".jupyter_cache" / f"{profile}-{course_lib_hash(package)}"


def add_favicon_to_redirect(index: Path) -> None:
    """Jupyter Book's root index.html is a bare redirect without a favicon link, so
    the browser asks for /favicon.ico and logs a 404; point it at the book's icon."""
    if index.is_file() and 'rel="icon"' not in (text := index.read_text()):
        index.write_text('<link rel="icon" href="_static/favicon.svg" type="image/svg+xml" />\n' + text)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default=None, help="smoke, cpu or full (default: $COURSE_PROFILE or auto)")
    parser.add_argument("--out", default="_build", help="output folder (HTML goes to OUT/html)")
    parser.add_argument("--all", action="store_true", help="rebuild every page (not only changed ones)")
    args = parser.parse_args(argv)

    sys.path.insert(0, str(ROOT))
    from course_lib.profiles import profile_name
    from tools.vendor import vendor

    profile = profile_name(args.profile)
    out = (ROOT / args.out).resolve()
    cache = cache_folder(profile)
    caches = cache.parent
    # Older caches of the same profile belong to an older course_lib: drop them.
    for old in caches.glob(f"{profile}-*"):
        if old != cache:
            shutil.rmtree(old, ignore_errors=True)

    vendor()  # MathJax and the widget manager, served by the book itself (offline)
    # Decoders exported by the chapters for in-page sliders (course_lib.export) go
    # to <out>/assets_root/assets/, served at <site>/assets/. A cached notebook is
    # not re-executed, so if those files are gone the cache must go too.
    assets = out / "assets_root" / "assets"
    if not assets.is_dir():
        shutil.rmtree(cache, ignore_errors=True)
        assets.mkdir(parents=True)
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    config["execute"]["cache"] = str(cache)
    sphinx_config = config.setdefault("sphinx", {}).setdefault("config", {})
    sphinx_config["html_extra_path"] = list(sphinx_config.get("html_extra_path", [])) + [str(assets.parent)]
    # jupyter-book resolves local extension folders against the config file's folder
    exts = config.get("sphinx", {}).get("local_extensions") or {}
    for name, folder in exts.items():
        exts[name] = str(ROOT / folder)
    out.mkdir(parents=True, exist_ok=True)
    generated = out / f"_config.{profile}.yml"
    generated.write_text(yaml.safe_dump(config, sort_keys=False))

    env = dict(os.environ, COURSE_PROFILE=profile, COURSE_PROGRESS="0", COURSE_SITE_ASSETS=str(assets),
               COURSE_BOOK_BUILD="1",  # cl.glue writes the values for the glue roles
               PYDEVD_DISABLE_FILE_VALIDATION="1")
    # jupyter-book puts its HTML in <path-output>/_build/html; build in a staging
    # folder and move the result so that the site ends up in OUT/html.
    stage = out / ".stage"
    cmd = [str(Path(sys.executable).parent / "jupyter-book"), "build", str(ROOT), "--config", str(generated),
           "--toc", str(ROOT / "_toc.yml"), "--path-output", str(stage), "-W", "-n", "--keep-going"]
    if args.all:
        cmd.append("--all")
    print(f"building the book with profile {profile!r}; cache {cache.relative_to(ROOT)}", flush=True)
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=env)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        print(f"\nbook build FAILED after {seconds:.0f} s (see the messages above; executed notebooks "
              f"that failed have their traceback under {stage}/_build/html/reports)", file=sys.stderr)
        return proc.returncode
    html = out / "html"
    if html.exists():
        shutil.rmtree(html)
    shutil.copytree(stage / "_build" / "html", html)
    # Files that must sit beside the chapter pages (the widget manager's icon fonts,
    # see tools/vendor.py); Sphinx's html_extra_path does not copy into chapters/.
    shutil.copytree(ROOT / "_build" / "vendor_root" / "chapters", html / "chapters", dirs_exist_ok=True)
    add_favicon_to_redirect(html / "index.html")
    print(f"\nbook built in {seconds:.0f} s (profile {profile}): {html / 'index.html'}")
    print(f"serve it with:  python -m http.server -d {os.path.relpath(html, Path.cwd())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
