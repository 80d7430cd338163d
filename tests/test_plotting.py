import numpy as np
import pytest
import torch
from matplotlib.figure import Figure
import matplotlib.pyplot as plt

import course_lib as cl


def test_scatter2d_returns_labelled_figure_and_closes_it():
    before = plt.get_fignums()
    fig = cl.scatter2d(torch.randn(50, 2), overlay=torch.randn(20, 2), title="t")
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert ax.get_xlabel() and ax.get_ylabel() and ax.get_title() == "t"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["data", "model"]
    assert plt.get_fignums() == before


def test_scatter2d_rejects_wrong_shape():
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        cl.scatter2d(torch.randn(5, 3))


def test_image_grid_layout_and_labels():
    fig = cl.image_grid(torch.rand(6, 1, 8, 8), row_labels=["a", "b"], col_labels=["x", "y", "z"])
    assert len(fig.axes) == 6
    assert fig.axes[0].get_ylabel() == "a" and fig.axes[3].get_ylabel() == "b"
    assert fig.axes[1].get_title() == "y"
    img = fig.axes[4].images[0].get_array()
    assert img.shape == (8, 8)


def test_image_grid_rejects_bad_shape():
    with pytest.raises(ValueError):
        cl.image_grid(torch.rand(8, 8))


def test_plot_history_draws_each_part():
    h = cl.History(records=[{"loss": 1.0 / i, "kl": 0.5} for i in range(1, 51)])
    fig = cl.plot_history(h, smooth=5)
    lines = fig.axes[0].get_lines()
    assert len(lines) == 2 and len(lines[0].get_ydata()) == 46
    assert fig.axes[0].get_xlabel() == "optimisation step"


def test_plot_history_of_a_manifest_is_per_epoch():
    history = [{"loss": 10.0 - i, "recon": 8.0 - i, "kl": 2.0} for i in range(4)]   # a manifest's list
    fig = cl.plot_history(history, keys=["loss", "kl"], logy=False)
    ax = fig.axes[0]
    assert ax.get_xlabel() == "epoch" and [l.get_label() for l in ax.get_lines()] == ["loss", "kl"]
    assert list(ax.get_lines()[0].get_xdata()) == [1, 2, 3, 4]
    assert list(ax.get_lines()[0].get_ydata()) == [10.0, 9.0, 8.0, 7.0]
    with pytest.raises(ValueError, match="empty"):
        cl.plot_history([])
    with pytest.raises(KeyError, match="elbo"):
        cl.plot_history(history, keys=["elbo"])
