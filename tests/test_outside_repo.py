"""A chapter opened where there is no clone of the course (Colab, Kaggle, a bare
Jupyter): its first cell installs course_lib and the chapter runs to the end.

The test makes a fresh virtual environment in which every dependency of the course
is importable (this environment's site-packages, through a .pth file: torch is not
installed a second time) but course_lib is not, points the bootstrap cell's install
source at a copy of this checkout, and runs chapter 6 under the smoke profile from a
folder outside the repository.
"""

import json
import os
import shutil
import site
import subprocess
import sys
import venv
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
CHAPTER = ROOT / "chapters" / "06_conditional_vae.ipynb"
sys.path.insert(0, str(ROOT / "tools"))
import nbtools  # noqa: E402


@pytest.fixture(scope="module")
def bare_env(tmp_path_factory):
    """(python, source): an interpreter without course_lib and a copy of the course to install."""
    tmp = tmp_path_factory.mktemp("outside")
    source = tmp / "course-source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / "course_lib", source / "course_lib",
                    ignore=shutil.ignore_patterns("__pycache__", "*.resume.pt"))
    env_dir = tmp / "env"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    purelib = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    # this environment's packages, appended after the new environment's own: a plain path entry,
    # so the editable-install hook of the clone's course_lib is not run there
    Path(purelib, "course_deps.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    check = subprocess.run([python, "-c", "import importlib.util as u; import torch, nbclient; "
                            "print(u.find_spec('course_lib'))"], capture_output=True, text=True, cwd=tmp)
    assert check.returncode == 0 and check.stdout.strip() == "None", check.stderr
    return python, source, tmp


def _bootstrap_code() -> str:
    return nbtools.bootstrap_cell().source


def test_an_unreachable_install_source_says_what_it_tried_and_how_to_install(bare_env):
    python, _, tmp = bare_env
    missing = tmp / "no-such-course"
    out = subprocess.run([python, "-c", _bootstrap_code()], capture_output=True, text=True, timeout=300, cwd=tmp,
                         env={**os.environ, "COURSE_INSTALL_SOURCE": str(missing), "PIP_NO_INDEX": "1"})
    assert out.returncode != 0
    last = out.stderr.strip().splitlines()[-1]
    assert last.startswith("RuntimeError: Could not install the course from " + str(missing))
    assert f'pip install "{missing}"' in last and "make lab" in last


def test_chapter_runs_outside_the_repository_after_installing_the_course(bare_env, monkeypatch):
    from nbclient import NotebookClient

    python, source, tmp = bare_env
    kernels = tmp / "jupyter" / "kernels" / "bare"
    kernels.mkdir(parents=True)
    (kernels / "kernel.json").write_text(json.dumps({
        "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "bare", "language": "python"}))
    work = tmp / "work"
    work.mkdir()
    shutil.copy(CHAPTER, work / CHAPTER.name)
    nb = nbformat.read(str(work / CHAPTER.name), as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(
        "import course_lib as _cl, course_lib.pretrain as _t\n"
        "print('FROM', _cl.__file__)\n"
        "print('WEIGHTS', sorted(p.name for p in _t.CHECKPOINT_DIR.glob('*.pt')))"))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp / "jupyter"))
    monkeypatch.setenv("COURSE_INSTALL_SOURCE", str(source))
    monkeypatch.setenv("COURSE_DATA", str(ROOT / "data"))  # the data set is not fetched again
    monkeypatch.setenv("COURSE_PROFILE", "smoke")
    NotebookClient(nb, kernel_name="bare", timeout=900, resources={"metadata": {"path": str(work)}}).execute()

    outputs = ["".join(o.get("text", "")) for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    text = "\n".join(outputs)
    assert f"installing it with pip from {source}" in text
    installed = next(line for line in text.splitlines() if line.startswith("FROM "))
    assert str(tmp / "env") in installed, installed  # the course came from the new environment
    weights = next(line for line in text.splitlines() if line.startswith("WEIGHTS "))
    assert "cvae-fashion.pt" in weights and "faces-vae.pt" in weights  # weights are package data

    # with no repository around it, the installed course keeps its data in the user's cache
    home = tmp / "home"
    where = subprocess.run([python, "-c", "import course_lib.data as d; print(d.data_root())"],
                           capture_output=True, text=True, check=True, cwd=tmp,
                           env={**{k: v for k, v in os.environ.items() if k != "COURSE_DATA"}, "HOME": str(home)})
    assert Path(where.stdout.strip()) == home / ".cache" / "course_lib"
