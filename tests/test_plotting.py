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


# --- the figures behind the chapters' sliders ---------------------------------------------------


def test_q_vs_posterior_figure_and_errors():
    fig = cl.q_vs_posterior_figure(0.5, 0.3)
    t = cl.q_posterior_terms(0.5, 0.3)
    title = fig.axes[0].get_title()
    assert "ELBO" in title and f"{t['elbo']:.3f}" in title and f"{t['log_px']:.3f}" in title
    with pytest.raises(ValueError, match="sigma must be positive"):
        cl.q_vs_posterior_figure(0.0, 0.0)


def test_interpolation_figure_2d_for_a_vae_and_an_autoencoder():
    torch.manual_seed(0)
    vae = cl.mlp_vae(2, 4, sigma=0.1)
    x0, x1 = torch.tensor([1.0, 0.0]), torch.tensor([-1.0, 0.5])
    fig = cl.interpolation_figure(vae, x0, x1, 0.3, data=torch.randn(50, 2))
    assert fig.axes[0].get_xlabel() == "$x_1$"
    with pytest.raises(ValueError, match="t must lie"):
        cl.interpolation_figure(vae, x0, x1, 1.5)
    model = cl.mlp_autoencoder(2, 4, hidden=(8,))
    fig = cl.interpolation_figure(model, torch.zeros(2), torch.ones(2), 0.3, data=torch.randn(50, 2))
    ax = fig.axes[0]
    red = [c for c in ax.collections if c.get_offsets().shape == (1, 2)][-1].get_offsets()[0]
    np.testing.assert_allclose(red, cl.interpolate(model, torch.zeros(2), torch.ones(2), [0.3])[0], rtol=1e-5)
    path = ax.lines[0].get_xydata()                   # the decoded path for t in [0, 1]
    np.testing.assert_allclose(path, cl.interpolate(model, torch.zeros(2), torch.ones(2), np.linspace(0, 1, 100)),
                               rtol=1e-5, atol=1e-6)


def test_interpolation_figure_of_images_shows_the_decoded_mean():
    torch.manual_seed(0)
    vae = cl.mlp_vae((1, 8, 8), 3, (16,), likelihood="bernoulli")
    x = torch.rand(2, 1, 8, 8)
    fig = cl.interpolation_figure(vae, x[0], x[1], 0.5)
    assert len(fig.axes) == 4
    shown = fig.axes[1].images[0].get_array()
    np.testing.assert_allclose(shown, cl.interpolate(vae, x[0], x[1], [0.5])[0, 0].numpy(), rtol=1e-6)
    np.testing.assert_allclose(fig.axes[3].images[0].get_array(), (0.5 * (x[0] + x[1]))[0].numpy(), rtol=1e-6)


def test_rate_distortion_figure():
    results = {b: {"rate": 10 / b, "distortion": 80 + 5 * b, "samples": torch.rand(16, 1, 28, 28)}
               for b in (0.5, 1.0, 4.0)}
    fig = cl.rate_distortion_figure(results, 1.0)
    ax = fig.axes[1]
    assert ax.get_xlabel().startswith("rate") and len(ax.get_legend().get_texts()) == 2
    x, y = ax.lines[1].get_data()
    assert (float(x[0]), float(y[0])) == (10.0, 85.0)
    with pytest.raises(KeyError, match="trained betas"):
        cl.rate_distortion_figure(results, 2.0)
