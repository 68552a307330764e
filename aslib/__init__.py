"""aslib: active subspaces of neural networks — structural analysis, ASNet and universal attacks.

Modules (each does one job; the README's table says which): :mod:`aslib.data`, :mod:`aslib.distributed`,
:mod:`aslib.models`, :mod:`aslib.zoo`, :mod:`aslib.epoch_loop`, :mod:`aslib.training`, :mod:`aslib.inference`,
:mod:`aslib.gradients`, :mod:`aslib.subspace`, :mod:`aslib.frequent_directions`, :mod:`aslib.pce`, :mod:`aslib.asnet`,
:mod:`aslib.finetuning`, :mod:`aslib.asnet_recipes`, :mod:`aslib.pruning`, :mod:`aslib.attacks`, :mod:`aslib.vectors`,
:mod:`aslib.studies`, :mod:`aslib.stats`, :mod:`aslib.tables`, :mod:`aslib.metrics`, :mod:`aslib.reproduction`,
:mod:`aslib.plotting`, :mod:`aslib.widgets`, :mod:`aslib.nb`, :mod:`aslib.exercises`, :mod:`aslib.handouts`,
:mod:`aslib.presets`, :mod:`aslib.report`, :mod:`aslib.claims`, :mod:`aslib.resources`, :mod:`aslib.book`,
:mod:`aslib.contracts`, :mod:`aslib.cli`.

``__version__`` is the installed distribution's version (pyproject's ``version``, the one place it is written).
"""
from importlib import metadata as _metadata

from ._utils import NonFiniteError

try:
    __version__ = _metadata.version("aslib")
except _metadata.PackageNotFoundError:  # imported from a checkout that was never installed
    __version__ = "0+unknown"

__all__ = ["NonFiniteError", "__version__"]
