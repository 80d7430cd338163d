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
