from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch
from conftest import TEST_DEVICE

from aslib.linalg.subspace import (ActiveSubspace, active_variables, bootstrap, count_active, leading_directions,
    n_active_authors, streaming_method, subspace_distance, top_directions)
from aslib.nets.layer_analysis import fit_layers, layer_subspaces
from aslib.nets.models import build


def ridge_gradients(m=400, n=40, r=3, seed=0):
    """Gradients of f(x) = sum_i w_i sin(a_i^T x) with orthonormal a_i: the active subspace is span(A)."""
    g = torch.Generator().manual_seed(seed)
    a = torch.linalg.qr(torch.randn(n, r, generator=g, dtype=torch.float64))[0]
    x = torch.randn(m, n, generator=g, dtype=torch.float64)
    weights = torch.tensor([3.0, 2.0, 1.0][:r], dtype=torch.float64)
    return (torch.cos(x @ a) * weights) @ a.T, a


def test_exact_recovers_ridge_subspace_to_machine_precision():
    grads, a = ridge_gradients()
    est = ActiveSubspace("exact", rank=3).fit(grads)
    assert subspace_distance(est.components, a) < 1e-12
    c = grads.T @ grads / len(grads)
    ref = np.linalg.eigvalsh(c.numpy())[::-1][:3]
    assert np.allclose(est.eigenvalues.numpy(), ref, rtol=1e-10)
    assert est.trace == pytest.approx(float(torch.trace(c)), rel=1e-12)


def test_one_dimensional_ridge():
    g = torch.Generator().manual_seed(1)
    a = torch.randn(30, 1, generator=g, dtype=torch.float64)
    a /= a.norm()
    x = torch.randn(200, 30, generator=g, dtype=torch.float64)
    grads = 2 * (x @ a) * a.T
    est = ActiveSubspace("exact").fit(grads)
    assert subspace_distance(est.components[:, :1], a) < 1e-12
    assert est.n_active() == 1 and n_active_authors(est) == 0


@pytest.mark.parametrize("method", ["randomized", "frequent_directions"])
def test_approximate_methods_recover_ridge_subspace(method):
    grads, a = ridge_gradients()
    est = ActiveSubspace(method, rank=3, sketch_size=10).fit(grads)
    assert subspace_distance(est.components, a) < 1e-6
    assert torch.allclose(est.eigenvalues, ActiveSubspace("exact", rank=3).fit(grads).eigenvalues, rtol=1e-6)


def test_exact_merge_equals_joint_fit():
    grads, _ = ridge_gradients()
    joint = ActiveSubspace("exact").fit(grads)
    merged = ActiveSubspace("exact").fit(grads[:150]).merge(ActiveSubspace("exact").fit(grads[150:]))
    assert torch.allclose(joint.eigenvalues, merged.eigenvalues)


@pytest.mark.parametrize("solver", ["exact", "randomized"])
def test_top_directions_agree_with_numpy(solver):
    grads, _ = ridge_gradients(m=200, n=30)
    sigma, v = top_directions(grads, 3, solver, seed=2)
    u_np, s_np, vt_np = np.linalg.svd(grads.numpy(), full_matrices=False)
    assert np.allclose(sigma.numpy(), s_np[:3], rtol=1e-8)
    assert subspace_distance(v, torch.from_numpy(vt_np[:3].T)) < 1e-8
    with pytest.raises(ValueError, match="solver must be one of 'exact', 'randomized', 'frequent_directions'"):
        top_directions(grads, 1, "pca")


def test_active_neuron_conventions():
    eig = torch.tensor([0.5, 0.3, 0.15, 0.05])
    # cumulative energy 0.5, 0.8, 0.95, 1.0
    assert count_active(eig, 1.0, 0.95, "code") == 3      # > 0.9025
    assert count_active(eig, 1.0, 0.95, "paper") == 3     # >= 0.95
    assert count_active(eig, 1.0, 0.85, "code") == 2      # > 0.7225
    assert count_active(eig, 1.0, 0.85, "paper") == 3     # >= 0.85
    with pytest.raises(ValueError, match="delta"):
        count_active(eig, 1.0, 1.5)


def test_active_variables_and_bootstrap():
    grads, a = ridge_gradients(m=300)
    est = ActiveSubspace("exact", rank=3).fit(grads)
    x = torch.randn(5, 40, dtype=torch.float64)
    assert active_variables(est, x).shape == (5, 3)
    boot = bootstrap(est, n_boot=30, rank=3, seed=0)
    assert (boot["eigenvalues_low"][:3] <= est.eigenvalues * 1.0001).all()
    assert (boot["eigenvalues_high"][:3] >= est.eigenvalues * 0.9999).all()
    assert boot["distances"].max() < 1e-8  # a noiseless ridge: every resample spans the same subspace
    noisy = grads + 0.3 * torch.randn_like(grads)
    nb = bootstrap(ActiveSubspace("exact").fit(noisy), n_boot=30, rank=3)
    assert 1e-4 < float(nb["distances"].mean()) < 0.5


def test_errors():
    est = ActiveSubspace("exact", rank=50)
    with pytest.raises(ValueError, match="rank 50 is larger than the layer's 10 neurons"):
        est.fit(torch.randn(20, 10))
    with pytest.raises(FloatingPointError, match="NaN"):
        ActiveSubspace().fit(torch.tensor([[1.0, float("nan")]]))
    with pytest.raises(ValueError, match="no gradient rows"):
        ActiveSubspace().fit(torch.zeros(0, 3))
    with pytest.raises(ValueError, match="method must be one of 'exact', .*, got str 'pca'"):
        ActiveSubspace("pca")
    with pytest.raises(RuntimeError, match="no data yet"):
        ActiveSubspace().eigenvalues


def test_layer_subspaces_one_pass_and_logit_function():
    torch.manual_seed(0)
    model = build("lenet").eval()
    x, y = torch.randn(64, 1, 28, 28), torch.randint(0, 10, (64,))
    result = layer_subspaces(model, ["conv2", "fc1"], (x, y), method="exact", batch_size=16)
    assert result["fc1"].n_samples == 64 and result["conv2"].dim == 800
    table = result.table()
    assert [row["layer"] for row in table] == ["conv2", "fc1"]
    logit = layer_subspaces(model, ["fc1"], (x, y), method="exact", function="logit")["fc1"]
    direct = torch.stack([torch.autograd.functional.jacobian(
        lambda h: -model.fc2(h)[y[i]], model[:4](x[i:i + 1]).squeeze(0)) for i in range(64)])
    ref = ActiveSubspace("exact").fit(direct)
    assert torch.allclose(logit.eigenvalues[:5], ref.eigenvalues[:5], rtol=1e-4)


@pytest.mark.gpu
@pytest.mark.parametrize("method", ["frequent_directions", "gram"])
def test_cpu_gpu_parity(method):
    grads, _ = ridge_gradients()
    cpu = ActiveSubspace(method, sketch_size=10).fit(grads)
    gpu = ActiveSubspace(method, sketch_size=10).fit(grads.to(TEST_DEVICE))
    assert torch.allclose(cpu.eigenvalues, gpu.eigenvalues.cpu(), rtol=1e-8)
    assert subspace_distance(cpu.components[:, :3], gpu.components[:, :3].cpu()) < 1e-8


def test_leading_completes_a_rank_deficient_covariance_and_refuses_a_too_small_sketch():
    g = torch.Generator().manual_seed(0)
    low_rank = torch.randn(200, 2, generator=g) @ torch.randn(2, 10, generator=g)  # C has rank 2
    est = ActiveSubspace("frequent_directions", sketch_size=6).fit(low_rank)
    basis = leading_directions(est, 4)
    assert basis.shape == (10, 4)
    assert torch.allclose(basis.T @ basis, torch.eye(4), atol=1e-5)
    assert torch.allclose(basis[:, :2], est.components[:, :2])
    assert (low_rank @ basis[:, 2:]).abs().max() < 1e-3 * low_rank.abs().max()  # the completion is null space
    full = torch.randn(201, 10, generator=g)  # 2 l rows, then whole blocks of l: the buffer ends empty
    with pytest.raises(ValueError, match="sketch holds only"):
        leading_directions(ActiveSubspace("frequent_directions", sketch_size=3).fit(full), 4)
    with pytest.raises(ValueError, match="larger than the 10 neurons"):
        leading_directions(est, 11)


def test_gram_streams_the_exact_covariance_and_merges():
    """The Gram estimator is exact: same spectrum and subspace as the SVD of all rows, batch by batch,
    after a merge, and after a round trip through state()."""
    grads, a = ridge_gradients(m=300, n=40)
    exact = ActiveSubspace("exact").fit(grads)
    gram = ActiveSubspace("gram")
    for batch in grads.split(70):
        gram.partial_fit(batch)
    assert torch.allclose(gram.eigenvalues[:3], exact.eigenvalues[:3], rtol=1e-12)
    assert subspace_distance(gram.components[:, :3], a) < 1e-10
    assert gram.store.stored_numbers == 40 * 40 and gram.shrinkage == 0.0 and gram.components.dtype == torch.float64
    halves = [ActiveSubspace("gram").fit(part) for part in grads.split(150)]
    merged = ActiveSubspace.from_state(halves[0].state()).merge(ActiveSubspace.from_state(halves[1].state()))
    assert merged.n_samples == 300 and merged.trace == pytest.approx(exact.trace)
    assert torch.allclose(merged.eigenvalues, gram.eigenvalues, rtol=1e-10, atol=1e-14)
    with pytest.raises(ValueError, match="gram does not store gradients"):
        bootstrap(gram, n_boot=2)


@pytest.mark.parametrize("n, ell, expected", [(40, 10, "gram"), (83, 10, "gram"), (84, 10, "frequent_directions"),
                                              (1664, 200, "gram"), (1665, 200, "frequent_directions")])
def test_auto_picks_the_estimator_with_fewer_multiply_adds(n, ell, expected):
    """n^2 <= 4 l n + 36 l^2 <=> n <= (2 + sqrt(40)) l = 8.32 l: the boundary on both sides."""
    est = ActiveSubspace("auto", sketch_size=ell).partial_fit(torch.randn(3, n))
    assert est.method_ == expected
    assert (n * n <= 4 * ell * n + 36 * ell * ell) == (expected == "gram")


def test_auto_keeps_its_setting_and_resolves_anew_after_reset_and_in_merges():
    """The resolved method is a fitted attribute: ``method`` stays "auto", so a reset estimator resolves again
    for a batch of another width, and an empty "auto" estimator merges into whatever the other resolved to."""
    est = ActiveSubspace("auto", sketch_size=10).fit(torch.randn(5, 40))
    assert (est.method, est.method_) == ("auto", "gram")
    assert est.fit(torch.randn(5, 90)).method_ == "frequent_directions" and est.method == "auto"
    assert est.reset().method_ is None
    rows = torch.randn(12, 40, dtype=torch.float64)
    narrow = [ActiveSubspace("auto", sketch_size=10).fit(part) for part in rows.split(6)]
    merged = ActiveSubspace("auto", sketch_size=10).merge(narrow[0]).merge(narrow[1])
    assert merged.method_ == "gram" and merged.n_samples == 12
    assert torch.allclose(merged.eigenvalues, ActiveSubspace("exact").fit(rows).eigenvalues, rtol=1e-10)
    with pytest.raises(ValueError, match="cannot merge a 'gram' estimator into a 'frequent_directions' one"):
        ActiveSubspace("frequent_directions").merge(narrow[0])


def test_layer_subspaces_auto_is_exact_on_narrow_layers_and_sketches_wide_ones():
    torch.manual_seed(0)
    model = build("lenet").eval()
    x, y = torch.randn(96, 1, 28, 28), torch.randint(0, 10, (96,))
    auto = layer_subspaces(model, ["conv2", "fc1"], (x, y), method="auto", sketch_size=64, batch_size=32)
    exact = layer_subspaces(model, ["conv2", "fc1"], (x, y), method="exact", batch_size=32)
    # 500 and 800 neurons, on either side of 8.32 l = 532
    assert auto["fc1"].method_ == "gram" and auto["conv2"].method_ == "frequent_directions"
    assert torch.allclose(auto["fc1"].eigenvalues[:10], exact["fc1"].eigenvalues[:10], rtol=1e-4)
    assert [row["method"] for row in auto.table()] == ["frequent_directions", "gram"]


def test_fit_layers_side_by_side_equals_the_layers_in_turn_at_one_thread():
    """A pool of one-thread workers changes when each layer's batch is folded, not what: the sketches are
    bitwise those of sequential partial_fit calls at one thread, a worker's error reaches the caller, and the
    caller's thread count is left as it was."""
    g = torch.Generator().manual_seed(5)
    widths = {"wide": 300, "mid": 90, "narrow": 12}
    batches = [{name: torch.randn(24, n, generator=g) * torch.rand(n, generator=g) ** 3 for name, n in widths.items()}
               for _ in range(9)]
    threads = torch.get_num_threads()
    side = {name: ActiveSubspace("frequent_directions", sketch_size=10) for name in widths}
    with ThreadPoolExecutor(2, initializer=torch.set_num_threads, initargs=(1,)) as pool:
        for batch in batches:
            fit_layers(side, batch, pool)
        broken = {name: rows.clone() for name, rows in batches[0].items()}
        broken["mid"][3, 4] = float("nan")
        with pytest.raises(ValueError, match=r"NaN or inf values in rows \[3\]"):
            fit_layers({name: ActiveSubspace("gram") for name in widths}, broken, pool)
    assert torch.get_num_threads() == threads
    turn = {name: ActiveSubspace("frequent_directions", sketch_size=10) for name in widths}
    torch.set_num_threads(1)
    try:
        for batch in batches:
            fit_layers(turn, batch)
    finally:
        torch.set_num_threads(threads)
    for name in widths:
        assert side[name].n_samples == turn[name].n_samples == 216
        assert side[name].shrinkage > 0 and side[name].shrinkage == turn[name].shrinkage
        assert torch.equal(side[name].store.sketch, turn[name].store.sketch)


def test_layer_subspaces_runs_layers_side_by_side_within_the_fd_guarantee(monkeypatch):
    """The caller's threads are shared out among one worker per layer, and every sketch keeps the bound."""
    torch.manual_seed(1)
    model = build("lenet").eval()
    x, y = torch.randn(160, 1, 28, 28), torch.randint(0, 10, (160,))
    seen = []
    fit = ActiveSubspace.partial_fit
    monkeypatch.setattr(ActiveSubspace, "partial_fit",
                        lambda self, rows: seen.append(torch.get_num_threads()) or fit(self, rows))
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(4)
        layer_subspaces(model, ["conv2", "fc1"], (x, y), sketch_size=24, batch_size=32)
        assert set(seen) == {2} and torch.get_num_threads() == 4
        seen.clear()
        torch.set_num_threads(2)
        sketched = layer_subspaces(model, ["conv1", "conv2", "fc1"], (x, y), sketch_size=24, batch_size=32)
        assert set(seen) == {1} and len(seen) == 15 and torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(threads)
    exact = layer_subspaces(model, ["conv1", "conv2", "fc1"], (x, y), method="exact", batch_size=32)
    for name in ("conv1", "conv2", "fc1"):
        grads = exact[name].store.gradients.double()
        sketch = sketched[name].store.sketch.double()
        assert sketched[name].shrinkage > 0
        err = float(torch.linalg.matrix_norm(grads.T @ grads - sketch.T @ sketch, 2))
        assert err <= float(torch.linalg.matrix_norm(grads, "fro") ** 2) / 24 * (1 + 1e-5)


def test_gradient_energy_is_exact_and_flags_nan_inf_and_overflow():
    """One float64 pass gives the exact trace and finds the bad rows."""
    g = torch.Generator().manual_seed(3)
    rows = torch.randn(50, 30, generator=g) * torch.rand(50, 30, generator=g) ** 4
    est = ActiveSubspace("frequent_directions", sketch_size=8).fit(rows)
    assert est.trace == pytest.approx(float(rows.double().pow(2).sum()) / 50, rel=1e-12)
    for bad in (float("nan"), float("inf")):
        broken = rows.clone()
        broken[7, 3] = bad
        with pytest.raises(ValueError, match=r"NaN or inf values in rows \[7\]"):
            ActiveSubspace("gram").fit(broken)
    with pytest.raises(ValueError, match="overflows float64"):
        ActiveSubspace("exact").fit(torch.full((2, 3), 1e200, dtype=torch.float64))


@pytest.mark.parametrize("n, ell", [(0, 10), (10, 0), (2.5, 10), (10, -3)])
def test_streaming_method_rejects_non_positive_sizes(n, ell):
    with pytest.raises(ValueError, match="n must|ell must"):
        streaming_method(n, ell)
