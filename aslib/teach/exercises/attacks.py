"""Checks of the attack exercises: a DeepFool step and Algorithm 4.1 (notebook 06), the fooling rate (07)."""
from __future__ import annotations

from collections.abc import Callable

import torch

from aslib.attacks import as_attack, attack_ratio, deepfool, dominant_direction, fooling_rate
from aslib.attacks.deepfool_batched import run_deepfool
from aslib.attacks.evaluation import rates
from aslib.contracts import contract
from aslib.linalg.subspace import top_directions
from aslib.nets.gradients import input_gradients
from aslib.teach.exercises.grading import ExerciseError, answer_tensor, exercise, expect

__all__ = ["check_as_attack", "check_deepfool_step", "check_fooling_rate"]


@contract
@exercise(deepfool, run_deepfool)
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
        r = answer_tensor(solution(W.clone(), b.clone(), x.clone()), "the step r", (20,)).double()
        if torch.allclose(r, expected, rtol=1e-6, atol=1e-9):
            continue
        if torch.allclose(r, -expected, rtol=1e-6, atol=1e-9):
            raise ExerciseError("your step points away from the boundary: move along w_k - w_label "
                                "(towards class k), with the positive length |f_k - f_label| / ||w_k - w_label||")
        expect(float(r.norm()) > 0, "your step is zero")
        moved = int((W @ (x + 1.001 * r) + b).argmax())
        if moved != label and float(r.norm()) > float(distance[nearest]) * (1 + 1e-6):
            raise ExerciseError(f"your step changes the label but is {float(r.norm()):.4g} long; the nearest "
                                f"boundary is only {float(distance[nearest]):.4g} away: take the class with the "
                                "smallest |f_k - f_label| / ||w_k - w_label||")
        raise ExerciseError(f"trial {trial}: your step differs from |f'| / ||w'||^2 w' for the nearest class "
                            f"(length {float(r.norm()):.4g} vs {float(distance[nearest]):.4g})")


@contract
@exercise(fooling_rate, attack_ratio, rates)
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
        expect(isinstance(got, float), f"return a Python float (e.g. with .item()), got {type(got).__name__}")
        expected = fooling_rate(model, x, v)
        expect(abs(got - expected) < 1e-9, f"with |v| = {float(v.norm()):.3g} you get {got:.4f}, the fooling rate "
                f"is {expected:.4f}: compare argmax f(x + v) with argmax f(x) (the clean prediction, not a label), "
                "averaged over all images")


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


@contract
@exercise(as_attack, dominant_direction, top_directions)
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
        v = answer_tensor(solution(model, x.clone(), y.clone(), xi, iterations), f"v (xi = {xi})", tuple(x.shape[1:]))
        v = v.double()
        expect(abs(float(v.norm()) - xi) < 1e-6 * xi, f"xi = {xi}: ||v|| = {float(v.norm()):.6g}, not xi: return "
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
            expect(cosine > 0.999, f"xi = {xi}, one iteration: your v is not along the kit's first direction "
                    f"(cosine {cosine:.3f}); take the cross-entropy gradient of every sample at x (rows of G, "
                    "(m, d) with d = C*H*W), the top right singular vector of G, and the line search on it")
        elif ratio < expected - 0.03:
            one = attack_ratio(model, x, y, as_attack(model, x, y, xi, max_iter=1, patience=1).vector)
            hint = (" (about what one iteration reaches: is the recursion there? each iteration takes the "
                    "gradients at x + v of the samples still classified correctly)") if abs(ratio - one) < 0.02 else ""
            raise ExerciseError(f"xi = {xi}, {iterations} iterations: your v reaches attack ratio {ratio:.3f}, the "
                                f"kit's {expected:.3f}{hint}; keep the best v seen over the iterations")
