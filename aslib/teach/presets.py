"""Named parameter presets for the notebooks (``smoke`` for CI, ``default`` for a CPU, ``paper`` for a GPU).

A notebook's ``parameters`` cell holds ``preset`` and ``overrides``; papermill sets them
(``-p preset smoke`` or ``-y "overrides: {n_images: 2000}"``) and the notebook calls
:func:`choose` with its three presets, so the stored notebook never needs editing.
"""
from __future__ import annotations

import typing
from types import SimpleNamespace
from collections.abc import Mapping
from typing import Any, Literal

from aslib._utils import check_choice
from aslib.contracts import contract, named_type

Overrides = named_type(Mapping, lambda m: all(isinstance(k, str) for k in m), "a mapping of parameter names to values",
                       'pass it as YAML with papermill -y "overrides: {n_boot: 20}" (-p passes a string)')
"""A notebook's ``overrides`` parameter: values by parameter name."""
Preset = Literal["smoke", "default", "paper"]
"""The name of a notebook preset."""
PRESET_NAMES = typing.get_args(Preset)


@contract
def choose(preset: str, overrides: Overrides | None = None, **presets: dict[str, Any]) -> SimpleNamespace:
    """Pick ``presets[preset]`` and apply ``overrides`` (only keys the preset defines).

    Raises ValueError for an unknown preset or an override of an undefined key; a preset that is not a name or
    overrides that are not a mapping break the contract (papermill's ``-p`` gives a string; pass overrides as YAML
    with ``-y "overrides: {n_images: 2000}"``, which gives a mapping).
    """
    check_choice("preset", preset, presets)
    values = dict(presets[preset])
    for key in overrides or {}:
        check_choice("parameter in overrides", key, values, f" (the parameters of preset {preset!r})")
    values.update(overrides or {})
    return SimpleNamespace(**values)
