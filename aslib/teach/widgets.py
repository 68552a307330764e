"""Interactive explorers (ipywidgets) with a static figure for headless runs (papermill, CI).

With ``interactive=False`` each function returns the static figure of its initial values; with ``interactive=True``
it returns an ipywidgets widget that redraws on change.
"""
from __future__ import annotations

from typing import Callable, Mapping, Sequence

import ipywidgets
import matplotlib.pyplot as plt
import torch
from jaxtyping import Float
from torch import Tensor, nn

from aslib._utils import check_finite, model_mode
from aslib.contracts import Count, NonNegativeReal, contract
from aslib.linalg.subspace import ActiveSubspace, count_active


def _interactive_or_static(draw: Callable, controls: dict, interactive: bool):
    initial = {k: (w.value if hasattr(w, "value") else w) for k, w in controls.items()}
    fig = draw(**initial)
    if not interactive:
        return fig
    plt.close(fig)

    def redraw(**kwargs):
        draw(**kwargs)
        plt.show()

    return ipywidgets.interactive(redraw, **controls)


@contract
def spectrum_browser(subspaces: Mapping[str, ActiveSubspace], *, interactive: bool = True, top: Count = 200):
    """Browse the eigenvalue spectrum of each layer with a threshold slider marking the active neurons."""
    names = list(subspaces)
    if not names:
        raise ValueError("subspaces is empty: pass {layer name: fitted ActiveSubspace}, e.g. from layer_subspaces")

    def draw(layer: str, delta: float):
        est = subspaces[layer]
        eig = (est.eigenvalues[:top].double() / est.trace).cpu()
        r = count_active(est.eigenvalues, est.trace, delta)
        fig, ax = plt.subplots(figsize=(5.5, 3.2))
        ax.semilogy(range(1, len(eig) + 1), eig)
        ax.axvline(r, color="C3", ls="--", label=f"{r} active of {est.dim} neurons (delta={delta:.2f})")
        ax.set_xlabel("index i")
        ax.set_ylabel("eigenvalue / trace")
        ax.set_title(f"layer {layer}")
        ax.legend(fontsize="small")
        return fig

    controls: dict = {"layer": names[0], "delta": 0.95}
    if interactive:
        controls = {"layer": ipywidgets.Dropdown(options=names, value=names[0]),
                    "delta": ipywidgets.FloatSlider(value=0.95, min=0.5, max=0.995, step=0.005)}
    return _interactive_or_static(draw, controls, interactive)


@contract
def noise_slider(model: nn.Module, image: Float[Tensor, "c h w"], direction: Float[Tensor, "c h w"],
                 classes: Sequence[str], *, to_display: Callable[[torch.Tensor], torch.Tensor],
                 xis: Sequence[NonNegativeReal] = (0, 2, 4, 6, 8, 10), interactive: bool = True,
                 start: NonNegativeReal | None = None):
    """Show ``image + xi * direction / ||direction||`` and the model's prediction for a noise level xi.

    ``image`` ``(C, H, W)`` in normalised units and ``direction`` of the same shape; ``to_display`` maps normalised
    images to [0, 1]. Without a widget, draws one panel per value of ``xis``.
    """
    check_finite(direction, "the direction")
    if not bool(direction.any()):
        raise ValueError("direction is all zeros: it has no direction to add")
    with torch.no_grad(), model_mode(model):
        outputs = model(image[None]).shape[1]
    if len(classes) != outputs:
        raise ValueError(f"classes names {len(classes)} labels but the model has {outputs} outputs; pass one name "
                         "per output, e.g. aslib.data.class_names(dataset)")
    unit = direction / direction.norm()

    @torch.no_grad()
    def predict(xi: float):
        x = (image + xi * unit)[None]
        with model_mode(model):
            prob = model(x).softmax(1)[0]
        return x[0], int(prob.argmax()), float(prob.max())

    def draw(xi: float):
        x, label, p = predict(xi)
        fig, ax = plt.subplots(figsize=(2.6, 2.8))
        ax.imshow(to_display(x).permute(1, 2, 0).squeeze(-1).cpu(), cmap="gray" if x.shape[0] == 1 else None)
        ax.set_title(f"xi={xi:g}: {classes[label]} ({p:.0%})", fontsize="small")
        ax.axis("off")
        return fig

    if interactive:
        slider = ipywidgets.FloatSlider(value=start if start is not None else xis[-1], min=0, max=max(xis), step=0.5)
        return _interactive_or_static(draw, {"xi": slider}, True)
    fig, axes = plt.subplots(1, len(xis), figsize=(2.2 * len(xis), 2.6), squeeze=False)
    for ax, xi in zip(axes[0], xis):
        x, label, p = predict(xi)
        ax.imshow(to_display(x).permute(1, 2, 0).squeeze(-1).cpu(), cmap="gray" if x.shape[0] == 1 else None)
        ax.set_title(f"xi={xi:g}\n{classes[label]} ({p:.0%})", fontsize="x-small")
        ax.axis("off")
    fig.tight_layout()
    return fig
