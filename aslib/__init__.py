"""aslib: active subspaces of neural networks — structural analysis, ASNet and universal attacks.

Modules (each does one job; the README's table says which): :mod:`aslib.data`,
:mod:`aslib.distributed`, :mod:`aslib.models`, :mod:`aslib.zoo`, :mod:`aslib.training`,
:mod:`aslib.gradients`, :mod:`aslib.subspace`, :mod:`aslib.frequent_directions`, :mod:`aslib.pce`,
:mod:`aslib.asnet`, :mod:`aslib.attacks`, :mod:`aslib.vectors`, :mod:`aslib.studies`,
:mod:`aslib.stats`, :mod:`aslib.tables`,
:mod:`aslib.metrics`, :mod:`aslib.plotting`, :mod:`aslib.widgets`, :mod:`aslib.nb`,
:mod:`aslib.presets`, :mod:`aslib.report`, :mod:`aslib.cli`.
"""
from ._utils import NonFiniteError

__version__ = "0.1.0"

__all__ = ["NonFiniteError", "__version__"]
