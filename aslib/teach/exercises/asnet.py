"""Checks of the ASNet exercises: the Hermite basis and ASNet step 2 (notebook 04), the l1 proximal step and the
distillation loss (05)."""
from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F

from aslib.contracts import contract
from aslib.fitting.finetuning import distillation_loss, soft_threshold_
from aslib.linalg.pce import HermiteBasis, NormalEquations, Standardize
from aslib.nets.asnet import ASNet, build_asnet, split_model
from aslib.teach.exercises.grading import ExerciseError, answer_tensor, exercise, expect

__all__ = ["check_asnet_head", "check_distillation_loss", "check_hermite", "check_soft_threshold"]


@contract
@exercise(HermiteBasis)
def check_hermite(solution: Callable) -> None:
    """``solution(z, degree)`` for ``z`` ``(N,)`` returns ``(N, degree + 1)`` with column ``k`` the orthonormal
    probabilists' Hermite polynomial ``He_k(z) / sqrt(k!)``."""
    z = torch.linspace(-3, 3, 61, dtype=torch.float64)
    for degree in (1, 2, 5):
        got = answer_tensor(solution(z.clone(), degree), f"the table for degree {degree}", (61, degree + 1)).double()
        kit = HermiteBasis(1, degree).univariate(z[:, None])[:, 0, :]
        expect(torch.allclose(got[:, 0], torch.ones_like(z)), "column 0 is psi_0 = 1")
        for k in range(1, degree + 1):
            if torch.allclose(got[:, k], kit[:, k]):
                continue
            if torch.allclose(got[:, k], kit[:, k] * math.sqrt(math.factorial(k))):
                raise ExerciseError(f"column {k} is He_{k} without normalisation: divide by sqrt({k}!)")
            raise ExerciseError(f"column {k} (degree {degree}) differs from He_{k}(z) / sqrt({k}!) at z = "
                                f"{z[(got[:, k] - kit[:, k]).abs().argmax()].item():.1f}: use the probabilists' "
                                "recurrence He_{k+1} = z He_k - k He_{k-1} (not the physicists' 2z H_k - 2k H_{k-1})")


@contract
@exercise(soft_threshold_)
def check_soft_threshold(solution: Callable) -> None:
    """``solution(w, threshold)`` returns the l1 proximal step (soft thresholding) of the tensor ``w`` as a new
    tensor of the same shape: every entry moves ``threshold`` towards zero and stops at zero,
    ``sign(w) * max(|w| - threshold, 0)``."""
    g = torch.Generator().manual_seed(12)
    w = torch.randn(8, 25, generator=g, dtype=torch.float64)
    for threshold in (0.0, 0.3, 1.0, 10.0):
        got = answer_tensor(solution(w.clone(), threshold), f"the result for threshold {threshold}",
                            tuple(w.shape)).double()
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


@contract
@exercise(distillation_loss)
def check_distillation_loss(solution: Callable) -> None:
    """``solution(student, teacher, labels, alpha, temperature)`` returns the scalar distillation loss of
    Hinton, Vinyals & Dean (2015) as the kit defines it (:func:`aslib.fitting.finetuning.distillation_loss`)."""
    g = torch.Generator().manual_seed(4)
    student, teacher = torch.randn(32, 10, generator=g) * 3, torch.randn(32, 10, generator=g) * 3
    labels = torch.randint(0, 10, (32,), generator=g)
    for alpha, temperature in ((0.9, 4.0), (0.5, 1.0), (0.0, 2.0), (1.0, 3.0)):
        got = solution(student.clone(), teacher.clone(), labels.clone(), alpha, temperature)
        got = answer_tensor(torch.as_tensor(got), "the loss", ())
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


def _asnet_problem() -> tuple[torch.nn.Module, torch.Tensor]:
    """A seeded float64 tanh network ``12 -> 20 -> 16 -> 5`` and 400 Gaussian inputs ``(400, 12)``."""
    g = torch.Generator().manual_seed(8)
    model = torch.nn.Sequential(torch.nn.Linear(12, 20), torch.nn.Tanh(), torch.nn.Linear(20, 16), torch.nn.Tanh(),
                                torch.nn.Linear(16, 5)).double()
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=torch.float64) * 1.5 / p.shape[-1] ** 0.5)
    return model.eval(), torch.randn(400, 12, generator=g, dtype=torch.float64) + 0.5


@contract
@exercise(build_asnet, ASNet, NormalEquations, Standardize)
def check_asnet_head(solution: Callable) -> None:
    """``solution(pre, post, x, V, degree)`` does step 2 of Algorithm 3.1 and returns ``(mean (r,), std (r,),
    weights (N_b, K))``: the active variables ``z = pre(x).flatten(1) @ V`` standardised by their mean and
    population std, and the least-squares fit of the teacher's logits ``post(pre(x))`` on
    ``HermiteBasis(r, degree)((z - mean) / std)``; compared with :func:`aslib.nets.asnet.build_asnet`."""
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
        expect(isinstance(answer, tuple) and len(answer) == 3, "return the tuple (mean, std, weights)")
        mean = answer_tensor(answer[0], "mean", (rank,)).double()
        std = answer_tensor(answer[1], "std", (rank,)).double()
        weights = answer[2]
        if isinstance(weights, torch.Tensor) and tuple(weights.shape) == (logits.shape[1], terms):
            raise ExerciseError(f"weights have shape (K, N_b) = {tuple(weights.shape)}; return (N_b, K) so that "
                                "features @ weights predicts the logits")
        weights = answer_tensor(weights, "weights", (terms, logits.shape[1])).double()
        kit_mean, kit_std = asnet.standardize.mean, asnet.standardize.std
        where = f"cut {layer!r}, r = {rank}, p = {degree}"
        if torch.allclose(mean, torch.zeros(rank, dtype=torch.float64)) and torch.allclose(std, torch.ones_like(std)):
            raise ExerciseError(f"{where}: mean 0 and std 1 means no standardisation; the Hermite basis is orthonormal "
                                "for standard normal inputs, so centre and scale z = x_l V by its own mean and std")
        expect(torch.allclose(mean, kit_mean, rtol=1e-8, atol=1e-10), f"{where}: the mean of z differs from the "
                "kit's; z = pre(x).flatten(1) @ V (the projection on the r directions, (N, r)), mean over the samples")
        if torch.allclose(std, kit_std * math.sqrt(len(x) / (len(x) - 1)), rtol=1e-8):
            raise ExerciseError(f"{where}: you use the sample std (divides by N - 1); the kit standardises by the "
                                "population std (correction=0), as a module frozen at these statistics")
        expect(torch.allclose(std, kit_std, rtol=1e-8), f"{where}: the std of z differs from the kit's")
        features = asnet.basis((acts @ V - kit_mean) / kit_std)
        kit_weights = asnet.head.weight.T
        if torch.allclose(weights, kit_weights, rtol=1e-6, atol=1e-8):
            continue
        if torch.allclose(features @ weights, features @ kit_weights, rtol=1e-6, atol=1e-8):
            raise ExerciseError(f"{where}: your fit predicts the same logits with other weights: use the columns of "
                                "aslib.linalg.pce.HermiteBasis(r, degree) in its order")
        labels = F.one_hot(logits.argmax(1), logits.shape[1]).double()
        if torch.allclose(weights, torch.linalg.lstsq(features, labels).solution, rtol=1e-6, atol=1e-8):
            raise ExerciseError(f"{where}: you fit the one-hot labels; ASNet's head fits the teacher's logits "
                                "post(pre(x)) (it is distilled from the network, not trained on the labels)")
        raise ExerciseError(f"{where}: the weights differ from the least-squares fit of the logits on the Hermite "
                            "features of the standardised z (largest difference "
                            f"{float((weights - kit_weights).abs().max()):.3g}); solve min ||Phi W - logits||^2 "
                            "with torch.linalg.lstsq(Phi, logits).solution")
