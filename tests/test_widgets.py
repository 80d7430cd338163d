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


# --- chapters 2 and 3 -----------------------------------------------------------
import numpy as np
import pytest
import torch


def _images_ae():
    torch.manual_seed(0)
    return cl.mlp_autoencoder((1, 8, 8), 3, hidden=(16,), out_activation=torch.nn.Sigmoid())


def test_decode_interpolation_end_points_and_linearity():
    torch.manual_seed(0)
    model = cl.mlp_autoencoder(2, 4, hidden=(8,))
    x0, x1 = torch.tensor([0.5, -1.0]), torch.tensor([1.0, 2.0])
    path = cl.decode_interpolation(model, x0, x1, [0.0, 0.25, 1.0])
    with torch.no_grad():
        ends = model(torch.stack([x0, x1])).x_hat
        z = model.encode(torch.stack([x0, x1]))
        quarter = model.decode((0.75 * z[0] + 0.25 * z[1]).unsqueeze(0))[0]
    assert path.shape == (3, 2)
    torch.testing.assert_close(path[0], ends[0])
    torch.testing.assert_close(path[2], ends[1])
    torch.testing.assert_close(path[1], quarter)
    with pytest.raises(ValueError, match="shape"):
        cl.decode_interpolation(model, torch.zeros(3), torch.zeros(3), [0.5])


def test_draw_interpolation_2d_and_images():
    torch.manual_seed(0)
    model = cl.mlp_autoencoder(2, 4, hidden=(8,))
    fig = cl.draw_interpolation(model, torch.zeros(2), torch.ones(2), 0.3, data=torch.randn(50, 2))
    ax = fig.axes[0]
    red = [c for c in ax.collections if c.get_offsets().shape == (1, 2)][-1].get_offsets()[0]
    np.testing.assert_allclose(red, cl.decode_interpolation(model, torch.zeros(2), torch.ones(2), [0.3])[0],
                               rtol=1e-5)
    imgs = _images_ae()
    x = torch.rand(2, 1, 8, 8)
    fig = cl.draw_interpolation(imgs, x[0], x[1], 0.5)
    assert len(fig.axes) == 4
    with pytest.raises(ValueError, match="t must"):
        cl.draw_interpolation(model, torch.zeros(2), torch.ones(2), 1.5)


def test_interpolation_widget_redraws():
    torch.manual_seed(0)
    model = cl.mlp_autoencoder(2, 4, hidden=(8,))
    box = cl.interpolation_widget(model, torch.zeros(2), torch.ones(2))
    slider = box.children[1].children[0]
    slider.value = 0.9
    assert box.last_seconds >= 0


def test_denoise_is_corrupt_then_model():
    model = _images_ae()
    x = torch.rand(3, 1, 8, 8)
    x_tilde, x_hat = cl.denoise(model, x, "pixel dropping", 0.5, seed=1)
    torch.testing.assert_close(x_tilde, cl.corrupt(x, "pixel dropping", 0.5, generator=1))
    with torch.no_grad():
        torch.testing.assert_close(x_hat, model(x_tilde).x_hat)


def test_draw_denoising_and_widget():
    model = _images_ae()
    x = torch.rand(4, 1, 8, 8)
    fig = cl.draw_denoising({"AE": model, "DAE": model}, x, "block mask", 0.5)
    assert len(fig.axes) == 4 * 4  # clean, corrupted, two models
    box = cl.denoising_widget({"DAE": model}, x)
    kind, strength = box.children[1].children
    kind.value = "blur"
    strength.value = 0.2
    assert box.last_seconds >= 0
