"""A chapter opened where there is no clone of the course (Colab, Kaggle, a bare
Jupyter): its first cell installs course_lib and the chapter runs to the end.

The environment is really bare (tools/isolated_run.py): a new virtual environment that
sees none of this one's packages receives only ipykernel; the chapter's bootstrap cell
installs the course from a wheel of this checkout with the dependencies pyproject.toml
declares, and the chapter runs under the smoke profile from a folder outside the
repository. An import of anything the course does not declare fails here as on Colab.
``make colab-check`` runs all ten chapters this way.
"""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHAPTER = ROOT / "chapters" / "06_conditional_vae.ipynb"
sys.path.insert(0, str(ROOT / "tools"))
import isolated_run  # noqa: E402
import nbtools  # noqa: E402


@pytest.fixture(scope="module")
def bare(tmp_path_factory):
    folder = tmp_path_factory.mktemp("outside")
    return isolated_run.make_bare_env(folder), folder


def test_the_bare_environment_sees_nothing_of_this_one(bare):
    env, folder = bare
    out = subprocess.run([env.python, "-c", "import sys; print('\\n'.join(sys.path))"],
                         capture_output=True, text=True, check=True, cwd=folder, env=env.environ("smoke", folder))
    assert sys.prefix not in out.stdout and str(ROOT) not in out.stdout, out.stdout
    for module in ("course_lib", "torch", "myst_nb", "nbval"):  # all importable here
        found = subprocess.run([env.python, "-c", f"import {module}"], capture_output=True, text=True,
                               cwd=folder, env=env.environ("smoke", folder))
        assert found.returncode != 0 and "ModuleNotFoundError" in found.stderr, module


def test_an_unreachable_install_source_says_what_it_tried_and_how_to_install(bare):
    env, folder = bare
    missing = folder / "no-such-course"
    out = subprocess.run([env.python, "-c", nbtools.bootstrap_cell().source], capture_output=True, text=True,
                         timeout=300, cwd=folder,
                         env={**env.environ("smoke", folder), "COURSE_INSTALL_SOURCE": str(missing),
                              "PIP_NO_INDEX": "1"})
    assert out.returncode != 0
    last = out.stderr.strip().splitlines()[-1]
    assert last.startswith("RuntimeError: Could not install the course from " + str(missing))
    assert f'pip install "{missing}"' in last and "make lab" in last


def test_chapter_runs_outside_the_repository_after_installing_the_course(bare):
    env, folder = bare
    probe = ("import course_lib as _cl, course_lib.pretrain as _t\n"
             "print('FROM', _cl.__file__)\n"
             "print('WEIGHTS', sorted(p.name for p in _t.CHECKPOINT_DIR.glob('*.pt')))")
    result = isolated_run.run_chapter(CHAPTER, env, folder / "work", extra_cells=[probe])
    assert result["ok"], result["error"]
    text = result["text"]
    assert f"installing it with pip from {env.wheel}" in text
    installed = next(line for line in text.splitlines() if line.startswith("FROM "))
    assert str(env.python.parent.parent) in installed, installed  # the course came from the new environment
    weights = next(line for line in text.splitlines() if line.startswith("WEIGHTS "))
    assert "cvae-fashion.pt" in weights and "faces-vae.pt" in weights  # weights are package data
    print(f"bare environment {env.seconds:.0f} s; install cell {result['bootstrap_seconds']:.0f} s; "
          f"chapter {result['seconds']:.0f} s")

    # with no repository around it, the installed course keeps its data in the user's cache
    home = folder / "home"
    where = subprocess.run([env.python, "-c", "import course_lib.data as d; print(d.data_root())"],
                           capture_output=True, text=True, check=True, cwd=folder,
                           env={**{k: v for k, v in env.environ("smoke", folder).items() if k != "COURSE_DATA"},
                                "HOME": str(home)})
    assert Path(where.stdout.strip()) == home / ".cache" / "course_lib"
