import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from aslib.gradients import layer_gradients, resolve_layers
from aslib.models import build
from aslib.subspace import (
    ActiveSubspace,
    count_active,
    frequent_directions_bound,
    layer_subspaces,
    subspace_distance,
)


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
    assert est.n_active() == 1 and est.n_active_authors() == 0


@pytest.mark.parametrize("method", ["randomized", "frequent_directions"])
def test_approximate_methods_recover_ridge_subspace(method):
    grads, a = ridge_gradients()
    est = ActiveSubspace(method, rank=3, sketch_size=10).fit(grads)
    assert subspace_distance(est.components, a) < 1e-6
    assert torch.allclose(est.eigenvalues, ActiveSubspace("exact", rank=3).fit(grads).eigenvalues, rtol=1e-6)


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
    sketch = est.sketch
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
    sketch = merged.sketch
    error = float(torch.linalg.matrix_norm(grads.T @ grads - sketch.T @ sketch, 2))
    assert error <= frequent_directions_bound(grads, ell, 0) * (1 + 1e-9) + 1e-9
    assert merged.n_samples == m1 + m2
    assert merged.trace == pytest.approx(float(grads.pow(2).sum()) / (m1 + m2))


def test_exact_merge_equals_joint_fit():
    grads, _ = ridge_gradients()
    joint = ActiveSubspace("exact").fit(grads)
    merged = ActiveSubspace("exact").fit(grads[:150]).merge(ActiveSubspace("exact").fit(grads[150:]))
    assert torch.allclose(joint.eigenvalues, merged.eigenvalues)


def test_active_neuron_conventions():
    eig = torch.tensor([0.5, 0.3, 0.15, 0.05])
    # cumulative energy 0.5, 0.8, 0.95, 1.0
    assert count_active(eig, 1.0, 0.95, "code") == 3      # > 0.9025
    assert count_active(eig, 1.0, 0.95, "paper") == 3     # >= 0.95
    assert count_active(eig, 1.0, 0.85, "code") == 2      # > 0.7225
    assert count_active(eig, 1.0, 0.85, "paper") == 3     # >= 0.85
    with pytest.raises(ValueError, match="delta"):
        count_active(eig, 1.0, 1.5)


def test_transform_and_bootstrap():
    grads, a = ridge_gradients(m=300)
    est = ActiveSubspace("exact", rank=3).fit(grads)
    x = torch.randn(5, 40, dtype=torch.float64)
    assert est.transform(x).shape == (5, 3)
    boot = est.bootstrap(n_boot=30, rank=3, seed=0)
    assert (boot["eigenvalues_low"][:3] <= est.eigenvalues * 1.0001).all()
    assert (boot["eigenvalues_high"][:3] >= est.eigenvalues * 0.9999).all()
    assert boot["distances"].max() < 1e-8  # a noiseless ridge: every resample spans the same subspace
    noisy = grads + 0.3 * torch.randn_like(grads)
    nb = ActiveSubspace("exact").fit(noisy).bootstrap(n_boot=30, rank=3)
    assert 1e-4 < float(nb["distances"].mean()) < 0.5


def test_errors():
    est = ActiveSubspace("exact", rank=50)
    with pytest.raises(ValueError, match="rank 50 is larger than the layer's 10 neurons"):
        est.fit(torch.randn(20, 10))
    with pytest.raises(FloatingPointError, match="NaN"):
        ActiveSubspace().fit(torch.tensor([[1.0, float("nan")]]))
    with pytest.raises(ValueError, match="no gradient rows"):
        ActiveSubspace().fit(torch.zeros(0, 3))
    with pytest.raises(ValueError, match="unknown method"):
        ActiveSubspace("pca")
    with pytest.raises(RuntimeError, match="no data yet"):
        ActiveSubspace().eigenvalues


def test_layer_gradients_match_per_sample_autograd():
    torch.manual_seed(0)
    model = build("lenet").eval()
    x, y = torch.randn(6, 1, 28, 28), torch.randint(0, 10, (6,))
    batch = next(layer_gradients(model, ["conv2", "fc1", "input"], (x, y), batch_size=6))
    for i in range(6):
        xi = x[i:i + 1].clone().requires_grad_()
        loss = torch.nn.functional.cross_entropy(model(xi), y[i:i + 1])
        (gx,) = torch.autograd.grad(loss, xi)
        assert torch.allclose(batch["input"][i], gx.flatten(), atol=1e-6)
    assert batch["conv2"].shape == (6, 800) and batch["fc1"].shape == (6, 500)


def test_layer_gradients_restore_model_and_report_errors():
    model = build("vgg11_bn", width=0.125).train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x, y = torch.randn(8, 3, 32, 32), torch.randint(0, 10, (8,))
    list(layer_gradients(model, ["conv2"], (x, y), train_mode=True))
    assert model.training and all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert not model.conv2[0]._forward_hooks
    with pytest.raises(KeyError, match="valid names.*conv1"):
        resolve_layers(model, ["conv99"])
    with pytest.raises(ValueError, match="labels must be in"):
        list(layer_gradients(model, ["conv1"], (x, y + 10)))
    assert model.training and not model.conv1._forward_hooks
    with pytest.raises(ValueError, match="no data"):
        list(layer_gradients(model, ["conv1"], []))
    bad = build("vgg11_bn", width=0.125).eval()
    with torch.no_grad():
        bad.fc.weight.fill_(float("nan"))
    with pytest.raises(FloatingPointError, match="NaN"):
        list(layer_gradients(bad, ["conv1"], (x, y)))


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


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cpu_gpu_parity():
    grads, _ = ridge_gradients()
    cpu = ActiveSubspace("frequent_directions", sketch_size=10).fit(grads)
    gpu = ActiveSubspace("frequent_directions", sketch_size=10).fit(grads.cuda())
    assert torch.allclose(cpu.eigenvalues, gpu.eigenvalues.cpu(), rtol=1e-8)
    assert subspace_distance(cpu.components[:, :3], gpu.components[:, :3].cpu()) < 1e-8
