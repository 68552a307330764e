"""Named parameter presets for the notebooks (``smoke`` for CI, ``default`` for a CPU, ``paper`` for a GPU).

A notebook's ``parameters`` cell holds ``preset`` and ``overrides``; papermill sets them
(``-p preset smoke`` or ``-y "overrides: {n_images: 2000}"``) and the notebook calls
:func:`choose` with its three presets, so the stored notebook never needs editing.
"""
from __future__ import annotations

from types import SimpleNamespace
from collections.abc import Mapping
from typing import Any

from ._utils import check_choice

PRESET_NAMES = ("smoke", "default", "paper")


def choose(preset: str, overrides: Mapping[str, Any] | None = None, **presets: dict[str, Any]) -> SimpleNamespace:
    """Pick ``presets[preset]`` and apply ``overrides`` (only keys the preset defines).

    Raises ValueError for an unknown preset or an override of an undefined key, TypeError for a preset that is
    not a name or overrides that are not a mapping (papermill's ``-p`` gives a string; ``-y`` gives a mapping).
    """
    if not isinstance(preset, str):
        raise TypeError(f"preset must be a name, one of {PRESET_NAMES}, got {type(preset).__name__} {preset!r}; "
                        "with papermill: -p preset smoke")
    check_choice("preset", preset, presets)
    if overrides is not None and not isinstance(overrides, Mapping):
        raise TypeError(f"overrides must be a mapping of parameter names to values, got {type(overrides).__name__} "
                        f"{overrides!r}; with papermill pass it as YAML: -y \"overrides: {{n_images: 2000}}\" "
                        "(-p passes a string)")
    values = dict(presets[preset])
    for key in overrides or {}:
        check_choice("parameter in overrides", key, values, f" (the parameters of preset {preset!r})")
    values.update(overrides or {})
    return SimpleNamespace(**values)
