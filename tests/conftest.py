import os

import matplotlib
import pytest

matplotlib.use("Agg")
os.environ.setdefault("COURSE_PROGRESS", "0")


@pytest.fixture(autouse=True)
def _no_profile_env(monkeypatch):
    """Unit tests choose profiles explicitly; the smoke profile of `make test`
    is for the notebooks."""
    monkeypatch.delenv("COURSE_DEVICE", raising=False)
