"""Universal attacks: AS attack (Algorithm 4.1), DeepFool, UAP, the random baseline and their evaluation."""
import inspect
import math

import numpy as np
import pytest
import torch
from torch import nn

from aslib import attacks, data


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny models run faster single-threaded, above all on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def linear(weight, bias):
    layer = nn.Linear(weight.shape[1], weight.shape[0]).double()
    with torch.no_grad():
        layer.weight.copy_(weight)
        layer.bias.copy_(bias)
    return layer


def test_as_attack_beats_random_direction_on_held_out_images(lenet, crafting, held_out):
    xi = 6.0
    result = attacks.as_attack(lenet, *crafting, xi, max_iter=6)
    assert result.vector.norm().item() == pytest.approx(xi, rel=1e-5)
    assert result.method == "as" and result.iterations == len(result.history) <= 6
    x, y = held_out
    ours = attacks.attack_ratio(lenet, x, y, result.vector)
    random = [attacks.attack_ratio(lenet, x, y, attacks.random_perturbation(x.shape[1:], xi, seed=s)) for s in range(3)]
    assert ours > max(random) + 0.05


def test_every_registered_attack_has_the_one_signature():
    assert set(attacks.ATTACKS) == set(attacks.METHODS) == {"as", "uap", "sgd_uap", "random", "checkerboard"}
    assert attacks.BASELINES == attacks.METHODS[1:] and set(attacks.CONTROLS) <= set(attacks.BASELINES)
    for name, fn in attacks.ATTACKS.items():
        params = list(inspect.signature(fn).parameters.values())
        assert [p.name for p in params[:4]] == ["model", "x", "y", "xi"], name
        keyword_only = {p.name: p.default for p in params if p.kind is p.KEYWORD_ONLY}
        assert {"norm": "l2", "seed": 0, "batch_size": 256}.items() <= keyword_only.items(), name
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 3))
    x, y = torch.randn(6, 1, 4, 4), torch.tensor([0, 1, 2, 0, 1, 2])
    for name in attacks.ATTACKS:
        result = attacks.craft(name, model, x, y, 1.5, seed=1, batch_size=4)
        assert isinstance(result, attacks.AttackResult) and result.method == name
        assert result.vector.norm().item() == pytest.approx(1.5, rel=1e-5)
    with pytest.raises(ValueError, match="unknown attack method"):
        attacks.craft("fgsm", model, x, y, 1.0)


def test_results_do_not_depend_on_the_memory_chunk(lenet, crafting):
    x, y = crafting[0][:40], crafting[1][:40]
    for method in ("as", "uap"):
        small = attacks.craft(method, lenet, x, y, 3.0, batch_size=7, max_passes=1) if method == "uap" else \
            attacks.craft(method, lenet, x, y, 3.0, batch_size=7, max_iter=2)
        large = attacks.craft(method, lenet, x, y, 3.0, batch_size=256, max_passes=1) if method == "uap" else \
            attacks.craft(method, lenet, x, y, 3.0, batch_size=256, max_iter=2)
        assert torch.allclose(small.vector, large.vector, atol=1e-5), method


def test_l2_projection_is_exact():
    v = torch.randn(3, 4, 4, generator=torch.Generator().manual_seed(0))
    out = attacks.project(v * 10 / v.norm(), 2.5)
    assert out.norm().item() == pytest.approx(2.5, rel=1e-6)
    assert torch.allclose(out / out.norm(), v / v.norm(), atol=1e-6)
    inside = v * 1.0 / v.norm()
    assert torch.equal(attacks.project(inside, 2.5), inside)


def test_linf_projection_clamps():
    v = torch.tensor([-3.0, -0.5, 0.0, 0.7, 9.0])
    assert torch.equal(attacks.project(v, 1.0, norm="linf"), torch.tensor([-1.0, -0.5, 0.0, 0.7, 1.0]))


def test_deepfool_reaches_binary_linear_boundary():
    g = torch.Generator().manual_seed(0)
    w, b = torch.randn(1, 20, generator=g, dtype=torch.float64), torch.randn(1, dtype=torch.float64)
    model = linear(torch.cat([w, -w]) / 2, torch.cat([b, -b]) / 2)  # logit gap f1 - f0 = -(w x + b)
    x = torch.randn(8, 20, generator=g, dtype=torch.float64)
    result = attacks.deepfool(model, x, overshoot=0.0)
    assert isinstance(result, attacks.DeepFoolResult)
    r, iterations, converged = result
    distance = (x @ w.T + b).abs().squeeze(1) / w.norm()
    assert converged.all() and (iterations == 1).all()
    assert torch.allclose(r.norm(dim=1), distance + attacks.DEEPFOOL_MARGIN, atol=1e-10)
    assert torch.allclose((r @ w.T).abs().squeeze(1), r.norm(dim=1) * w.norm(), rtol=1e-10)  # along w


def test_deepfool_linf_uses_dual_norm_on_linear_model():
    g = torch.Generator().manual_seed(1)
    w, b = torch.randn(1, 10, generator=g, dtype=torch.float64), torch.randn(1, dtype=torch.float64)
    model = linear(torch.cat([w, -w]) / 2, torch.cat([b, -b]) / 2)
    x = torch.randn(5, 10, generator=g, dtype=torch.float64)
    r, _, converged = attacks.deepfool(model, x, overshoot=0.0, norm="linf")
    distance = (x @ w.T + b).abs().squeeze(1) / w.abs().sum()
    assert converged.all()
    assert torch.allclose(r.abs().amax(1), distance + attacks.DEEPFOOL_MARGIN, atol=1e-10)


def test_deepfool_multiclass_linear_minimal_distance():
    g = torch.Generator().manual_seed(2)
    w, b = torch.randn(5, 12, generator=g, dtype=torch.float64), torch.randn(5, dtype=torch.float64)
    model = linear(w, b)
    x = torch.randn(10, 12, generator=g, dtype=torch.float64)
    r, iterations, converged = attacks.deepfool(model, x, num_candidates=5, overshoot=0.0)
    logits = (x @ w.T + b).numpy()
    label = logits.argmax(1)
    expected = [min(abs(logits[i, k] - logits[i, label[i]]) / np.linalg.norm(w[k] - w[label[i]])
                    for k in range(5) if k != label[i]) for i in range(len(x))]
    assert converged.all() and (iterations == 1).all()
    assert np.allclose(r.norm(dim=1).numpy(), np.array(expected) + attacks.DEEPFOOL_MARGIN, atol=1e-10)
    assert (model(x + r).argmax(1) != model(x).argmax(1)).all()


def test_deepfool_changes_lenet_labels(lenet, crafting):
    x = crafting[0][:16]
    r, iterations, converged = attacks.deepfool(lenet, x)
    assert converged.all() and (iterations >= 1).all()
    with torch.no_grad():
        assert (lenet(x + r).argmax(1) != lenet(x).argmax(1)).all()


def test_first_as_direction_is_numpy_top_singular_vector(lenet, crafting):
    x, y = crafting[0][:30], crafting[1][:30]
    rows = []
    for i in range(len(x)):
        xi = x[i:i + 1].clone().requires_grad_(True)
        loss = nn.functional.cross_entropy(lenet(xi), y[i:i + 1])
        rows.append(torch.autograd.grad(loss, xi)[0].flatten().numpy())
    top = np.linalg.svd(np.stack(rows).astype(np.float64), full_matrices=False)[2][0]
    direction = attacks.as_attack(lenet, x, y, 3.0, max_iter=1).vector.flatten().numpy() / 3.0
    assert abs(direction @ top) == pytest.approx(1.0, abs=1e-5)


def test_randomized_solver_is_exact_on_low_rank_gradients():
    g = torch.Generator().manual_seed(0)
    grads = torch.randn(50, 4, generator=g, dtype=torch.float64) @ torch.randn(4, 300, generator=g, dtype=torch.float64)
    exact = attacks.dominant_direction(grads)
    approx = attacks.dominant_direction(grads, solver="randomized", seed=3)
    assert (exact @ approx).item() == pytest.approx(1.0, abs=1e-10)
    assert (grads.sum(0) @ exact).item() >= 0


def test_fixed_seeds_give_identical_vectors(lenet, crafting):
    x, y = crafting[0][:20], crafting[1][:20]
    first = attacks.as_attack(lenet, x, y, 3.0, max_iter=3)
    second = attacks.as_attack(lenet, x, y, 3.0, max_iter=3)
    assert torch.equal(first.vector, second.vector) and first.history == second.history
    u1 = attacks.uap(lenet, x, y, 3.0, max_passes=1, minibatch=8, seed=5)
    u2 = attacks.uap(lenet, x, y, 3.0, max_passes=1, minibatch=8, seed=5)
    assert torch.equal(u1.vector, u2.vector)
    r = attacks.random_perturbation((1, 28, 28), 3.0, seed=7)
    assert torch.equal(r, attacks.random_perturbation((1, 28, 28), 3.0, seed=7))
    assert not torch.equal(r, attacks.random_perturbation((1, 28, 28), 3.0, seed=8))


def test_random_perturbation_norms():
    assert attacks.random_perturbation((3, 8, 8), 2.0).norm().item() == pytest.approx(2.0, rel=1e-6)
    v = attacks.random_perturbation((3, 8, 8), 0.1, norm="linf")
    assert torch.allclose(v.abs(), torch.full_like(v, 0.1))


@pytest.mark.parametrize("call, message", [
    (lambda m, x, y: attacks.as_attack(m, x, y[:-1], 1.0), r"y must be .* shape \(b,\), got .* \(5,\).*b=6"),
    (lambda m, x, y: attacks.as_attack(m, x[0], y, 1.0), r"b=4 from the arguments before it"),
    (lambda m, x, y: attacks.as_attack(m, x, y, 0.0), "xi"),
    (lambda m, x, y: attacks.uap(m, x, y, -1.0), "xi"),
    (lambda m, x, y: attacks.as_attack(m, x, y + 3, 1.0), r"\[0, 2\]"),
    (lambda m, x, y: attacks.as_attack(m, x, y, 1.0, norm="l1"), "norm"),
    (lambda m, x, y: attacks.as_attack(m, x[:0], y[:0], 1.0), "empty"),
    (lambda m, x, y: attacks.uap(m, x, y, 1.0, variant="paper"), "variant"),
    (lambda m, x, y: attacks.attack_ratio(m, x, y, torch.zeros(3)), "shape"),
    (lambda m, x, y: attacks.as_attack(m, x * math.nan, y, 1.0), "NaN"),
    (lambda m, x, y: attacks.as_attack(m, x, y, 1.0, precision="int8"), r"precision must be one of 'float32', 'bfloat16', 'float16', got str 'int8'"),
    (lambda m, x, y: attacks.uap(m, x, y, 1.0, precision="float16"), "needs a GPU"),
])
def test_clear_errors(call, message):
    model = nn.Linear(4, 3)
    x, y = torch.randn(6, 4), torch.tensor([0, 1, 2, 0, 1, 2])
    with pytest.raises(ValueError, match=message):
        call(model, x, y)


def bn_model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Dropout(0.5), nn.Linear(8, 3))


def test_train_mode_model_is_attacked_in_eval_mode_and_restored():
    model = bn_model().train()
    model[3].eval()  # a mixed-mode model keeps each module's own mode
    state = {k: v.clone() for k, v in model.state_dict().items()}
    x, y = torch.randn(20, 4), torch.randint(0, 3, (20,))
    first = attacks.as_attack(model, x, y, 1.0, max_iter=3)
    assert torch.equal(first.vector, attacks.as_attack(model, x, y, 1.0, max_iter=3).vector)  # no dropout noise
    attacks.uap(model, x, y, 1.0, max_passes=1)
    attacks.deepfool(model, x)
    attacks.attack_ratio(model, x, y, first.vector)
    assert model.training and model[1].training and not model[3].training
    assert all(torch.equal(state[k], v) for k, v in model.state_dict().items())  # BN statistics untouched
    assert all(p.grad is None for p in model.parameters())


def test_mode_restored_after_error():
    model = bn_model().train()
    with pytest.raises(ValueError, match="NaN"):
        attacks.as_attack(model, torch.full((5, 4), math.nan), torch.zeros(5, dtype=torch.long), 1.0)
    assert all(m.training for m in model.modules())


@pytest.mark.parametrize("variant", ["original", "authors"])
@pytest.mark.parametrize("norm", ["l2", "linf"])
def test_uap_variants_run_and_respect_the_norm(lenet, crafting, variant, norm):
    x, y = crafting[0][:24], crafting[1][:24]
    xi = 3.0 if norm == "l2" else 0.3
    result = attacks.uap(lenet, x, y, xi, norm=norm, max_passes=2, variant=variant, minibatch=12)
    size = result.vector.norm() if norm == "l2" else result.vector.abs().max()
    assert size.item() == pytest.approx(xi, rel=1e-5)
    assert result.method == "uap" and 1 <= result.iterations == len(result.history) <= 2


def sequential_uap(model, x, xi, order):
    """One pass of the original UAP, one sample at a time."""
    v = torch.zeros_like(x[0])
    with torch.no_grad():
        clean = model(x).argmax(1)
    for i in order.tolist():
        with torch.no_grad():
            fooled = model(x[i:i + 1] + v).argmax(1) != clean[i]
        if not fooled:
            r, _, converged = attacks.deepfool(model, x[i:i + 1] + v)
            if converged:
                v = attacks.project(v + r[0], xi)
    return v


def test_uap_with_batch_size_one_is_the_sequential_algorithm(lenet, crafting):
    x, y = crafting[0][:12], crafting[1][:12]
    ours = attacks.uap(lenet, x, y, 2.0, max_passes=1, minibatch=1, seed=3, target_fooling=1.0)
    order = torch.randperm(12, generator=torch.Generator().manual_seed(3))
    reference = sequential_uap(lenet, x, 2.0, order)
    assert torch.allclose(ours.vector, reference * 2.0 / reference.norm(), atol=1e-5)


def test_attack_ratio_counts_clean_errors_and_fooling_rate_does_not():
    model = linear(torch.tensor([[1.0, 0.0], [0.0, 1.0]], dtype=torch.float64), torch.zeros(2, dtype=torch.float64))
    x = torch.tensor([[2.0, 0.0], [0.0, 2.0], [2.0, 1.0]], dtype=torch.float64)
    y = torch.tensor([0, 0, 0])
    zero = torch.zeros(2, dtype=torch.float64)
    assert attacks.attack_ratio(model, x, y, zero) == pytest.approx(1 / 3)
    assert attacks.fooling_rate(model, x, zero) == 0.0
    v = torch.tensor([0.0, 1.5], dtype=torch.float64)
    assert attacks.attack_ratio(model, x, y, v) == pytest.approx(2 / 3)
    assert attacks.fooling_rate(model, x, v) == pytest.approx(1 / 3)
    bounds = (torch.tensor([-1.0, -1.0], dtype=torch.float64), torch.tensor([5.0, 1.0], dtype=torch.float64))
    assert attacks.attack_ratio(model, x, y, v, bounds=bounds) == pytest.approx(1 / 3)


def test_perturbation_norms_and_bounds():
    v = torch.zeros(1, 28, 28)
    v[0, 0, 0] = 2.0
    norms = attacks.perturbation_norms(v, "fashion_mnist")
    assert norms["l2"] == pytest.approx(2.0)
    assert norms["pixel_l2_255"] == pytest.approx(2.0 * 0.3081 * 255, rel=1e-6)
    assert norms["pixel_linf_255"] == pytest.approx(2.0 * 0.3081 * 255, rel=1e-6)
    lo, hi = attacks.valid_bounds("cifar10")
    mean, std = torch.tensor(data.SPECS["cifar10"].mean), torch.tensor(data.SPECS["cifar10"].std)
    assert lo.shape == hi.shape == (3, 1, 1)
    assert torch.allclose(lo.flatten() * std + mean, torch.zeros(3), atol=1e-6)
    assert torch.allclose(hi.flatten() * std + mean, torch.ones(3), atol=1e-6)


def test_authors_solver_is_one_power_step_of_a_seeded_gaussian():
    g = torch.Generator().manual_seed(4)
    grads = torch.randn(30, 12, generator=g, dtype=torch.float64)
    ours = attacks.dominant_direction(grads, solver="authors", seed=7)
    with torch.random.fork_rng():
        torch.manual_seed(7)
        omega = torch.randn(12, 1, dtype=torch.float64)
    step = (grads.T @ (grads @ omega))[:, 0]
    step = step / step.norm() * (1 if grads.sum(0) @ step >= 0 else -1)
    assert torch.allclose(ours, step, atol=1e-10)
    exact = attacks.dominant_direction(grads)
    assert abs(float(ours @ exact)) < 0.999  # one power step is not the exact direction on a flat spectrum


def test_checkerboard_pattern_norm_sign_and_errors():
    v = attacks.checkerboard_perturbation((3, 8, 8), 2.0, cell=2)
    assert v.norm().item() == pytest.approx(2.0, rel=1e-6)
    assert torch.equal(v[0], v[2]) and v[0, 0, 0] > 0 and v[0, 0, 2] < 0 and v[0, 2, 0] < 0 and v[0, 2, 2] > 0
    assert v[0, :2, :2].unique().numel() == 1  # one value per 2 x 2 square
    assert float(v.sum()) == pytest.approx(0.0, abs=1e-5)  # as many + as - squares: no mean shift
    linf = attacks.checkerboard_perturbation((1, 6, 6), 0.3, norm="linf")
    assert torch.allclose(linf.abs(), torch.full_like(linf, 0.3))
    for shape, match in [((16,), "shape"), ((1, 3, 3), "cell")]:
        with pytest.raises(ValueError, match=match):
            attacks.checkerboard_perturbation(shape, 1.0)
    # the attack picks the sign with the higher crafting-set attack ratio: a linear model that reads only the
    # top-left pixel predicts class 1 when it is positive; labels are class 0, so the +pattern attacks all
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 2))
    with torch.no_grad():
        model[1].weight.zero_()
        model[1].bias.zero_()
        model[1].weight[1, 0] = 1.0
        model[1].bias[0] = 0.1
    x, y = torch.zeros(5, 1, 4, 4), torch.zeros(5, dtype=torch.long)
    result = attacks.craft("checkerboard", model, x, y, 2.0, cell=2)
    assert result.history == [1.0, 0.0] and result.vector[0, 0, 0] > 0
    with torch.no_grad():
        model[1].weight[1, 0] = -1.0
    assert attacks.craft("checkerboard", model, x, y, 2.0, cell=2).vector[0, 0, 0] < 0


def test_sgd_uap_ascends_the_clamped_loss_within_the_ball(lenet, crafting, held_out):
    result = attacks.sgd_uap(lenet, *crafting, 6.0, epochs=10, seed=2)
    assert result.method == "sgd_uap" and result.iterations == 10 == len(result.history)
    assert result.vector.norm().item() == pytest.approx(6.0, rel=1e-5)
    again = attacks.sgd_uap(lenet, *crafting, 6.0, epochs=10, seed=2)
    assert torch.equal(result.vector, again.vector)
    x, y = held_out
    random = max(attacks.attack_ratio(lenet, x, y, attacks.random_perturbation(x.shape[1:], 6.0, seed=s))
                 for s in range(3))
    assert attacks.attack_ratio(lenet, x, y, result.vector) > random + 0.05
    linf = attacks.sgd_uap(lenet, *crafting, 0.3, norm="linf", epochs=1)
    assert linf.vector.abs().max().item() == pytest.approx(0.3, rel=1e-5)
    with pytest.raises(ValueError, match="epochs must be"):
        attacks.sgd_uap(lenet, *crafting, 6.0, epochs=0)
    # a start: zero epochs of progress would keep it; a start of norm > xi is projected onto the ball
    start = attacks.random_perturbation(x.shape[1:], 12.0, seed=4)
    one = attacks.sgd_uap(lenet, *crafting, 6.0, epochs=1, step_size=1e-6, init=start)
    assert torch.allclose(one.vector, start / 2, atol=1e-4)
    with pytest.raises(ValueError, match="init must be"):
        attacks.sgd_uap(lenet, *crafting, 6.0, init=start.flatten())


def test_reduced_precision_evaluation_agrees_with_float32(lenet, crafting, held_out):
    """bfloat16 line-search forwards: labels agree with float32 on almost every image, and the attack
    stays as strong (the option changes only the evaluation forwards, never the gradients)."""
    from aslib.attacks.common import predict

    exact = attacks.as_attack(lenet, *crafting, 6.0, max_iter=8, patience=8)
    fast = attacks.as_attack(lenet, *crafting, 6.0, max_iter=8, patience=8, precision="bfloat16")
    x, y = held_out
    for v in (None, exact.vector):
        agreement = (predict(lenet, x, v, precision="bfloat16") == predict(lenet, x, v)).float().mean().item()
        assert agreement >= 0.99
    ratios = [attacks.attack_ratio(lenet, x, y, r.vector) for r in (exact, fast)]
    assert abs(ratios[0] - ratios[1]) <= 0.05
    assert fast.vector.dtype == torch.float32 and fast.vector.norm().item() == pytest.approx(6.0, rel=1e-4)
    batched = attacks.uap(lenet, *crafting, 6.0, max_passes=1, precision="bfloat16")
    assert batched.vector.norm().item() == pytest.approx(6.0, rel=1e-4)
