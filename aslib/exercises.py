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
and nbgrader versions of the notebooks are made by :mod:`aslib.handouts`.
"""
from __future__ import annotations

import functools
import inspect
import math
import os
import sys
import traceback
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

from .asnet import ASNet, build_asnet, split_model
from .attacks import as_attack, attack_ratio, deepfool, dominant_direction, fooling_rate
from .attacks.deepfool_batched import run_deepfool
from .attacks.evaluation import rates
from .finetuning import distillation_loss, soft_threshold_
from .gradients import input_gradients
from .frequent_directions import shrink, shrink_rows
from .metrics import complexity
from .models import VGG, VGG_CONFIGS, count_parameters
from .pce import HermiteBasis, NormalEquations, Standardize
from .subspace import ActiveSubspace, count_active, subspace_distance, top_directions

GRADING_VARIABLE = "ASLIB_GRADING"
"""Environment variable that turns on grading mode: with it set to ``1`` a check of an exercise that is not
implemented yet fails (ExerciseError) instead of printing "not implemented yet", so an autograder cannot pass a
stub."""

class ExerciseError(AssertionError):
    """A learner's function gives a wrong answer; the message says what is wrong and how to fix it."""


def _contract(check: Callable) -> str:
    """The first sentence of a check's docstring: how it calls the learner's function and what it expects."""
    return " ".join((check.__doc__ or "").split()).split(". ")[0].replace("``", "")


def _code_objects(kit: tuple[Any, ...]) -> dict[Any, str]:
    """The code objects of the kit's functions (of a class: every method it defines), with readable names."""
    codes = {}
    for item in kit:
        members = [m for m in vars(item).values()] if isinstance(item, type) else [item]
        for member in members:
            member = getattr(member, "fget", member)  # a property's getter
            function = inspect.unwrap(getattr(member, "__func__", member)) if callable(member) else member
            code = getattr(function, "__code__", None)
            if code is not None:
                codes[code] = f"{item.__module__}.{item.__qualname__}"
    return codes


def _calls_to(solution: Callable, kit: dict[Any, str], *args: Any, **kwargs: Any) -> tuple[Any, list[str]]:
    """``solution(*args, **kwargs)`` and the names of the kit's functions in ``kit`` it called, directly or not
    (recorded by a profile hook for the duration of the call; the previous hook is restored)."""
    called: list[str] = []

    def hook(frame, event, _arg):
        if event == "call" and frame.f_code in kit and kit[frame.f_code] not in called:
            called.append(kit[frame.f_code])

    previous = sys.getprofile()
    sys.setprofile(hook)
    try:
        answer = solution(*args, **kwargs)
    finally:
        sys.setprofile(previous)
    return answer, called


def _guarded(solution: Callable, check: Callable, kit: dict[Any, str]) -> Callable:
    """``solution`` called as the check calls it, answering in words when the call does not fit the learner's
    signature, the function returns None (a forgotten ``return``) or it calls the kit's own answer to the
    exercise (a function in ``kit``)."""
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
        answer, called = _calls_to(solution, kit, *args, **kwargs)
        if called:
            raise ExerciseError(f"{name} calls {', '.join(called)}: that is the kit's own answer to this exercise; "
                                "write it yourself with torch (the exercise text says which aslib helpers you may use)")
        if answer is None:
            raise ExerciseError(f"{name} returned None: end it with `return ...`; the check expects: "
                                f"{_contract(check)}")
        return answer

    return call


def _exercise(*kit: Any) -> Callable[[Callable[[Callable], None]], Callable[[Callable], bool | None]]:
    """Make ``check(solution)`` an exercise check; the learner's function may not call anything in ``kit`` (the
    kit's functions and classes that do the exercise's job), so the check cannot be passed by calling them."""
    codes = _code_objects(kit)

    def exercise(check: Callable[[Callable], None]) -> Callable[[Callable], bool | None]:
        return _run(check, codes)
    return exercise


def _run(check: Callable[[Callable], None], kit: dict[Any, str]) -> Callable[[Callable], bool | None]:
    @functools.wraps(check)
    def run(solution: Callable) -> bool | None:
        if not callable(solution):
            raise TypeError(f"{check.__name__} takes your function itself (e.g. my_fd), not {type(solution).__name__}")
        try:
            check(_guarded(solution, check, kit))
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


@_exercise(ActiveSubspace, top_directions)
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


@_exercise(ActiveSubspace, top_directions, torch.svd_lowrank, torch.pca_lowrank)
def check_randomized_subspace(solution: Callable) -> None:
    """``solution(G, k, oversample, power_iters, generator)`` returns the leading ``k`` eigenvalues ``(k,)``
    (decreasing) and eigenvectors ``(n, k)`` (orthonormal columns) of ``C = G^T G / m`` by the randomized range
    finder of Halko, Martinsson & Tropp (2011) with ``k + oversample`` Gaussian test vectors drawn from
    ``generator`` and ``power_iters`` power iterations; checked against the exact decomposition with two power
    iterations, with tolerances 5 (subspace) and 40 (eigenvalues) times the worst of 20 seeds of a correct range
    finder, and which one power iteration or none can miss."""
    G = _decaying_gradients(400, 100, 11)  # eigenvalues about 1/i^2: no gap is large, so the power iterations matter
    m, n = G.shape
    exact = ActiveSubspace("exact").fit(G)
    for k, oversample, seed in ((5, 10, 0), (3, 10, 1)):
        values, vectors = solution(G.clone(), k, oversample, 2, torch.Generator().manual_seed(seed))
        values = _tensor(values, "the eigenvalues", (k,)).double()
        vectors = _tensor(vectors, "the eigenvectors", (n, k)).double()
        top = exact.eigenvalues[:k]
        if torch.allclose(values, top * m, rtol=1e-2):
            raise ExerciseError(f"your eigenvalues are m = {m} times too large: the eigenvalues of C = G^T G / m are "
                                "the squared singular values of G divided by m")
        if torch.allclose(values.flip(0), top, rtol=1e-2):
            raise ExerciseError("your eigenvalues are in increasing order: return the largest first")
        gram = vectors.T @ vectors
        _expect(torch.allclose(gram, torch.eye(k, dtype=torch.float64), atol=1e-8),
                f"the columns of your eigenvectors are not orthonormal (largest entry of V^T V - I: "
                f"{float((gram - torch.eye(k, dtype=torch.float64)).abs().max()):.2g}); take them from an SVD or a QR")
        error = float(((values - top) / top).abs().max())
        distance = subspace_distance(vectors, exact.components[:, :k])
        _expect(error < 1e-3 and distance < 1e-2,
                f"k = {k}, oversample = {oversample}, 2 power iterations: relative eigenvalue error {error:.2g} "
                f"(allowed: 1e-3) and distance to the exact top-{k} subspace {distance:.2g} (allowed: 1e-2): "
                "sketch Y = G Omega with Omega (n, k + oversample), orthonormalise, apply G^T then G power_iters "
                "times (a QR after each product), then take the SVD of Q^T G and keep its top k")



def _vgg_config(depth: int, width: float) -> list[int | str]:
    """The kit's VGG configuration list at ``width`` (channels rounded as :class:`aslib.models.VGG` does)."""
    return [c if c == "M" else max(1, int(round(c * width))) for c in VGG_CONFIGS[depth]]

@_exercise(VGG, count_parameters)
def check_vgg_parameter_count(solution: Callable) -> None:
    """``solution(config, in_channels, num_classes, batch_norm)`` returns the number of parameters of the kit's
    CIFAR VGG: 3x3 convolutions with bias (channels from ``config``, ``"M"`` a max-pool), batch norm after
    each when ``batch_norm``, and one ``Linear(last channels, num_classes)``."""
    for depth, width, batch_norm in ((11, 1.0, True), (19, 1.0, True), (19, 0.25, True), (13, 0.5, False)):
        config = _vgg_config(depth, width)
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


@_exercise(VGG, complexity)
def check_vgg_macs(solution: Callable) -> None:
    """``solution(config, in_channels, num_classes)`` returns the multiply-accumulates (MACs) of one forward of a
    ``32 x 32`` image through the kit's CIFAR VGG (the network of :func:`check_vgg_parameter_count`): a 3x3
    convolution with padding 1 costs ``C_in * 9 * C_out * H * W``, a max-pool halves ``H`` and ``W``, the
    classifier ``Linear(C, K)`` costs ``C * K``; biases, batch norm, ReLU and pooling are free (the rule of
    :func:`aslib.metrics.complexity`, which measures it with ``torch.utils.flop_counter``)."""
    for depth, width in ((11, 1.0), (16, 0.5), (19, 0.25)):
        config = _vgg_config(depth, width)
        expected = complexity(VGG(depth, 10, True, width), (3, 32, 32))["macs"]
        got = solution(list(config), 3, 10)
        _expect(isinstance(got, int), f"return an int (a count), got {type(got).__name__}")
        if got == expected:
            continue
        convs = [c for c in config if c != "M"]
        hint = ""
        if expected - got == convs[-1] * 10:
            hint = ": add the classifier, Linear(last channels, 10), which costs its in * out weights"
        elif got > 4 * expected:
            hint = ": after each max-pool the image is half as high and half as wide (32, 16, 8, 4, 2, 1)"
        elif got > expected:
            hint = ": biases, batch norm and activations are not counted (only the products of the weights)"
        raise ExerciseError(f"VGG-{depth} at width {width}: you count {got:,} MACs, the network needs {expected:,} "
                            f"({got - expected:+,}){hint}")


@_exercise(ActiveSubspace, count_active)
def check_count_active(solution: Callable) -> None:
    """``solution(eigenvalues, delta)`` for an eigenvalue spectrum ``(n,)`` in decreasing order returns the
    number of active neurons of Definition 3.1 in the paper's convention, as an int: the smallest ``r`` (counted
    from 1) whose cumulative energy ``(lambda_1 + ... + lambda_r) / (lambda_1 + ... + lambda_n)`` is at least
    ``delta``."""
    power = 1.0 / torch.arange(1, 51, dtype=torch.float64) ** 2
    cases = [("a power-law spectrum i^-2 (n = 50)", power, delta) for delta in (0.5, 0.9, 0.95, 0.99)]
    cases += [("a flat spectrum (n = 20)", torch.ones(20, dtype=torch.float64), 0.95),
              ("the spectrum (4, 3, 2, 1)", torch.tensor([4.0, 3.0, 2.0, 1.0], dtype=torch.float64), 0.9)]
    for what, eigenvalues, delta in cases:
        total = float(eigenvalues.sum())
        expected = count_active(eigenvalues, total, delta, "paper")
        got = solution(eigenvalues.clone(), delta)
        _expect(isinstance(got, int), f"return an int (a count, e.g. with int(...)), got {type(got).__name__}")
        if got == expected:
            continue
        hint = ""
        if got == expected - 1:
            hint = ": count from 1 (an index into the cumulative sums is 0-based)"
        elif got == count_active(eigenvalues, total, delta, "code"):
            hint = (": you compare with delta^2, the authors' code's convention; Definition 3.1 as written asks for "
                    "at least delta of the energy")
        elif got == expected + 1:
            hint = ": 'at least delta' includes equality (>=, not >)"
        raise ExerciseError(f"{what}, delta = {delta}: you count {got}, Definition 3.1 gives {expected}{hint}")


@_exercise(ActiveSubspace, shrink, shrink_rows, top_directions)
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


@_exercise(HermiteBasis)
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


@_exercise(soft_threshold_)
def check_soft_threshold(solution: Callable) -> None:
    """``solution(w, threshold)`` returns the l1 proximal step (soft thresholding) of the tensor ``w`` as a new
    tensor of the same shape: every entry moves ``threshold`` towards zero and stops at zero,
    ``sign(w) * max(|w| - threshold, 0)``."""
    g = torch.Generator().manual_seed(12)
    w = torch.randn(8, 25, generator=g, dtype=torch.float64)
    for threshold in (0.0, 0.3, 1.0, 10.0):
        got = _tensor(solution(w.clone(), threshold), f"the result for threshold {threshold}", tuple(w.shape)).double()
        expected = w.sign() * (w.abs() - threshold).clamp_min(0)
        if torch.allclose(got, expected, atol=1e-12):
            continue
        if torch.allclose(got, w * (w.abs() > threshold), atol=1e-12):
            raise ExerciseError(f"threshold {threshold}: that is hard thresholding (small entries set to zero, the "
                                "others kept); the proximal step of the l1 penalty also moves every surviving entry "
                                "threshold closer to zero")
        if torch.allclose(got, (w.abs() - threshold).clamp_min(0), atol=1e-12):
            raise ExerciseError(f"threshold {threshold}: your result has lost the signs; multiply by sign(w)")
        if torch.allclose(got, w - threshold * w.sign(), atol=1e-12):
            raise ExerciseError(f"threshold {threshold}: entries smaller than the threshold cross zero; they must "
                                "stop at exactly zero (clamp |w| - threshold at 0): that is where the zeros come from")
        raise ExerciseError(f"threshold {threshold}: your result differs from sign(w) max(|w| - threshold, 0) by up to "
                            f"{float((got - expected).abs().max()):.3g}")


@_exercise(distillation_loss)
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


@_exercise(deepfool, run_deepfool)
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


@_exercise(fooling_rate, attack_ratio, rates)
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


@_exercise(ActiveSubspace, top_directions, torch.svd_lowrank, torch.pca_lowrank)
def check_energy_share(solution: Callable) -> None:
    """``solution(v, G, k)`` returns, as a float, the share ``||V_k^T v||^2 / ||v||^2`` of the perturbation ``v``
    (any shape with ``d`` entries) in the span ``V_k`` ``(d, k)`` of the top ``k`` eigenvectors of
    ``C = G^T G / m`` for gradients ``G`` ``(m, d)`` with fewer rows than columns, as in notebook 07 section 7
    (a random direction's share is ``k / d`` on average)."""
    g = torch.Generator().manual_seed(13)
    m, d = 60, 300
    basis = torch.linalg.qr(torch.randn(d, d, generator=g, dtype=torch.float64)).Q
    scales = 1.0 / torch.arange(1, m + 1, dtype=torch.float64)
    G = (torch.randn(m, m, generator=g, dtype=torch.float64) * scales) @ basis[:, :m].T  # rank m < d
    Vh = torch.linalg.svd(G, full_matrices=False).Vh
    inside = Vh[:3].T @ torch.randn(3, generator=g, dtype=torch.float64)
    for what, v, k in (("a random v", torch.randn(3, 10, 10, generator=g, dtype=torch.float64), 5),
                       ("a v inside the top-3 subspace", inside.reshape(3, 10, 10), 3),
                       ("a v with 30 % of its energy in the top-10 subspace",
                        (0.3 ** 0.5 * Vh[0] + 0.7 ** 0.5 * basis[:, m]).reshape(3, 10, 10) * 4.0, 10)):
        got = solution(v.clone(), G.clone(), k)
        _expect(isinstance(got, float), f"return a Python float (e.g. with .item()), got {type(got).__name__}")
        unit = v.flatten() / v.norm()
        expected = float(((Vh[:k] @ unit) ** 2).sum())
        if abs(got - expected) < 1e-8:
            continue
        hint = ""
        if abs(got - float(((Vh[-k:] @ unit) ** 2).sum())) < 1e-8:
            hint = ": you took the eigenvectors of the *smallest* eigenvalues (torch.linalg.eigh sorts increasingly)"
        elif abs(got - expected * float(v.norm()) ** 2) < 1e-8 * float(v.norm()) ** 2:
            hint = ": divide by ||v||^2 (a share of v's energy)"
        elif abs(got - expected ** 0.5) < 1e-8:
            hint = ": square the norm (a share of energy, ||V_k^T v||^2, not a cosine)"
        raise ExerciseError(f"{what}, k = {k}: your share is {got:.4f}, the top-{k} eigenvectors of G^T G / m "
                            f"capture {expected:.4f}{hint}")


def _attack_problem() -> tuple[torch.nn.Module, torch.Tensor, torch.Tensor]:
    """A seeded float64 ReLU network ``16 -> 32 -> 32 -> 32 -> 10`` on 300 Gaussian ``(1, 4, 4)`` images labelled
    by its own predictions; chosen so that Algorithm 4.1's recursion matters (8 iterations reach a clearly higher
    attack ratio than 1 at xi = 2)."""
    g = torch.Generator().manual_seed(2)
    layers: list[torch.nn.Module] = [torch.nn.Flatten()]
    for fan_in in (16, 32, 32):
        layers += [torch.nn.Linear(fan_in, 32), torch.nn.ReLU()]
    model = torch.nn.Sequential(*layers, torch.nn.Linear(32, 10)).double()
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=torch.float64) * 2 / p.shape[-1] ** 0.5)
    x = torch.randn(300, 1, 4, 4, generator=g, dtype=torch.float64)
    return model.eval(), x, model(x).argmax(1).detach()


@_exercise(as_attack, dominant_direction, top_directions)
def check_as_attack(solution: Callable) -> None:
    """``solution(model, x, y, xi, iterations)`` runs ``iterations`` iterations of Algorithm 4.1 (l2 norm) and
    returns the best universal perturbation ``v`` (shape ``x.shape[1:]``) rescaled to norm ``xi``; compared with
    :func:`aslib.attacks.as_attack` (``max_iter = patience = iterations``, ten line-search trials from step
    ``xi**2``) on a small ReLU network."""
    model, x, y = _attack_problem()
    gradient_sum = input_gradients(model, x, y).sum(0)
    mean_direction = gradient_sum / gradient_sum.norm()
    for xi, iterations in ((0.5, 1), (2.0, 1), (2.0, 8)):
        kit = as_attack(model, x, y, xi, max_iter=iterations, patience=iterations).vector
        v = _tensor(solution(model, x.clone(), y.clone(), xi, iterations), f"v (xi = {xi})", tuple(x.shape[1:]))
        v = v.double()
        _expect(abs(float(v.norm()) - xi) < 1e-6 * xi, f"xi = {xi}: ||v|| = {float(v.norm()):.6g}, not xi: return "
                "the best v rescaled to norm xi (v * xi / ||v||)")
        ratio, expected = attack_ratio(model, x, y, v), attack_ratio(model, x, y, kit)
        if iterations == 1:
            cosine = float(v.flatten() @ kit.flatten()) / xi ** 2
            if cosine < -0.999:
                raise ExerciseError(f"xi = {xi}, one iteration: your v is minus the kit's; the line search tries both "
                                    "signs, v + s d and v - s d, and keeps the one with the higher attack ratio "
                                    "(ties go to minus, with d signed so that d . sum of gradients >= 0)")
            if abs(float(v.flatten() @ mean_direction.flatten())) / xi > 0.999 and abs(cosine) < 0.999:
                raise ExerciseError(f"xi = {xi}, one iteration: your v is along the mean gradient; the attack "
                                    "direction is the top right singular vector of the (m, d) gradient matrix "
                                    "(torch.linalg.svd(G).Vh[0]), the top active direction of the input layer")
            _expect(cosine > 0.999, f"xi = {xi}, one iteration: your v is not along the kit's first direction "
                    f"(cosine {cosine:.3f}); take the cross-entropy gradient of every sample at x (rows of G, "
                    "(m, d) with d = C*H*W), the top right singular vector of G, and the line search on it")
        elif ratio < expected - 0.03:
            one = attack_ratio(model, x, y, as_attack(model, x, y, xi, max_iter=1, patience=1).vector)
            hint = (" (about what one iteration reaches: is the recursion there? each iteration takes the "
                    "gradients at x + v of the samples still classified correctly)") if abs(ratio - one) < 0.02 else ""
            raise ExerciseError(f"xi = {xi}, {iterations} iterations: your v reaches attack ratio {ratio:.3f}, the "
                                f"kit's {expected:.3f}{hint}; keep the best v seen over the iterations")


def _asnet_problem() -> tuple[torch.nn.Module, torch.Tensor]:
    """A seeded float64 tanh network ``12 -> 20 -> 16 -> 5`` and 400 Gaussian inputs ``(400, 12)``."""
    g = torch.Generator().manual_seed(8)
    model = torch.nn.Sequential(torch.nn.Linear(12, 20), torch.nn.Tanh(), torch.nn.Linear(20, 16), torch.nn.Tanh(),
                                torch.nn.Linear(16, 5)).double()
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=torch.float64) * 1.5 / p.shape[-1] ** 0.5)
    return model.eval(), torch.randn(400, 12, generator=g, dtype=torch.float64) + 0.5


@_exercise(build_asnet, ASNet, NormalEquations, Standardize)
def check_asnet_head(solution: Callable) -> None:
    """``solution(pre, post, x, V, degree)`` does step 2 of Algorithm 3.1 and returns ``(mean (r,), std (r,),
    weights (N_b, K))``: the active variables ``z = pre(x).flatten(1) @ V`` standardised by their mean and
    population std, and the least-squares fit of the teacher's logits ``post(pre(x))`` on
    ``HermiteBasis(r, degree)((z - mean) / std)``; compared with :func:`aslib.asnet.build_asnet`."""
    model, x = _asnet_problem()
    g = torch.Generator().manual_seed(9)
    for layer, rank, degree in (("3", 3, 2), ("1", 2, 3)):
        pre, post = split_model(model, layer)
        with torch.no_grad():
            acts, logits = pre(x).flatten(1), model(x)
        V = torch.linalg.qr(torch.randn(acts.shape[1], rank, generator=g, dtype=torch.float64)).Q
        asnet, _ = build_asnet(model, layer, (x, logits.argmax(1)), rank=rank, degree=degree, directions=V, folds=1)
        terms = asnet.basis.num_terms
        answer = solution(pre, post, x.clone(), V.clone(), degree)
        _expect(isinstance(answer, tuple) and len(answer) == 3, "return the tuple (mean, std, weights)")
        mean = _tensor(answer[0], "mean", (rank,)).double()
        std = _tensor(answer[1], "std", (rank,)).double()
        weights = answer[2]
        if isinstance(weights, torch.Tensor) and tuple(weights.shape) == (logits.shape[1], terms):
            raise ExerciseError(f"weights have shape (K, N_b) = {tuple(weights.shape)}; return (N_b, K) so that "
                                "features @ weights predicts the logits")
        weights = _tensor(weights, "weights", (terms, logits.shape[1])).double()
        kit_mean, kit_std = asnet.standardize.mean, asnet.standardize.std
        where = f"cut {layer!r}, r = {rank}, p = {degree}"
        if torch.allclose(mean, torch.zeros(rank, dtype=torch.float64)) and torch.allclose(std, torch.ones_like(std)):
            raise ExerciseError(f"{where}: mean 0 and std 1 means no standardisation; the Hermite basis is orthonormal "
                                "for standard normal inputs, so centre and scale z = x_l V by its own mean and std")
        _expect(torch.allclose(mean, kit_mean, rtol=1e-8, atol=1e-10), f"{where}: the mean of z differs from the "
                "kit's; z = pre(x).flatten(1) @ V (the projection on the r directions, (N, r)), mean over the samples")
        if torch.allclose(std, kit_std * math.sqrt(len(x) / (len(x) - 1)), rtol=1e-8):
            raise ExerciseError(f"{where}: you use the sample std (divides by N - 1); the kit standardises by the "
                                "population std (correction=0), as a module frozen at these statistics")
        _expect(torch.allclose(std, kit_std, rtol=1e-8), f"{where}: the std of z differs from the kit's")
        features = asnet.basis((acts @ V - kit_mean) / kit_std)
        kit_weights = asnet.head.weight.T
        if torch.allclose(weights, kit_weights, rtol=1e-6, atol=1e-8):
            continue
        if torch.allclose(features @ weights, features @ kit_weights, rtol=1e-6, atol=1e-8):
            raise ExerciseError(f"{where}: your fit predicts the same logits with other weights: use the columns of "
                                "aslib.pce.HermiteBasis(r, degree) in its order")
        labels = F.one_hot(logits.argmax(1), logits.shape[1]).double()
        if torch.allclose(weights, torch.linalg.lstsq(features, labels).solution, rtol=1e-6, atol=1e-8):
            raise ExerciseError(f"{where}: you fit the one-hot labels; ASNet's head fits the teacher's logits "
                                "post(pre(x)) (it is distilled from the network, not trained on the labels)")
        raise ExerciseError(f"{where}: the weights differ from the least-squares fit of the logits on the Hermite "
                            "features of the standardised z (largest difference "
                            f"{float((weights - kit_weights).abs().max()):.3g}); solve min ||Phi W - logits||^2 "
                            "with torch.linalg.lstsq(Phi, logits).solution")


__all__ = ["ExerciseError", "GRADING_VARIABLE", "check_active_subspace", "check_as_attack", "check_asnet_head",
           "check_count_active", "check_deepfool_step", "check_distillation_loss", "check_energy_share",
           "check_fooling_rate", "check_frequent_directions", "check_hermite", "check_randomized_subspace",
           "check_soft_threshold", "check_vgg_macs", "check_vgg_parameter_count"]
