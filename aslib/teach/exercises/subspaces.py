"""Checks of the active-subspace exercises: the estimator and the randomized range finder (notebook 01), the
active-neuron count and Frequent Directions (03), a vector's share of the top-k active subspace (07)."""
from __future__ import annotations

from collections.abc import Callable

import torch

from aslib.contracts import contract
from aslib.linalg.frequent_directions import shrink, shrink_rows
from aslib.linalg.subspace import ActiveSubspace, count_active, subspace_distance, top_directions
from aslib.teach.exercises.grading import ExerciseError, answer_tensor, exercise, expect

__all__ = ["check_active_subspace", "check_count_active", "check_energy_share", "check_frequent_directions",
           "check_randomized_subspace"]


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


@contract
@exercise(ActiveSubspace, top_directions)
def check_active_subspace(solution: Callable) -> None:
    """``solution(G)`` for gradients ``G`` ``(m, n)`` returns ``(eigenvalues (n,), eigenvectors (n, n))`` of
    ``C = G^T G / m``, eigenvalues in decreasing order and eigenvector ``i`` in column ``i``."""
    ridge, a = _ridge_gradients(400, 8, 1)
    for what, G in (("random gradients (300 x 6)", _decaying_gradients(300, 6, 0)), ("a ridge function", ridge)):
        m, n = G.shape
        values, vectors = solution(G.clone())
        values = answer_tensor(values, "the eigenvalues", (n,)).double()
        vectors = answer_tensor(vectors, "the eigenvectors", (n, n)).double()
        kit = ActiveSubspace("exact").fit(G)
        if torch.allclose(values, kit.eigenvalues * m, rtol=1e-6):
            raise ExerciseError(f"on {what} your eigenvalues are m = {m} times too large: C is the *mean* of "
                                "g g^T, divide G^T G by the number of gradient rows")
        if torch.allclose(values.flip(0), kit.eigenvalues, rtol=1e-6, atol=1e-12):
            raise ExerciseError("your eigenvalues are in increasing order (as torch.linalg.eigh returns them): "
                                "flip both the eigenvalues and the columns of the eigenvectors")
        expect(torch.allclose(values, kit.eigenvalues, rtol=1e-6, atol=1e-12),
                f"on {what} the eigenvalues differ from the kit's: {values[:3].tolist()} vs "
                f"{kit.eigenvalues[:3].tolist()} (first three)")
        ev = kit.eigenvalues
        gaps = (ev[:-1] > 1.01 * ev[1:]) & (ev[:-1] > 1e-8 * ev[0])  # eigenvector i defined up to sign
        for i in range(n - 1):
            if gaps[i] and (i == 0 or gaps[i - 1]):
                overlap = float((vectors[:, i] @ kit.components[:, i]).abs())
                expect(overlap > 1 - 1e-6, f"on {what} eigenvector {i} (column {i}) is not the eigenvector of "
                        f"eigenvalue {float(kit.eigenvalues[i]):.4g} (|cosine| with the kit's: {overlap:.3f}); "
                        "the eigenvectors are the columns of the matrix, in the order of the eigenvalues")
        if what == "a ridge function":
            expect(float((vectors[:, 0] @ a).abs()) > 1 - 1e-6,
                    "for f(x) = sin(a.x) the first eigenvector must be the ridge direction a")


@contract
@exercise(ActiveSubspace, top_directions, torch.svd_lowrank, torch.pca_lowrank)
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
        values = answer_tensor(values, "the eigenvalues", (k,)).double()
        vectors = answer_tensor(vectors, "the eigenvectors", (n, k)).double()
        top = exact.eigenvalues[:k]
        if torch.allclose(values, top * m, rtol=1e-2):
            raise ExerciseError(f"your eigenvalues are m = {m} times too large: the eigenvalues of C = G^T G / m are "
                                "the squared singular values of G divided by m")
        if torch.allclose(values.flip(0), top, rtol=1e-2):
            raise ExerciseError("your eigenvalues are in increasing order: return the largest first")
        gram = vectors.T @ vectors
        expect(torch.allclose(gram, torch.eye(k, dtype=torch.float64), atol=1e-8),
                f"the columns of your eigenvectors are not orthonormal (largest entry of V^T V - I: "
                f"{float((gram - torch.eye(k, dtype=torch.float64)).abs().max()):.2g}); take them from an SVD or a QR")
        error = float(((values - top) / top).abs().max())
        distance = subspace_distance(vectors, exact.components[:, :k])
        expect(error < 1e-3 and distance < 1e-2,
                f"k = {k}, oversample = {oversample}, 2 power iterations: relative eigenvalue error {error:.2g} "
                f"(allowed: 1e-3) and distance to the exact top-{k} subspace {distance:.2g} (allowed: 1e-2): "
                "sketch Y = G Omega with Omega (n, k + oversample), orthonormalise, apply G^T then G power_iters "
                "times (a QR after each product), then take the SVD of Q^T G and keep its top k")


@contract
@exercise(ActiveSubspace, count_active)
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
        expect(isinstance(got, int), f"return an int (a count, e.g. with int(...)), got {type(got).__name__}")
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


@contract
@exercise(ActiveSubspace, shrink, shrink_rows, top_directions)
def check_frequent_directions(solution: Callable) -> None:
    """``solution(G, ell)`` streams the rows of ``G`` ``(m, n)`` through Frequent Directions and returns the
    sketch ``B`` ``(ell, n)``; checked by the guarantee ``0 <= G^T G - B^T B`` and, for every ``k < ell``,
    ``||G^T G - B^T B||_2 <= ||G - G_k||_F^2 / (ell - k)``."""
    ridge, _ = _ridge_gradients(300, 12, 3)
    for what, G, ell in (("random rows (500 x 40), ell = 10", _decaying_gradients(500, 40, 2), 10),
                         ("a ridge function's gradients, ell = 4", ridge, 4)):
        B = answer_tensor(solution(G.clone(), ell), "the sketch B", (ell, G.shape[1])).double()
        error = G.T @ G - B.T @ B
        scale = float(G.norm() ** 2)
        lowest = float(torch.linalg.eigvalsh(error)[0])
        expect(lowest >= -1e-9 * scale, f"on {what}: B^T B exceeds G^T G in some direction (lowest eigenvalue "
                f"of G^T G - B^T B is {lowest:.3g}): a sketch only removes energy; shrink the squared singular "
                "values by the same amount and clamp at zero")
        spectral = float(torch.linalg.matrix_norm(error, 2))
        tail = torch.linalg.svdvals(G) ** 2
        for k in range(ell):
            bound = float(tail[k:].sum()) / (ell - k)
            expect(spectral <= bound * (1 + 1e-9) + 1e-10 * scale,
                    f"on {what}: ||G^T G - B^T B||_2 = {spectral:.4g} exceeds the bound ||G - G_k||_F^2 / (ell - k) = "
                    f"{bound:.4g} at k = {k}: shrink by the ell-th squared singular value of the buffer (not more), "
                    "and put every new row into a zero row")


@contract
@exercise(ActiveSubspace, top_directions, torch.svd_lowrank, torch.pca_lowrank)
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
        expect(isinstance(got, float), f"return a Python float (e.g. with .item()), got {type(got).__name__}")
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
