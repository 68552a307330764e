"""Tests for aslib.linalg.pce: index set, orthonormal Hermite basis, least squares, R^2, standardisation."""
from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from conftest import TEST_DEVICE
from numpy.polynomial import hermite_e

from aslib.linalg.pce import HermiteBasis, NormalEquations, Standardize, num_terms, r2_score, total_degree_indices


def fit(features: torch.Tensor, targets: torch.Tensor, ridge: float = 0.0) -> torch.Tensor:
    """The kit's one least-squares path: the normal equations of all rows, solved (float64)."""
    equations = NormalEquations(features.shape[1], targets.shape[1] if targets.dim() == 2 else 1, folds=1,
                                device=features.device)
    equations.add(features, targets)
    return equations.solve(ridge)


def reference_fit(features: torch.Tensor, targets: torch.Tensor, ridge: float) -> torch.Tensor:
    """NumPy's in-memory (ridge) least squares: lstsq without a ridge, the regularised normal equations with one."""
    f, t = features.numpy(), targets.numpy()
    if ridge == 0:
        return torch.from_numpy(np.linalg.lstsq(f, t, rcond=None)[0])
    return torch.from_numpy(np.linalg.solve(f.T @ f + ridge * np.eye(f.shape[1]), f.T @ t))


def reference_psi(x: np.ndarray, k: int) -> np.ndarray:
    """He_k(x) / sqrt(k!) from numpy."""
    coef = np.zeros(k + 1)
    coef[k] = 1.0
    return hermite_e.hermeval(x, coef) / math.sqrt(math.factorial(k))


def monomials(x: torch.Tensor, exponents: torch.Tensor) -> torch.Tensor:
    """``(n, dim)``, ``(T, dim)`` -> ``(n, T)`` with ``prod_i x_i ** e_i``."""
    return (x[:, None, :] ** exponents[None, :, :]).prod(dim=-1)


# ---------------------------------------------------------------- index set


@pytest.mark.parametrize("dim,degree", [(1, 1), (1, 4), (3, 2), (4, 3), (2, 5)])
def test_indices_are_the_total_degree_set(dim, degree):
    idx = total_degree_indices(dim, degree)
    assert idx.dtype == torch.int64 and idx.shape == (math.comb(dim + degree, degree), dim)
    expected = {a for a in itertools.product(range(degree + 1), repeat=dim) if sum(a) <= degree}
    got = [tuple(row) for row in idx.tolist()]
    assert len(set(got)) == len(got) and set(got) == expected
    degrees = idx.sum(dim=1)
    assert bool((degrees[1:] >= degrees[:-1]).all())  # ordered by degree


def test_index_order_and_count():
    idx = total_degree_indices(3, 2)
    assert idx[:4].tolist() == [[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]]
    assert idx[4:].tolist() == [[2, 0, 0], [1, 1, 0], [1, 0, 1], [0, 2, 0], [0, 1, 1], [0, 0, 2]]
    assert num_terms(50, 2) == 1326 == total_degree_indices(50, 2).shape[0] == HermiteBasis(50, 2).num_terms


# ---------------------------------------------------------------- basis values


def test_univariate_matches_numpy_hermeval():
    x = torch.linspace(-4, 4, 101, dtype=torch.float64)[:, None]
    values = HermiteBasis(1, 7)(x).numpy()
    for k in range(8):
        np.testing.assert_allclose(values[:, k], reference_psi(x[:, 0].numpy(), k), rtol=1e-12, atol=1e-12)


def test_multivariate_is_product_of_univariate():
    torch.manual_seed(0)
    basis = HermiteBasis(4, 3)
    x = torch.randn(16, 4, dtype=torch.float64)
    values = basis(x).numpy()
    xn = x.numpy()
    for t, alpha in enumerate(basis.indices.tolist()):
        expected = np.prod([reference_psi(xn[:, i], a) for i, a in enumerate(alpha)], axis=0)
        np.testing.assert_allclose(values[:, t], expected, rtol=1e-12, atol=1e-12)


def test_orthonormal_under_standard_gaussian():
    gen = torch.Generator().manual_seed(1)
    n = 200_000
    phi = HermiteBasis(3, 3)(torch.randn(n, 3, generator=gen, dtype=torch.float64))  # (n, 20)
    gram = phi.T @ phi / n
    products = phi[:, :, None] * phi[:, None, :]  # (n, 20, 20), ~64 MB
    stderr = products.std(dim=0) / math.sqrt(n)
    assert bool(((gram - torch.eye(phi.shape[1], dtype=torch.float64)).abs() <= 5 * stderr + 1e-12).all())


def test_no_parameters_and_buffers_follow_dtype():
    basis = HermiteBasis(5, 2)
    assert list(basis.parameters()) == []
    assert "indices" in basis.state_dict()
    x = torch.randn(3, 5)
    assert basis(x).dtype == torch.float32
    assert basis.to(torch.float64)(x.double()).dtype == torch.float64
    assert basis(x.double()).shape == (3, 21)


def test_float32_close_to_float64():
    torch.manual_seed(2)
    x = torch.randn(64, 6, dtype=torch.float64)
    basis = HermiteBasis(6, 3)
    torch.testing.assert_close(basis(x.float()), basis(x).float(), rtol=1e-5, atol=1e-5)


def test_gradients_flow():
    x = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(HermiteBasis(3, 3), (x,))


def test_macs_closed_form():
    assert HermiteBasis(50, 2).macs == 3 * 50 * 1 + 1326 * 1
    assert HermiteBasis(4, 1).macs == 0
    assert HermiteBasis(2, 5).macs == 3 * 2 * 4 + num_terms(2, 5) * 1


@pytest.mark.gpu
def test_cuda_parity():
    torch.manual_seed(3)
    x = torch.randn(32, 5, dtype=torch.float64)
    basis = HermiteBasis(5, 3)
    gpu = basis.to(TEST_DEVICE)(x.to(TEST_DEVICE))
    assert gpu.device.type == torch.device(TEST_DEVICE).type
    torch.testing.assert_close(gpu.cpu(), HermiteBasis(5, 3)(x))
    y = torch.randn(32, 2, dtype=torch.float64)
    w = fit(gpu, y.to(TEST_DEVICE))
    assert w.device.type == torch.device(TEST_DEVICE).type
    torch.testing.assert_close(w.cpu(), fit(HermiteBasis(5, 3)(x), y), rtol=1e-8, atol=1e-8)


# ---------------------------------------------------------------- fit


@pytest.mark.parametrize("dim,degree", [(2, 2), (3, 3), (5, 2)])
def test_fit_reproduces_every_polynomial_of_degree_p(dim, degree):
    gen = torch.Generator().manual_seed(4)
    n = 3 * num_terms(dim, degree)
    x = torch.randn(n, dim, generator=gen, dtype=torch.float64)
    exponents = total_degree_indices(dim, degree)
    coeffs = torch.randn(exponents.shape[0], 3, generator=gen, dtype=torch.float64)
    targets = monomials(x, exponents) @ coeffs  # (n, 3), random polynomials in the monomial basis
    phi = HermiteBasis(dim, degree)(x)
    weights = fit(phi, targets)
    assert weights.shape == (phi.shape[1], 3) and weights.dtype == torch.float64
    assert (phi @ weights - targets).abs().max() < 1e-10
    x_new = torch.randn(50, dim, generator=gen, dtype=torch.float64)  # exact, so it generalises
    assert (HermiteBasis(dim, degree)(x_new) @ weights - monomials(x_new, exponents) @ coeffs).abs().max() < 1e-9
    assert r2_score(phi @ weights, targets) == pytest.approx(1.0, abs=1e-12)


def test_fit_cannot_reproduce_higher_degree():
    x = torch.randn(200, 2, dtype=torch.float64)
    target = (x[:, :1] ** 3)
    phi = HermiteBasis(2, 2)(x)
    residual = phi @ fit(phi, target) - target
    assert residual.abs().max() > 1e-2


def test_ridge_matches_closed_form_and_allows_few_samples():
    gen = torch.Generator().manual_seed(5)
    phi = HermiteBasis(4, 2)(torch.randn(8, 4, generator=gen, dtype=torch.float64))  # n=8 < N_b=15
    y = torch.randn(8, 2, generator=gen, dtype=torch.float64)
    w = fit(phi, y, ridge=0.5)
    f, t = phi.numpy(), y.numpy()
    expected = np.linalg.solve(f.T @ f + 0.5 * np.eye(f.shape[1]), f.T @ t)
    np.testing.assert_allclose(w.numpy(), expected, rtol=1e-10, atol=1e-12)


def test_float32_features_are_fitted_in_float64():
    gen = torch.Generator().manual_seed(6)
    x = torch.randn(100, 3, generator=gen)
    phi = HermiteBasis(3, 2)(x)
    y = (x[:, :1] * x[:, 1:2] + 2.0)
    w = fit(phi, y)
    assert w.dtype == torch.float64
    assert (phi.double() @ w - y.double()).abs().max() < 1e-5


def test_integer_features_fit_like_float_features():
    features, targets = torch.randint(0, 3, (20, 2), generator=torch.Generator().manual_seed(0)), torch.randn(20, 1)
    weights = fit(features, targets)
    assert weights.is_floating_point()
    assert torch.allclose(weights, fit(features.float(), targets))


def test_fit_errors():
    phi = torch.randn(10, 15, dtype=torch.float64)
    with pytest.raises(ValueError, match="need at least N_b=15 samples.*got n=10.*ridge > 0"):
        fit(phi, torch.randn(10, 2, dtype=torch.float64))
    bad = torch.randn(20, 15)
    bad[3, 4] = float("nan")
    with pytest.raises(ValueError, match="features contain NaN or inf"):
        fit(bad, torch.randn(20, 1))
    targets = torch.randn(20, 1)
    targets[0, 0] = float("inf")
    with pytest.raises(ValueError, match="targets contain NaN or inf"):
        fit(torch.randn(20, 15), targets)
    with pytest.raises(ValueError, match="ridge must be a finite number >= 0"):
        fit(torch.randn(20, 15), torch.randn(20, 1), ridge=-1.0)
    with pytest.raises(ValueError, match=r"targets must be .* \(b, k\), got a float32 tensor of shape \(20,\)"):
        fit(torch.randn(20, 15), torch.randn(20))


# ---------------------------------------------------------------- validation, R^2, Standardize


def test_basis_errors():
    with pytest.raises(ValueError, match="dim must be a whole number >= 1, got int 0"):
        HermiteBasis(0, 2)
    with pytest.raises(ValueError, match="degree must be a whole number >= 1, got float 2.5"):
        HermiteBasis(3, 2.5)
    with pytest.raises(ValueError, match=r"expects input of shape \(B, 3\), got \(4, 2\)"):
        HermiteBasis(3, 2)(torch.randn(4, 2))
    with pytest.raises(ValueError, match=r"got \(3,\)"):
        HermiteBasis(3, 2)(torch.randn(3))
    with pytest.raises(ValueError, match="floating-point"):
        HermiteBasis(3, 2)(torch.ones(2, 3, dtype=torch.int64))


def test_r2_score():
    gen = torch.Generator().manual_seed(7)
    target = torch.randn(100, 2, generator=gen)
    assert r2_score(target, target) == 1.0
    assert r2_score(target.mean(dim=0).expand_as(target), target) == pytest.approx(0.0, abs=1e-12)
    pred = target + 0.1 * torch.randn(100, 2, generator=gen)
    per_output = [1 - ((target[:, k] - pred[:, k]) ** 2).sum() / ((target[:, k] - target[:, k].mean()) ** 2).sum()
                  for k in range(2)]
    assert r2_score(pred, target) == pytest.approx(float(sum(per_output) / 2), rel=1e-6)
    assert r2_score(pred[:, 0], target[:, 0]) == pytest.approx(float(per_output[0]), rel=1e-6)
    with pytest.raises(ValueError, match="same shape"):
        r2_score(pred, target[:, :1])


def test_standardize():
    gen = torch.Generator().manual_seed(8)
    z = 3.0 + 2.0 * torch.randn(500, 4, generator=gen, dtype=torch.float64)
    layer = Standardize.from_data(z)
    out = layer(z)
    torch.testing.assert_close(out.mean(dim=0), torch.zeros(4, dtype=torch.float64))
    torch.testing.assert_close(out.std(dim=0, correction=0), torch.ones(4, dtype=torch.float64))
    assert list(layer.parameters()) == [] and set(layer.state_dict()) == {"mean", "std"}
    with pytest.raises(ValueError, match=r"coordinates \[1\]"):
        Standardize.from_data(torch.stack([z[:, 0], torch.ones(500, dtype=torch.float64)], dim=1))
    with pytest.raises(ValueError, match=r"expects input of shape \(B, 4\), got \(2, 3\)"):
        layer(torch.zeros(2, 3, dtype=torch.float64))


def _design(n=400, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 3, generator=g, dtype=torch.float64)
    phi = HermiteBasis(3, 2)(x)
    y = phi @ torch.randn(phi.shape[1], 2, generator=g, dtype=torch.float64) + 0.3 * torch.randn(n, 2, generator=g,
                                                                                                 dtype=torch.float64)
    return phi, y


def test_normal_equations_streamed_in_batches_match_the_in_memory_fit():
    phi, y = _design()
    eq = NormalEquations(phi.shape[1], 2, folds=4)
    for start in range(0, len(phi), 37):
        rows = torch.arange(start, min(start + 37, len(phi)))
        eq.add(phi[rows], y[rows], rows % 4)
    assert eq.samples == len(phi)
    for ridge in (0.0, 3.0):
        w = eq.solve(ridge)
        torch.testing.assert_close(w, reference_fit(phi, y, ridge), rtol=1e-9, atol=1e-9)
    assert eq.r2(w) == pytest.approx(r2_score(phi @ w, y), abs=1e-10)


def test_normal_equations_cross_validation_equals_explicit_out_of_fold_predictions():
    phi, y = _design()
    fold = torch.arange(len(phi)) % 5
    eq = NormalEquations(phi.shape[1], 2, folds=5)
    eq.add(phi, y, fold)
    ridges = [0.0, 10.0, 1e4]
    scores = eq.cross_validate(ridges)
    for ridge, row in zip(ridges, scores):
        pred = torch.empty_like(y)
        for k in range(5):
            held = fold == k
            pred[held] = phi[held] @ reference_fit(phi[~held], y[~held], ridge)
        assert row["r2_heldout"] == pytest.approx(r2_score(pred, y), abs=1e-9)
    assert scores[2]["r2_heldout"] < scores[0]["r2_heldout"]  # a huge ridge shrinks W towards 0


def test_normal_equations_reject_bad_input():
    eq = NormalEquations(10, 2, folds=2)
    with pytest.raises(ValueError, match=r"expected features \(B, 10\) and targets \(B, 2\)"):
        eq.add(torch.randn(4, 9), torch.randn(4, 2))
    with pytest.raises(ValueError, match=r"fold indices must lie in \[0, 2\)"):
        eq.add(torch.randn(4, 10), torch.randn(4, 2), 2)
    with pytest.raises(ValueError, match="need at least N_b=10 samples"):
        eq.add(torch.randn(4, 10), torch.randn(4, 2))
        eq.solve(0.0)
    with pytest.raises(ValueError, match="at least two non-empty folds"):
        eq.cross_validate([0.0])
    with pytest.raises(ValueError, match="ridge must be a finite number >= 0"):
        eq.solve(-1.0)
    with pytest.raises(ValueError, match="terms must be a whole number >= 1"):
        NormalEquations(0, 2)
