import pytest
import ipywidgets as widgets
import matplotlib.pyplot as plt

import course_lib as cl


def test_figure_widget_redraws_with_new_values():
    calls = []

    def draw(t, label):
        calls.append((t, label))
        fig, ax = plt.subplots()
        ax.set_title(f"{label} {t}")
        plt.close(fig)
        return fig

    t = widgets.FloatSlider(value=0.0, min=0, max=1, step=0.1)
    label = widgets.Dropdown(options=["a", "b"], value="a")
    box = cl.figure_widget(draw, {"t": t, "label": label}, title="demo")
    assert calls == [(0.0, "a")]
    t.value = 0.5
    label.value = "b"
    assert calls[-2:] == [(0.5, "a"), (0.5, "b")]
    assert box.last_seconds >= 0
    assert isinstance(box.children[-1], widgets.Output)


def test_q_posterior_terms_both_decompositions_agree():
    t = cl.q_posterior_terms(0.2, 0.7)
    assert abs(t["elbo"] - (t["log_px"] - t["kl_post"])) < 1e-9
    assert abs(t["elbo"] - (t["recon"] - t["kl_prior"])) < 1e-9
    assert t["kl_post"] > 0 and t["elbo"] < t["log_px"]
    # densities integrate to one on the grid
    import numpy as np
    for key in ("q", "posterior"):
        assert abs(np.trapezoid(t[key], t["z"]) - 1) < 1e-3


def test_q_equal_to_posterior_closes_the_gap():
    t0 = cl.q_posterior_terms(0.0, 1.0)
    t = cl.q_posterior_terms(t0["post_mean"], t0["post_std"])
    assert abs(t["kl_post"]) < 1e-9 and abs(t["elbo"] - t["log_px"]) < 1e-9
    # by hand: x ~ N(0, w^2 + s^2) with w = 2, s = 0.5, x = 1.5
    import math
    var = 4.25
    assert abs(t["log_px"] - (-0.5 * (math.log(2 * math.pi * var) + 1.5 ** 2 / var))) < 1e-9


def test_draw_q_vs_posterior_and_errors():
    import pytest
    fig = cl.draw_q_vs_posterior(0.5, 0.3)
    assert "ELBO" in fig.axes[0].get_title()
    with pytest.raises(ValueError, match="sigma must be positive"):
        cl.q_posterior_terms(0.0, 0.0)


def test_decode_interpolation_endpoints():
    import torch
    torch.manual_seed(0)
    vae = cl.GaussianVAE(2, 4)
    x0, x1 = torch.tensor([1.0, 0.0]), torch.tensor([-1.0, 0.5])
    path = cl.decode_interpolation(vae, x0, x1, [0.0, 0.5, 1.0])
    assert path.shape == (3, 2)
    with torch.no_grad():
        mu = vae.encode(torch.stack([x0, x1]))[0]
        torch.testing.assert_close(path[0], vae.decode(mu[:1])[0])
        torch.testing.assert_close(path[2], vae.decode(mu[1:])[0])
        torch.testing.assert_close(path[1], vae.decode(mu.mean(0, keepdim=True))[0])
    ae = cl.mlp_autoencoder(2, 3)  # plain autoencoders work too
    assert cl.decode_interpolation(ae, x0, x1, [0.25]).shape == (1, 2)
    fig = cl.draw_latent_interpolation(vae, x0, x1, 0.3, data=torch.randn(50, 2))
    assert fig.axes[0].get_xlabel() == "$x_1$"
    with pytest.raises(ValueError, match="t must lie"):
        cl.draw_latent_interpolation(vae, x0, x1, 1.5)


def test_edit_figure_and_widget_for_latent_arithmetic():
    import torch

    torch.manual_seed(0)
    vae = cl.conv_vae(latent_dim=4, width=8).eval()
    x = torch.rand(3, 3, 32, 32)
    vectors = {"smile": torch.ones(4), "glasses": torch.zeros(4)}
    fig = cl.edit_figure(vae, x, vectors, {"smile": 1.0, "glasses": 0.0})
    assert len(fig.axes) == 6  # two rows of three faces
    shown = fig.axes[3].images[0].get_array()
    want = cl.edit_many(vae, x, vectors, [{"smile": 1.0, "glasses": 0.0}])[0, 0].permute(1, 2, 0).numpy()
    assert abs(float(shown.mean()) - float(want.mean())) < 1e-6
    box = cl.attribute_edit_widget(vae, x, vectors, alpha_range=(-1.0, 2.0))
    sliders = box.children[1].children
    assert [s.description for s in sliders] == ["smile", "glasses"]
    sliders[0].value = 1.5
    assert box.last_seconds >= 0
    import pytest

    with pytest.raises(ValueError, match="contain 0"):
        cl.attribute_edit_widget(vae, x, vectors, alpha_range=(1.0, 2.0))
