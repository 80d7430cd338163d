"""Run chapters from a student's seat: a bare Jupyter with only what the course declares.

    python tools/isolated_run.py [CHAPTER ...] [--profile smoke] [--out bench/results/colab.json]

(``make colab-check`` runs all ten chapters.) As on Colab, Kaggle or a class JupyterHub:

1. a fresh virtual environment that sees nothing of this one (no ``.pth`` bridge, no
   ``--system-site-packages``) receives only the Jupyter kernel (``ipykernel``);
2. the course is built into a wheel from a copy of this checkout, and the chapter's own
   first cell installs it with pip, with the dependencies that ``pyproject.toml``
   declares (``COURSE_INSTALL_SOURCE`` points the cell at the wheel);
3. each chapter is copied alone into an empty folder outside the repository and
   executed there, top to bottom, by a kernel of that environment.

The first chapter pays for the install (its bootstrap cell's time is reported apart);
the others find the course installed. The data sets are read from ``data/`` (or
``$COURSE_DATA``) so that nothing is fetched twice; everything else comes from the new
environment. tests/test_outside_repo.py runs one chapter this way inside ``make test``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
import venv
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = sorted((ROOT / "chapters").glob("*.ipynb"))
KERNEL_NAME = "course-bare"
#: variables of this environment that must not reach the bare one
LEAKY = ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "CONDA_PREFIX", "JUPYTER_PATH",
         "COURSE_STRICT", "COURSE_BOOK_BUILD", "COURSE_SITE_ASSETS", "MPLBACKEND")


@dataclass
class BareEnv:
    """A fresh environment: its interpreter, the Jupyter path holding its kernel spec,
    the course wheel the chapters install, and how long making it took."""

    python: Path
    jupyter_path: Path
    wheel: Path
    seconds: float

    def environ(self, profile: str, data: Path) -> dict[str, str]:
        """The kernel's environment: this process's, less what would leak this
        environment into the bare one, with the bare interpreter first on PATH."""
        env = {k: v for k, v in os.environ.items() if k not in LEAKY}
        env["PATH"] = f"{self.python.parent}{os.pathsep}{env.get('PATH', '')}"
        env.update(COURSE_PROFILE=profile, COURSE_INSTALL_SOURCE=str(self.wheel), COURSE_DATA=str(data),
                   PYDEVD_DISABLE_FILE_VALIDATION="1")
        return env


def _run(cmd: list, **kw) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kw)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, cmd))} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return proc


def build_wheel(folder: Path) -> Path:
    """The course as a wheel, built from a copy of this checkout's package files (so the
    build leaves nothing in the tree; resume states of training runs stay out)."""
    source = folder / "course-source"
    shutil.rmtree(source, ignore_errors=True)
    source.mkdir(parents=True)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / "course_lib", source / "course_lib",
                    ignore=shutil.ignore_patterns("__pycache__", "*.resume.pt"))
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", folder / "wheel", source])
    return next((folder / "wheel").glob("course_lib-*.whl"))


def make_bare_env(folder: Path) -> BareEnv:
    """A new virtual environment in ``folder/env`` holding only ``ipykernel`` (what
    Colab's or any Jupyter's kernel has), a kernel spec for it, and the course wheel."""
    start = time.perf_counter()
    env_dir = folder / "env"
    venv.EnvBuilder(with_pip=True, clear=True, system_site_packages=False).create(env_dir)
    python = env_dir / "bin" / "python"
    _run([python, "-m", "pip", "install", "-q", "ipykernel"])
    isolated = _run([python, "-c", "import importlib.util as u, sys; "
                     "print([m for m in ('course_lib', 'torch', 'myst_nb', 'pytest') if u.find_spec(m)], "
                     "sys.flags.no_user_site or not __import__('site').ENABLE_USER_SITE)"], cwd=folder)
    if isolated.stdout.strip() != "[] True":
        raise RuntimeError(f"the new environment is not bare: {isolated.stdout.strip()}")
    spec = folder / "jupyter" / "kernels" / KERNEL_NAME
    spec.mkdir(parents=True, exist_ok=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "bare course environment", "language": "python"}))
    wheel = build_wheel(folder)
    return BareEnv(python, folder / "jupyter", wheel, time.perf_counter() - start)


def _cell_seconds(cell) -> float | None:
    timing = cell.get("metadata", {}).get("execution", {})
    start, end = timing.get("iopub.execute_input"), timing.get("shell.execute_reply")
    if not (start and end):
        return None
    parse = lambda s: datetime.fromisoformat(s.replace("Z", "+00:00"))  # noqa: E731
    return (parse(end) - parse(start)).total_seconds()


def run_chapter(chapter: Path, env: BareEnv, folder: Path, *, profile: str = "smoke",
                data: Path | None = None, extra_cells: list[str] = (), timeout: int = 1800) -> dict:
    """Execute ``chapter`` alone in ``folder/<stem>`` with the bare kernel. Returns the
    executed notebook's outputs as text, the seconds of the whole run and of its
    bootstrap (install) cell, and the error if a cell failed."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    work = folder / chapter.stem
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    shutil.copy(chapter, work / chapter.name)
    nb = nbformat.read(str(work / chapter.name), as_version=4)
    nb.cells += [nbformat.v4.new_code_cell(src) for src in extra_cells]
    data = Path(data or os.environ.get("COURSE_DATA") or ROOT / "data")
    previous = os.environ.get("JUPYTER_PATH")
    os.environ["JUPYTER_PATH"] = str(env.jupyter_path)  # where the client finds the kernel spec
    client = NotebookClient(nb, kernel_name=KERNEL_NAME, timeout=timeout,
                            resources={"metadata": {"path": str(work)}})
    error, start = None, time.perf_counter()
    try:
        client.execute(env=env.environ(profile, data))
    except CellExecutionError as err:
        error = str(err).strip().splitlines()[-1][:500]
    finally:
        if previous is None:
            os.environ.pop("JUPYTER_PATH", None)
        else:
            os.environ["JUPYTER_PATH"] = previous
    seconds = time.perf_counter() - start
    bootstrap = next((c for c in nb.cells if "bootstrap" in c.get("metadata", {}).get("tags", [])), None)
    text = "\n".join("".join(o.get("text", "")) for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    return {"chapter": chapter.stem, "ok": error is None, "error": error, "seconds": round(seconds, 1),
            "bootstrap_seconds": _cell_seconds(bootstrap) if bootstrap is not None else None, "text": text}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("chapters", nargs="*", help="chapter notebooks (default: all)")
    parser.add_argument("--profile", default="smoke", choices=["smoke", "cpu", "full"])
    parser.add_argument("--work", default=None, help="scratch folder (default: a new temporary one, removed after)")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "colab.json"),
                        help="results file (JSON), read by the Running costs page")
    args = parser.parse_args(argv)
    chapters = [Path(c).resolve() for c in args.chapters] or CHAPTERS
    import tempfile

    folder = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="course-bare-"))
    try:
        print(f"making a bare environment in {folder} ...", flush=True)
        env = make_bare_env(folder)
        print(f"  ipykernel and the course wheel in {env.seconds:.0f} s", flush=True)
        results = []
        for chapter in chapters:
            r = run_chapter(chapter, env, folder / "work", profile=args.profile)
            r.pop("text")
            results.append(r)
            install = f" (install {r['bootstrap_seconds']:.0f} s)" if (r["bootstrap_seconds"] or 0) > 5 else ""
            print(f"  {r['chapter']}: {'ok' if r['ok'] else 'FAILED: ' + r['error']} "
                  f"in {r['seconds']:.0f} s{install}", flush=True)
    finally:
        if not args.work:
            shutil.rmtree(folder, ignore_errors=True)
    from bench.machine import stamp, write_result  # the same machine record as the benchmarks

    report = {**stamp(), "profile": args.profile, "env_seconds": round(env.seconds, 1),
              "install_seconds": next((r["bootstrap_seconds"] for r in results if r["bootstrap_seconds"]), None),
              "chapters": results, "passed": sum(r["ok"] for r in results), "total": len(results)}
    write_result(args.out, report)
    print(f"{report['passed']} of {report['total']} chapters ran in a bare environment; wrote {args.out}")
    return 0 if report["passed"] == report["total"] else 1


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
