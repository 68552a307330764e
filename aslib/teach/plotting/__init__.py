"""Figures used by the notebooks and the report (matplotlib; every function returns the figure).

Where each lives: :mod:`~aslib.teach.plotting.common` (curves, image grids), :mod:`~aslib.teach.plotting.subspace`
(spectra, active neurons), :mod:`~aslib.teach.plotting.asnet` (ASNet building and compression) and
:mod:`~aslib.teach.plotting.attacks` (universal attacks). Every name is also available from ``aslib.teach.plotting``.
"""
from aslib.teach.plotting.asnet import *
from aslib.teach.plotting.attacks import *
from aslib.teach.plotting.common import *
from aslib.teach.plotting.subspace import *
