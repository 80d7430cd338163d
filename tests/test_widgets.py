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
