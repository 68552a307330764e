"""Figures used by the notebooks and the report (matplotlib; every function returns the figure).

Where each lives: :mod:`~aslib.plotting.common` (curves, image grids), :mod:`~aslib.plotting.subspace`
(spectra, active neurons), :mod:`~aslib.plotting.asnet` (ASNet building and compression) and
:mod:`~aslib.plotting.attacks` (universal attacks). Every name is also available from ``aslib.plotting``.
"""
from .asnet import *
from .attacks import *
from .common import *
from .subspace import *
