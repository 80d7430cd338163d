import os

import matplotlib
import pytest

matplotlib.use("Agg")
os.environ.setdefault("COURSE_PROGRESS", "0")


@pytest.fixture(autouse=True)
def _no_profile_env(monkeypatch):
    """Unit tests choose profiles explicitly; the smoke profile and the strict
    placement of `make test` are for the notebooks (nbval kernels)."""
    monkeypatch.delenv("COURSE_DEVICE", raising=False)
    monkeypatch.delenv("COURSE_STRICT", raising=False)
    monkeypatch.delenv("COURSE_EXPECT_DEVICE", raising=False)
    yield
    import course_lib as cl

    cl.strict_placement(False)


@pytest.fixture(scope="session")
def smoke_site():
    """Build the whole book under the smoke profile (warnings as errors) once per
    test session; return the path of its HTML folder."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    proc = subprocess.run([sys.executable, "tools/build_book.py", "--profile", "smoke",
                           "--out", "_build/smoke"], cwd=root, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    return root / "_build" / "smoke" / "html"
