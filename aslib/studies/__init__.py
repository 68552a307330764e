"""Studies: the experiments of the paper and beyond, as functions returning tidy tables (lists of dicts).

Where each lives: :mod:`~aslib.studies.sweeps` (the paper's noise and sample sweeps and transfer,
live), :mod:`~aslib.studies.attacks` (the attack studies of notebook 07), :mod:`~aslib.studies.shipped`
(studies of the shipped vectors), :mod:`~aslib.studies.attack_tables` (the notebooks' tables of them),
:mod:`~aslib.studies.asnet` (ASNet fits), :mod:`~aslib.studies.compression` (ASNet sizes, budgets and
trade-offs), :mod:`~aslib.studies.baselines` (shipped ASNets against their equal-budget baselines),
:mod:`~aslib.studies.layers` (active subspaces across layers) and :mod:`~aslib.studies.records` (shipped
networks' recorded accuracies against live ones). Every name is also available from ``aslib.studies``.
"""
from aslib.studies.asnet import *
from aslib.studies.attack_tables import *
from aslib.studies.attacks import *
from aslib.studies.baselines import *
from aslib.studies.compression import *
from aslib.studies.layers import *
from aslib.studies.records import *
from aslib.studies.shipped import *
from aslib.studies.sweeps import *
