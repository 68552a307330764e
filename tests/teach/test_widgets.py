"""The explorers: the static figure shows what the model and the estimator say; the interactive form is a widget
with the same controls; bad input is answered."""
import ipywidgets
import matplotlib
import matplotlib.pyplot as plt
import pytest
import torch
from torch import nn

from aslib.linalg.subspace import ActiveSubspace, count_active
from aslib.teach import widgets

matplotlib.use("Agg")


def fitted(dim: int, seed: int) -> ActiveSubspace:
    g = torch.Generator().manual_seed(seed)
    return ActiveSubspace("exact").fit(torch.randn(200, dim, generator=g, dtype=torch.float64)
                                       * torch.logspace(0, -3, dim, dtype=torch.float64))


def test_spectrum_browser_marks_the_active_count_and_offers_every_layer():
    subspaces = {"conv1": fitted(20, 0), "conv2": fitted(30, 1)}
    fig = widgets.spectrum_browser(subspaces, interactive=False)
    marked = [line for line in fig.axes[0].lines if "active of" in str(line.get_label())]
    expected = count_active(subspaces["conv1"].eigenvalues, subspaces["conv1"].trace, 0.95)
    assert len(marked) == 1 and marked[0].get_xdata()[0] == expected
    assert f"{expected} active of 20 neurons" in marked[0].get_label()
    plt.close(fig)
    widget = widgets.spectrum_browser(subspaces, interactive=True)
    assert isinstance(widget, ipywidgets.interactive)
    assert widget.children[0].options == ("conv1", "conv2") and widget.children[1].value == 0.95
    with pytest.raises(ValueError, match="subspaces is empty"):
        widgets.spectrum_browser({}, interactive=False)


def test_noise_slider_titles_each_panel_with_the_models_prediction():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(12, 3)).eval()
    image, direction = torch.randn(3, 2, 2), torch.randn(3, 2, 2)
    classes = ["a", "b", "c"]
    xis = (0, 5, 50)
    fig = widgets.noise_slider(model, image, direction, classes, to_display=lambda x: x.clamp(0, 1), xis=xis,
                               interactive=False)
    for ax, xi in zip(fig.axes, xis, strict=True):
        with torch.no_grad():
            label = int(model((image + xi * direction / direction.norm())[None]).argmax())
        assert ax.get_title().startswith(f"xi={xi:g}\n{classes[label]} (")
    plt.close(fig)
    one = widgets.noise_slider(model, image, direction, classes, to_display=lambda x: x, xis=(5,), interactive=False)
    assert [ax.get_title().split("\n")[0] for ax in one.axes] == ["xi=5"]  # one panel: no subplot grid to unpack
    plt.close(one)
    assert isinstance(widgets.noise_slider(model, image, direction, classes, to_display=lambda x: x.clamp(0, 1)),
                      ipywidgets.interactive)
    with pytest.raises(ValueError, match="one name per output"):
        widgets.noise_slider(model, image, direction, ["a"], to_display=lambda x: x, interactive=False)
    with pytest.raises(ValueError, match="all zeros"):
        widgets.noise_slider(model, image, torch.zeros(3, 2, 2), classes, to_display=lambda x: x, interactive=False)
    with pytest.raises(ValueError, match=r"direction must be a floating-point tensor of shape \(c, h, w\)"):
        widgets.noise_slider(model, image, torch.randn(3, 2), classes, to_display=lambda x: x, interactive=False)
