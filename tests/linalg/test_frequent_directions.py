"""Frequent Directions: the sketch guarantee, merging, and the small-Gram solver."""
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from aslib.linalg.frequent_directions import (frequent_directions_bound, shrink, shrink_rows, sketch_directions,
    stacked_eigh)
from aslib.linalg.subspace import ActiveSubspace


@settings(max_examples=25, deadline=None)
@given(m=st.integers(5, 120), n=st.integers(2, 40), ell=st.integers(2, 20), batch=st.integers(1, 50),
       seed=st.integers(0, 10_000), decay=st.floats(0.0, 3.0))
def test_frequent_directions_guarantee(m, n, ell, batch, seed, decay):
    g = torch.Generator().manual_seed(seed)
    scales = torch.exp(-decay * torch.linspace(0, 1, n, dtype=torch.float64))
    grads = torch.randn(m, n, generator=g, dtype=torch.float64) * scales
    est = ActiveSubspace("frequent_directions", sketch_size=ell)
    for i in range(0, m, batch):
        est.partial_fit(grads[i:i + batch])
    sketch = est.store.sketch
    error = float(torch.linalg.matrix_norm(grads.T @ grads - sketch.T @ sketch, 2))
    for k in range(ell):
        assert error <= frequent_directions_bound(grads, ell, k) * (1 + 1e-9) + 1e-9
    assert est.n_samples == m


@settings(max_examples=15, deadline=None)
@given(m1=st.integers(5, 80), m2=st.integers(5, 80), n=st.integers(2, 30), ell=st.integers(2, 12),
       seed=st.integers(0, 10_000))
def test_merge_stays_within_the_bound(m1, m2, n, ell, seed):
    g = torch.Generator().manual_seed(seed)
    grads = torch.randn(m1 + m2, n, generator=g, dtype=torch.float64)
    left = ActiveSubspace("frequent_directions", sketch_size=ell).fit(grads[:m1])
    right = ActiveSubspace("frequent_directions", sketch_size=ell).fit(grads[m1:])
    merged = left.merge(right)
    sketch = merged.store.sketch
    error = float(torch.linalg.matrix_norm(grads.T @ grads - sketch.T @ sketch, 2))
    assert error <= frequent_directions_bound(grads, ell, 0) * (1 + 1e-9) + 1e-9
    assert merged.n_samples == m1 + m2
    assert merged.trace == pytest.approx(float(grads.pow(2).sum()) / (m1 + m2))


def test_shrink_subtracts_the_ell_th_energy_and_solver_matches_svd():
    g = torch.Generator().manual_seed(1)
    rows = torch.randn(12, 30, generator=g, dtype=torch.float64)
    sigma, v = sketch_directions(rows)
    reference = torch.linalg.svdvals(rows)
    assert torch.allclose(sigma, reference, rtol=1e-10)
    assert torch.allclose(v.T @ v, torch.eye(len(sigma), dtype=torch.float64), atol=1e-10)
    shrunk, delta = shrink(rows, 5)
    assert delta == pytest.approx(float(reference[4] ** 2))
    kept = torch.linalg.svdvals(shrunk)
    assert torch.allclose(kept[:4] ** 2, reference[:4] ** 2 - delta, rtol=1e-9)
    assert kept[4:].abs().max() < 1e-6


def test_the_structured_gram_is_the_gram_of_the_rows():
    """Old sketch rows orthogonal with norms sigma, then new rows: only the new rows' products are formed."""
    g = torch.Generator().manual_seed(2)
    basis = torch.linalg.qr(torch.randn(40, 6, generator=g, dtype=torch.float64)).Q
    sigma = torch.tensor([5.0, 3.0, 2.0, 1.0, 0.5, 0.1], dtype=torch.float64)
    rows = torch.cat([sigma[:, None] * basis.T, torch.randn(7, 40, generator=g, dtype=torch.float64)])
    evals, vecs = stacked_eigh(rows, sigma)
    reference = torch.linalg.eigvalsh(rows @ rows.T).flip(0)
    assert torch.allclose(evals, reference, rtol=1e-10)
    assert torch.allclose(rows @ rows.T @ vecs, vecs * evals, atol=1e-9)
    out = torch.zeros(13, 40, dtype=torch.float64)
    shrunk, delta = shrink_rows(rows, sigma, 8, out)
    assert delta == pytest.approx(float(reference[7]))
    assert torch.allclose(out[:7] @ out[:7].T, torch.diag(shrunk**2), atol=1e-9)  # orthogonal, norms shrunk
    assert torch.allclose(shrunk**2, reference[:7] - delta, rtol=1e-9)


def test_float32_gradients_keep_the_tail_of_a_steep_spectrum():
    """Eigenvalues spread over more than six decades: the sketch of float32 gradients matches the float64
    sketch of the same numbers to 0.5 % over its whole estimated spectrum (the floor of float32 products
    at lambda_i / lambda_1 ~ 4e-7), and its directions stay orthonormal."""
    g = torch.Generator().manual_seed(0)
    n, ell = 256, 64
    rotation = torch.linalg.qr(torch.randn(n, n, generator=g, dtype=torch.float64)).Q
    scales = 10 ** torch.linspace(0, -4, n, dtype=torch.float64)
    grads = ((torch.randn(3000, n, generator=g, dtype=torch.float64) * scales) @ rotation.T).float().double()
    exact = ActiveSubspace("frequent_directions", sketch_size=ell)
    single = ActiveSubspace("frequent_directions", sketch_size=ell)
    for i in range(0, 3000, 100):
        exact.partial_fit(grads[i:i + 100])
        single.partial_fit(grads[i:i + 100].float())
    assert single.eigenvalues[-1] / single.eigenvalues[0] < 1e-6  # the spectrum is steep
    relative = (single.eigenvalues.double() - exact.eigenvalues).abs() / exact.eigenvalues
    assert relative.max() < 5e-3 and relative[:10].max() < 1e-6
    v = single.components.double()
    assert (v.T @ v - torch.eye(v.shape[1], dtype=torch.float64)).abs().max() < 1e-5
