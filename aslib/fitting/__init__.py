"""Fitting networks: one resumable epoch loop and what runs on it.

:mod:`~aslib.fitting.epoch_loop` (``EpochLoop``: phases of epochs, a state file, history, weight averaging),
:mod:`~aslib.fitting.training` (training a network from scratch), :mod:`~aslib.fitting.finetuning` (ASNet step 3:
distillation and l1-proximal sparsification), :mod:`~aslib.fitting.recipes` (the one registry of named recipes,
``RECIPES``: networks trained from scratch and compressed networks with their baselines) and
:mod:`~aslib.fitting.runs` (running a compression recipe resumably and choosing among recipes on a validation split).
"""
