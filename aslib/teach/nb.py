"""What every notebook repeats, done once: set-up (preset, seed, device, zoo fallback) and
show-and-record of tables, figures, widgets and values.

A notebook starts with::

    nb = aslib.teach.nb.start("06_universal_attacks", preset, overrides, smoke=dict(...), default=dict(...),
                        paper=dict(...))
    cfg, device = nb.cfg, nb.device

and then shows its results with :meth:`Notebook.table`, :meth:`Notebook.figure`,
:meth:`Notebook.widget` and :meth:`Notebook.value`; with a ``key`` each one is also recorded for
the report (:mod:`aslib.tools.report`, active when the report runner executes the notebook).
"""
from __future__ import annotations

import numbers
import warnings
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, Mapping, Sequence

import matplotlib.pyplot as plt
import torch
from matplotlib.figure import Figure

from aslib._utils import default_device
from aslib.contracts import Count, CountOrZero, contract
from aslib.store import zoo
from aslib.studies.tables import format_table
from aslib.teach import presets, recording

FALLBACK_MODEL = "vgg19_bn_w025_cifar10"
"""The shipped network a notebook uses when its preset names a model that is not in the zoo."""


@contract
@dataclass
class Notebook:
    """A running notebook: its name (the report's folder), parameters ``cfg``, ``device`` and preset name."""

    name: str
    cfg: SimpleNamespace
    device: torch.device
    preset: str = "default"

    @contract
    def table(self, rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None, *,
              digits: CountOrZero = 2, key: str | None = None, caption: str | None = None) -> None:
        """Display ``rows`` as a Markdown table (all columns of the first row by default), with an
        optional caption above (e.g. another table); record it for the report under ``key``."""
        if not rows:
            raise ValueError("no rows to show: the table is empty")
        text = format_table(rows, list(columns or rows[0]), digits)
        if caption:
            text = f"{caption}\n\n{text}"
        _display_markdown(text)
        if key is not None:
            recording.record_table(self.name, key, text)

    @contract
    def figure(self, fig: Figure, key: str | None = None) -> None:
        """Show a matplotlib figure; record it for the report under ``key``."""
        if key is not None:
            recording.record_figure(self.name, key, fig)
        plt.show()

    def widget(self, shown: Any) -> None:
        """Show what an :mod:`aslib.teach.widgets` explorer returned: a widget, or its static figure when headless."""
        if isinstance(shown, plt.Figure):
            plt.show()
        else:
            from IPython.display import display

            display(shown)

    @contract
    def claim(self, claim_id: str, measured: numbers.Real, *, n: Count | None = None,
              ci95: tuple[numbers.Real, numbers.Real] | None = None, source: str = "live", note: str = "") -> None:
        """Print and record one of the paper's claims (:data:`aslib.teach.claims.CLAIMS`) for ``claims.json``."""
        claim = recording.record_claim(self.name, claim_id, measured=measured, preset=self.preset, n=n, ci95=ci95,
                                    source=source, note=note)
        ci = "" if ci95 is None else f", 95 % CI [{ci95[0]:.3f}, {ci95[1]:.3f}]"
        print(f"{claim_id}: {measured:.4g} (paper: {claim['paper']}; n = {n}{ci}; {source}) {note}".rstrip())

    @contract
    def value(self, key: str, value: Any) -> None:
        """Print ``key: value`` and record the value for the report (next to the paper's claims)."""
        print(f"{key}: {value}")
        recording.record_value(self.name, key, value)


@contract
def start(name: str, preset: str, overrides: Mapping[str, Any] | None = None, *, seed: int = 0,
          **preset_values: dict[str, Any]) -> Notebook:
    """Set up a notebook: choose the preset's parameters (:func:`aslib.teach.presets.choose`), seed torch,
    pick the device (CUDA when available), and, when the parameters name a ``model`` that the zoo
    does not ship, warn and fall back to :data:`FALLBACK_MODEL`. Prints what it chose."""
    cfg = presets.choose(preset, overrides, **preset_values)
    shipped = [e["name"] for e in zoo.entries()]
    if getattr(cfg, "model", None) is not None and cfg.model not in shipped:
        warnings.warn(f"{cfg.model!r} is not in the zoo (train it on a GPU with `python -m aslib.cli train --recipe "
                      f"{cfg.model} --ship`); falling back to the shipped {FALLBACK_MODEL}")
        cfg.model = FALLBACK_MODEL
    torch.manual_seed(seed)
    device = default_device()
    print(f"preset {preset!r} on {device}: {vars(cfg)}")
    return Notebook(name, cfg, device, preset)


def _display_markdown(text: str) -> None:
    try:
        from IPython.display import Markdown, display
    except ImportError:
        print(text)
        return
    display(Markdown(text))
