"""What the notebooks use beyond the science.

:mod:`~aslib.teach.nb` (a notebook's set-up and its show-and-record helpers), :mod:`~aslib.teach.presets` (the
notebooks' presets), :mod:`~aslib.teach.recording` (tables, figures, values and claims written for the report),
:mod:`~aslib.teach.claims` (the paper's claims the kit measures), :mod:`~aslib.teach.exercises` (the checks of the
implement-it-yourself exercises), :mod:`~aslib.teach.plotting` (figures), :mod:`~aslib.teach.widgets` (interactive
explorers) and :mod:`~aslib.teach.resources` (the shipped notebooks and docs as folders on disk).
"""
