"""The numerical layer: estimators and statistics that know nothing of networks.

:mod:`~aslib.linalg.subspace` (the active-subspace estimator ``ActiveSubspace`` over its three stores, its solvers
and readings), :mod:`~aslib.linalg.frequent_directions` (the streaming sketch and its error bound),
:mod:`~aslib.linalg.pce` (the Hermite polynomial chaos basis and its streamed least squares) and
:mod:`~aslib.linalg.stats` (means with intervals, paired differences, proportions). Nothing here imports from
the rest of aslib except its contracts and helpers.
"""
