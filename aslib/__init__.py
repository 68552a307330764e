"""aslib: active subspaces of neural networks — structural analysis, ASNet and universal attacks.

Modules: :mod:`aslib.data`, :mod:`aslib.models`, :mod:`aslib.training`, :mod:`aslib.subspace`,
:mod:`aslib.pce`, :mod:`aslib.asnet`, :mod:`aslib.attacks`, :mod:`aslib.metrics`,
:mod:`aslib.plotting`, :mod:`aslib.widgets`, :mod:`aslib.cli`.
"""
__version__ = "0.1.0"
