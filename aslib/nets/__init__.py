"""Networks: what they are, what one reads from them, and what they cost.

:mod:`~aslib.nets.models` (the architectures, ``build``, ``cut_points``), :mod:`~aslib.nets.gradients` (per-sample
gradients at named layers), :mod:`~aslib.nets.inference` (loss, accuracy and logits over a dataset),
:mod:`~aslib.nets.counts` (parameters, storage and MACs, dense and sparse), :mod:`~aslib.nets.layer_analysis` (the
active subspaces of several layers from one pass), :mod:`~aslib.nets.asnet` (the ASNet module and its build) and
:mod:`~aslib.nets.pruning` (the pruning baselines' operations).
"""
