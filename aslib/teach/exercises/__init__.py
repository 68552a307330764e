"""Checks for the notebooks' implement-it-yourself exercises.

Each ``check_*`` calls the learner's function on seeded random inputs and on inputs with a known
answer, compares it with the kit (or a closed form), and says in plain words what is wrong.

* A correct function: prints ``... all checks passed`` and returns ``True``.
* A function that still raises ``NotImplementedError`` (the student notebooks' stubs): prints
  ``... not implemented yet`` and returns ``None``, so a student notebook runs top to bottom.
* A wrong function: raises :class:`ExerciseError` (an ``AssertionError``) with the explanation, so the
  solution notebooks, which CI executes, fail when a solution is wrong.

Each check refuses a function that calls the kit's own answer to the exercise (a profile hook records the
kit's functions the learner's function calls), so a check cannot be passed by calling ``aslib``. The student
and nbgrader versions of the notebooks are made by :mod:`aslib.tools.handouts`.

Where each check lives: :mod:`~aslib.teach.exercises.subspaces`, :mod:`~aslib.teach.exercises.networks`,
:mod:`~aslib.teach.exercises.asnet`, :mod:`~aslib.teach.exercises.attacks`; how a check runs and grades:
:mod:`~aslib.teach.exercises.grading`.
"""
from aslib.teach.exercises.asnet import check_asnet_head, check_distillation_loss, check_hermite, check_soft_threshold
from aslib.teach.exercises.attacks import check_as_attack, check_deepfool_step, check_fooling_rate
from aslib.teach.exercises.grading import GRADING_VARIABLE, ExerciseError
from aslib.teach.exercises.networks import check_vgg_macs, check_vgg_parameter_count
from aslib.teach.exercises.subspaces import (check_active_subspace, check_count_active, check_energy_share,
    check_frequent_directions, check_randomized_subspace)

__all__ = ["ExerciseError", "GRADING_VARIABLE", "check_active_subspace", "check_as_attack", "check_asnet_head",
           "check_count_active", "check_deepfool_step", "check_distillation_loss", "check_energy_share",
           "check_fooling_rate", "check_frequent_directions", "check_hermite", "check_randomized_subspace",
           "check_soft_threshold", "check_vgg_macs", "check_vgg_parameter_count"]
