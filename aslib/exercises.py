"""Checks for the notebooks' implement-it-yourself exercises.

Each ``check_*`` calls the learner's function on seeded random inputs and on inputs with a known
answer, compares it with the kit (or a closed form), and says in plain words what is wrong.

* A correct function: prints ``... all checks passed`` and returns ``True``.
* A function that still raises ``NotImplementedError`` (the student notebooks' stubs): prints
  ``... not implemented yet`` and returns ``None``, so a student notebook runs top to bottom.
* A wrong function: raises :class:`ExerciseError` (an ``AssertionError``) with the explanation, so the
  solution notebooks, which CI executes, fail when a solution is wrong.

The student notebooks are generated from the stored ones by :func:`student_notebook`: the body of
every function in a cell tagged ``solution`` becomes ``raise NotImplementedError``, its signature and
docstring stay.
"""
from __future__ import annotations

import ast
import functools
import inspect
import json
import math
import os
import re
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from .finetuning import distillation_loss
from .attacks import fooling_rate
from .models import VGG, VGG_CONFIGS, count_parameters
from .pce import HermiteBasis
from .subspace import ActiveSubspace

SOLUTION_TAG = "solution"
"""Cell tag of the exercise solutions in the stored notebooks."""

GRADING_VARIABLE = "ASLIB_GRADING"
"""Environment variable that turns on grading mode: with it set to ``1`` a check of an exercise that is not
implemented yet fails (ExerciseError) instead of printing "not implemented yet", so an autograder cannot pass a
stub."""

PROSE_SOLUTION = re.compile(r"<details>\s*<summary>\s*Solution\s*</summary>.*?</details>", re.S)
"""A solution written in prose in a Markdown cell (the instructor version keeps it, the student version drops it)."""

PROSE_PLACEHOLDER = "*(The solution is in the instructor version of this notebook.)*"


class ExerciseError(AssertionError):
    """A learner's function gives a wrong answer; the message says what is wrong and how to fix it."""


def _contract(check: Callable) -> str:
    """The first sentence of a check's docstring: how it calls the learner's function and what it expects."""
    return " ".join((check.__doc__ or "").split()).split(". ")[0].replace("``", "")


def _guarded(solution: Callable, check: Callable) -> Callable:
    """``solution`` called as the check calls it, answering in words when the call does not fit the learner's
    signature or the function returns None (a forgotten ``return``)."""
    name = getattr(solution, "__name__", "your function")

    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            inspect.signature(solution).bind(*args, **kwargs)
        except TypeError as error:
            raise ExerciseError(f"{check.__name__} calls {name} with {len(args)} argument(s) but {name} "
                                f"takes {inspect.signature(solution)} ({error}); the check expects: "
                                f"{_contract(check)}") from None
        except ValueError:  # no signature to read (a builtin): let the call itself decide
            pass
        answer = solution(*args, **kwargs)
        if answer is None:
            raise ExerciseError(f"{name} returned None: end it with `return ...`; the check expects: "
                                f"{_contract(check)}")
        return answer

    return call


def _exercise(check: Callable[[Callable], None]) -> Callable[[Callable], bool | None]:
    @functools.wraps(check)
    def run(solution: Callable) -> bool | None:
        if not callable(solution):
            raise TypeError(f"{check.__name__} takes your function itself (e.g. my_fd), not {type(solution).__name__}")
        try:
            check(_guarded(solution, check))
        except NotImplementedError:
            if os.environ.get(GRADING_VARIABLE) == "1":
                raise ExerciseError(f"{check.__name__}: not implemented (grading mode, {GRADING_VARIABLE}=1)") from None
            print(f"{check.__name__}: not implemented yet (write your code where it raises NotImplementedError)")
            return None
        except (TypeError, ValueError, IndexError, RuntimeError) as error:
            frames = traceback.extract_tb(error.__traceback__)
            if frames and frames[-1].filename == __file__:  # raised by the check's own use of the answer
                raise ExerciseError(f"{check.__name__}: your function's answer does not have the expected form "
                                    f"({error}); the check expects: {_contract(check)}") from None
            raise  # raised inside the learner's code: its traceback points there
        print(f"{check.__name__}: all checks passed")
        return True
    return run


def _expect(condition: bool, message: str) -> None:
    if not condition:
        raise ExerciseError(message)


def _tensor(value: Any, what: str, shape: tuple[int, ...]) -> torch.Tensor:
    _expect(isinstance(value, torch.Tensor), f"{what} should be a torch.Tensor, got {type(value).__name__}")
    _expect(tuple(value.shape) == shape, f"{what} should have shape {shape}, got {tuple(value.shape)}")
    _expect(bool(torch.isfinite(value).all()), f"{what} contains NaN or infinite values")
    return value


def _decaying_gradients(m: int, n: int, seed: int) -> torch.Tensor:
    """``(m, n)`` float64 rows with a decaying spectrum (column scales 1, 1/2, 1/3, ...) in a random basis."""
    g = torch.Generator().manual_seed(seed)
    basis = torch.linalg.qr(torch.randn(n, n, generator=g, dtype=torch.float64)).Q
    scales = 1.0 / torch.arange(1, n + 1, dtype=torch.float64)
    return (torch.randn(m, n, generator=g, dtype=torch.float64) * scales) @ basis.T


def _ridge_gradients(m: int, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Gradients ``cos(a.x) a`` of the ridge function ``sin(a.x)`` at Gaussian x, and the unit direction a."""
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(n, generator=g, dtype=torch.float64)
    a = a / a.norm()
    x = torch.randn(m, n, generator=g, dtype=torch.float64)
    return torch.cos(x @ a)[:, None] * a, a


@_exercise
def check_active_subspace(solution: Callable) -> None:
    """``solution(G)`` for gradients ``G`` ``(m, n)`` returns ``(eigenvalues (n,), eigenvectors (n, n))`` of
    ``C = G^T G / m``, eigenvalues in decreasing order and eigenvector ``i`` in column ``i``."""
    ridge, a = _ridge_gradients(400, 8, 1)
    for what, G in (("random gradients (300 x 6)", _decaying_gradients(300, 6, 0)), ("a ridge function", ridge)):
        m, n = G.shape
        values, vectors = solution(G.clone())
        values = _tensor(values, "the eigenvalues", (n,)).double()
        vectors = _tensor(vectors, "the eigenvectors", (n, n)).double()
        kit = ActiveSubspace("exact").fit(G)
        if torch.allclose(values, kit.eigenvalues * m, rtol=1e-6):
            raise ExerciseError(f"on {what} your eigenvalues are m = {m} times too large: C is the *mean* of "
                                "g g^T, divide G^T G by the number of gradient rows")
        if torch.allclose(values.flip(0), kit.eigenvalues, rtol=1e-6, atol=1e-12):
            raise ExerciseError("your eigenvalues are in increasing order (as torch.linalg.eigh returns them): "
                                "flip both the eigenvalues and the columns of the eigenvectors")
        _expect(torch.allclose(values, kit.eigenvalues, rtol=1e-6, atol=1e-12),
                f"on {what} the eigenvalues differ from the kit's: {values[:3].tolist()} vs "
                f"{kit.eigenvalues[:3].tolist()} (first three)")
        ev = kit.eigenvalues
        gaps = (ev[:-1] > 1.01 * ev[1:]) & (ev[:-1] > 1e-8 * ev[0])  # eigenvector i defined up to sign
        for i in range(n - 1):
            if gaps[i] and (i == 0 or gaps[i - 1]):
                overlap = float((vectors[:, i] @ kit.components[:, i]).abs())
                _expect(overlap > 1 - 1e-6, f"on {what} eigenvector {i} (column {i}) is not the eigenvector of "
                        f"eigenvalue {float(kit.eigenvalues[i]):.4g} (|cosine| with the kit's: {overlap:.3f}); "
                        "the eigenvectors are the columns of the matrix, in the order of the eigenvalues")
        if what == "a ridge function":
            _expect(float((vectors[:, 0] @ a).abs()) > 1 - 1e-6,
                    "for f(x) = sin(a.x) the first eigenvector must be the ridge direction a")


@_exercise
def check_vgg_parameter_count(solution: Callable) -> None:
    """``solution(config, in_channels, num_classes, batch_norm)`` returns the number of parameters of the kit's
    CIFAR VGG: 3x3 convolutions with bias (channels from ``config``, ``"M"`` a max-pool), batch norm after
    each when ``batch_norm``, and one ``Linear(last channels, num_classes)``."""
    for depth, width, batch_norm in ((11, 1.0, True), (19, 1.0, True), (19, 0.25, True), (13, 0.5, False)):
        config = [c if c == "M" else max(1, int(round(c * width))) for c in VGG_CONFIGS[depth]]
        expected = count_parameters(VGG(depth, 10, batch_norm, width))
        got = solution(list(config), 3, 10, batch_norm)
        _expect(isinstance(got, int), f"return an int (a count), got {type(got).__name__}")
        convs = [c for c in config if c != "M"]
        if got != expected:
            diff = expected - got
            hint = ""
            if batch_norm and diff == 2 * sum(convs):
                hint = ": batch norm adds 2 parameters per channel (a scale and a shift)"
            elif diff == sum(convs):
                hint = ": every convolution has a bias, one per output channel"
            elif diff == convs[-1] * 10 + 10:
                hint = ": the classifier is Linear(last channels, num_classes), with a bias"
            raise ExerciseError(f"VGG-{depth} at width {width} (batch norm {batch_norm}): you count {got:,}, the "
                                f"network has {expected:,} ({diff:+,}){hint}")


@_exercise
def check_frequent_directions(solution: Callable) -> None:
    """``solution(G, ell)`` streams the rows of ``G`` ``(m, n)`` through Frequent Directions and returns the
    sketch ``B`` ``(ell, n)``; checked by the guarantee ``0 <= G^T G - B^T B`` and, for every ``k < ell``,
    ``||G^T G - B^T B||_2 <= ||G - G_k||_F^2 / (ell - k)``."""
    ridge, _ = _ridge_gradients(300, 12, 3)
    for what, G, ell in (("random rows (500 x 40), ell = 10", _decaying_gradients(500, 40, 2), 10),
                         ("a ridge function's gradients, ell = 4", ridge, 4)):
        B = _tensor(solution(G.clone(), ell), "the sketch B", (ell, G.shape[1])).double()
        error = G.T @ G - B.T @ B
        scale = float(G.norm() ** 2)
        lowest = float(torch.linalg.eigvalsh(error)[0])
        _expect(lowest >= -1e-9 * scale, f"on {what}: B^T B exceeds G^T G in some direction (lowest eigenvalue "
                f"of G^T G - B^T B is {lowest:.3g}): a sketch only removes energy; shrink the squared singular "
                "values by the same amount and clamp at zero")
        spectral = float(torch.linalg.matrix_norm(error, 2))
        tail = torch.linalg.svdvals(G) ** 2
        for k in range(ell):
            bound = float(tail[k:].sum()) / (ell - k)
            _expect(spectral <= bound * (1 + 1e-9) + 1e-10 * scale,
                    f"on {what}: ||G^T G - B^T B||_2 = {spectral:.4g} exceeds the bound ||G - G_k||_F^2 / (ell - k) = "
                    f"{bound:.4g} at k = {k}: shrink by the ell-th squared singular value of the buffer (not more), "
                    "and put every new row into a zero row")


@_exercise
def check_hermite(solution: Callable) -> None:
    """``solution(z, degree)`` for ``z`` ``(N,)`` returns ``(N, degree + 1)`` with column ``k`` the orthonormal
    probabilists' Hermite polynomial ``He_k(z) / sqrt(k!)``."""
    z = torch.linspace(-3, 3, 61, dtype=torch.float64)
    for degree in (1, 2, 5):
        got = _tensor(solution(z.clone(), degree), f"the table for degree {degree}", (61, degree + 1)).double()
        kit = HermiteBasis(1, degree).univariate(z[:, None])[:, 0, :]
        _expect(torch.allclose(got[:, 0], torch.ones_like(z)), "column 0 is psi_0 = 1")
        for k in range(1, degree + 1):
            if torch.allclose(got[:, k], kit[:, k]):
                continue
            if torch.allclose(got[:, k], kit[:, k] * math.sqrt(math.factorial(k))):
                raise ExerciseError(f"column {k} is He_{k} without normalisation: divide by sqrt({k}!)")
            raise ExerciseError(f"column {k} (degree {degree}) differs from He_{k}(z) / sqrt({k}!) at z = "
                                f"{z[(got[:, k] - kit[:, k]).abs().argmax()].item():.1f}: use the probabilists' "
                                "recurrence He_{k+1} = z He_k - k He_{k-1} (not the physicists' 2z H_k - 2k H_{k-1})")


@_exercise
def check_distillation_loss(solution: Callable) -> None:
    """``solution(student, teacher, labels, alpha, temperature)`` returns the scalar distillation loss of
    Hinton, Vinyals & Dean (2015) as the kit defines it (:func:`aslib.finetuning.distillation_loss`)."""
    g = torch.Generator().manual_seed(4)
    student, teacher = torch.randn(32, 10, generator=g) * 3, torch.randn(32, 10, generator=g) * 3
    labels = torch.randint(0, 10, (32,), generator=g)
    for alpha, temperature in ((0.9, 4.0), (0.5, 1.0), (0.0, 2.0), (1.0, 3.0)):
        got = solution(student.clone(), teacher.clone(), labels.clone(), alpha, temperature)
        got = _tensor(torch.as_tensor(got), "the loss", ())
        kit = distillation_loss(student, teacher, labels, alpha=alpha, temperature=temperature)
        if torch.allclose(got, kit, rtol=1e-5, atol=1e-6):
            continue
        kl = F.kl_div(F.log_softmax(student / temperature, 1), F.log_softmax(teacher / temperature, 1),
                      reduction="batchmean", log_target=True)
        ce = F.cross_entropy(student, labels)
        reverse = F.kl_div(F.log_softmax(teacher / temperature, 1), F.log_softmax(student / temperature, 1),
                           reduction="batchmean", log_target=True)
        hints = {"the KL term is not multiplied by T^2 (it keeps the gradients' scale as T changes)":
                 alpha * kl + (1 - alpha) * ce,
                 "alpha weighs the distillation term and 1 - alpha the cross-entropy, not the other way round":
                 (1 - alpha) * temperature**2 * kl + alpha * ce,
                 "the KL divergence goes from the teacher's softened distribution to the student's: "
                 "KL(softmax(t/T) || softmax(s/T))": alpha * temperature**2 * reverse + (1 - alpha) * ce}
        for hint, value in hints.items():
            if torch.allclose(got, value, rtol=1e-5, atol=1e-6):
                raise ExerciseError(f"alpha = {alpha}, T = {temperature}: {hint}")
        raise ExerciseError(f"alpha = {alpha}, T = {temperature}: your loss is {float(got):.5f}, the kit's "
                            f"{float(kit):.5f} (average the KL over the batch: reduction='batchmean')")


@_exercise
def check_deepfool_step(solution: Callable) -> None:
    """``solution(W, b, x)`` for a linear classifier ``f(x) = W x + b`` (``W`` ``(K, d)``, ``x`` ``(d,)``) returns
    DeepFool's step: the smallest l2 perturbation ``r`` ``(d,)`` that reaches the nearest decision boundary."""
    g = torch.Generator().manual_seed(5)
    for trial in range(5):
        W = torch.randn(6, 20, generator=g, dtype=torch.float64)
        b = torch.randn(6, generator=g, dtype=torch.float64)
        x = torch.randn(20, generator=g, dtype=torch.float64)
        logits = W @ x + b
        label = int(logits.argmax())
        others = [k for k in range(6) if k != label]
        w = W[others] - W[label]
        f = logits[others] - logits[label]
        distance = f.abs() / w.norm(dim=1)
        nearest = int(distance.argmin())
        expected = f[nearest].abs() / w[nearest].norm() ** 2 * w[nearest]
        r = _tensor(solution(W.clone(), b.clone(), x.clone()), "the step r", (20,)).double()
        if torch.allclose(r, expected, rtol=1e-6, atol=1e-9):
            continue
        if torch.allclose(r, -expected, rtol=1e-6, atol=1e-9):
            raise ExerciseError("your step points away from the boundary: move along w_k - w_label "
                                "(towards class k), with the positive length |f_k - f_label| / ||w_k - w_label||")
        _expect(float(r.norm()) > 0, "your step is zero")
        moved = int((W @ (x + 1.001 * r) + b).argmax())
        if moved != label and float(r.norm()) > float(distance[nearest]) * (1 + 1e-6):
            raise ExerciseError(f"your step changes the label but is {float(r.norm()):.4g} long; the nearest "
                                f"boundary is only {float(distance[nearest]):.4g} away: take the class with the "
                                "smallest |f_k - f_label| / ||w_k - w_label||")
        raise ExerciseError(f"trial {trial}: your step differs from |f'| / ||w'||^2 w' for the nearest class "
                            f"(length {float(r.norm()):.4g} vs {float(distance[nearest]):.4g})")


@_exercise
def check_fooling_rate(solution: Callable) -> None:
    """``solution(model, x, v)`` returns the fooling rate: the fraction of images whose predicted class changes
    when the universal perturbation ``v`` is added (:func:`aslib.attacks.fooling_rate`), as a float."""
    g = torch.Generator().manual_seed(6)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(48, 5))
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=g))
    model.eval()
    x = torch.randn(200, 3, 4, 4, generator=g)
    for scale in (0.0, 0.3, 3.0):
        v = scale * torch.randn(3, 4, 4, generator=g)
        got = solution(model, x.clone(), v.clone())
        _expect(isinstance(got, float), f"return a Python float (e.g. with .item()), got {type(got).__name__}")
        expected = fooling_rate(model, x, v)
        _expect(abs(got - expected) < 1e-9, f"with |v| = {float(v.norm()):.3g} you get {got:.4f}, the fooling rate "
                f"is {expected:.4f}: compare argmax f(x + v) with argmax f(x) (the clean prediction, not a label), "
                "averaged over all images")


def student_notebook(source: str | Path, target: str | Path) -> int:
    """Write the student version of the notebook ``source`` to ``target``: in every cell tagged
    :data:`SOLUTION_TAG`, each top-level function keeps its signature and docstring and its body becomes
    ``raise NotImplementedError``; other code in such a cell is dropped; every prose solution of a Markdown cell
    (:data:`PROSE_SOLUTION`) becomes :data:`PROSE_PLACEHOLDER`. Returns the number of functions stubbed (a
    tagged cell without a function is an error)."""
    notebook = json.loads(Path(source).read_text())
    stubbed = 0
    for cell in notebook["cells"]:
        if cell["cell_type"] == "markdown":
            text = "".join(cell["source"])
            if PROSE_SOLUTION.search(text):
                cell["source"] = PROSE_SOLUTION.sub(PROSE_PLACEHOLDER, text).splitlines(keepends=True)
            continue
        if SOLUTION_TAG not in cell.get("metadata", {}).get("tags", []):
            continue
        text = "".join(cell["source"])
        lines = text.splitlines()
        stubs = []
        for node in ast.parse(text).body:
            if not isinstance(node, ast.FunctionDef):
                continue
            body = node.body
            keep = body[0].end_lineno if ast.get_docstring(node) is not None else node.body[0].lineno - 1
            indent = " " * body[0].col_offset
            stubs.append("\n".join(lines[node.lineno - 1 - len(node.decorator_list):keep])
                         + f'\n{indent}raise NotImplementedError("your code here")\n')
        if not stubs:
            raise ValueError(f"{source}: a cell tagged {SOLUTION_TAG!r} defines no function to stub")
        stubbed += len(stubs)
        cell["source"] = "\n\n".join(stubs).splitlines(keepends=True)
        cell["outputs"], cell["execution_count"] = [], None
    Path(target).parent.mkdir(parents=True, exist_ok=True)
    Path(target).write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n")
    return stubbed


__all__ = ["ExerciseError", "SOLUTION_TAG", "check_active_subspace", "check_deepfool_step",
           "check_distillation_loss", "check_fooling_rate", "check_frequent_directions", "check_hermite",
           "check_vgg_parameter_count", "student_notebook"]
