"""Universal attacks: the recursive active-subspace attack (Algorithm 4.1), DeepFool, UAP and studies.

Units and conventions (method.md 3):

* Every image tensor is in the dataset's *normalised* units, shape ``(N, C, H, W)`` (any
  ``(N, *shape)`` works); a universal perturbation ``v`` has shape ``x.shape[1:]`` and is added to
  every sample. The noise level ``xi`` is a norm of ``v`` in normalised units (l2 by default, as in
  the paper; ``norm="linf"`` gives the l-infinity variant). Nothing is clipped to the valid image
  range unless ``bounds`` is passed to the evaluation functions (the paper does not clip).
* **Attack ratio** = fraction of samples with ``argmax f(x+v) != y`` (true labels, so clean errors
  count, method.md 3.4 / 5.11). **Fooling rate** = fraction with ``argmax f(x+v) != argmax f(x)``.
* Every function puts the model in eval mode and restores each module's mode afterwards, also
  on error; parameters and their ``.grad`` are never touched (gradients are taken with
  :func:`torch.autograd.grad` with respect to the inputs only). Computations are batched and run
  on the device of the inputs, which must be the model's device.
* l-infinity variant (not in the paper): the AS attack steps along ``sign(d)`` (the steepest
  l-infinity direction for the dominant singular vector ``d``) with first step ``2 xi`` and
  projects by clamping to ``[-xi, xi]``; DeepFool uses the dual l1 norm; random vectors are
  ``xi`` times random signs. Final vectors are rescaled to ``max |v| = xi``.
* Deliberate differences from the authors' code (method.md 5): the dominant direction is an
  exact SVD (theirs is a rank-1 randomized SVD without power iterations, 5.4); ``patience``
  stops after that many non-improving iterations (theirs after one more); study subsets are
  drawn without replacement and without augmentation (5.13).

Studies (:func:`noise_sweep`, :func:`sample_sweep`, :func:`transfer_matrix`) return tidy tables:
lists of plain dicts, one row per repeat x method x setting, which :func:`aggregate` and
:func:`pivot` summarise.
"""
from __future__ import annotations

import math
import numbers
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from . import data as data_mod
from .distributed import all_gather, is_main_process, rank_and_world

NORMS = ("l2", "linf")
UAP_VARIANTS = ("original", "authors")
METHODS = ("as", "uap", "random")
DEEPFOOL_MARGIN = 1e-4
"""Extra distance DeepFool adds to each step so that the point crosses the boundary (as in DeepFool)."""

@dataclass
class AttackResult:
    """A universal perturbation and how it was found.

    Attributes:
        vector: the perturbation, shape ``x.shape[1:]``, normalised units; rescaled to norm
            exactly ``xi`` (in the attack's norm) unless it is all zeros.
        history: per iteration, the crafting-set rate the method tracks: attack ratio of the
            accepted candidate (AS), fooling rate after each pass (UAP), empty for random.
        iterations: AS iterations or UAP passes run (0 for random).
        wall_time_s: wall-clock seconds to craft the vector (``time.perf_counter``).
        method: ``"as"``, ``"uap"`` or ``"random"``.
        xi, norm: the noise level and norm the vector was crafted for.
    """

    vector: torch.Tensor
    history: list[float] = field(default_factory=list)
    iterations: int = 0
    wall_time_s: float = 0.0
    method: str = ""
    xi: float = 0.0
    norm: str = "l2"


# ----------------------------------------------------------------------------------------------
# validation and plumbing

@contextmanager
def eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    """Put every module of ``model`` in eval mode; restore each module's own mode on exit."""
    modes = [(module, module.training) for module in model.modules()]
    model.eval()
    try:
        yield model
    finally:
        for module, training in modes:
            module.training = training


def _check_xi(xi: float) -> None:
    if not isinstance(xi, numbers.Real) or not math.isfinite(xi) or xi <= 0:
        raise ValueError(f"xi must be a finite number > 0 (a norm in normalised units), got {xi!r}")


def _check_norm(norm: str) -> None:
    if norm not in NORMS:
        raise ValueError(f"unknown norm {norm!r}; use 'l2' or 'linf'")


def _check_images(x: torch.Tensor) -> None:
    if not isinstance(x, torch.Tensor) or x.ndim < 2:
        got = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"x must be a batch tensor (N, C, H, W) with N >= 1, got {got}; "
                         "add a batch dimension with x.unsqueeze(0)")
    if len(x) == 0:
        raise ValueError("x is empty: pass at least one sample")


def _check_labels(x: torch.Tensor, y: torch.Tensor, num_classes: int) -> None:
    if not isinstance(y, torch.Tensor) or y.ndim != 1:
        got = tuple(y.shape) if isinstance(y, torch.Tensor) else type(y).__name__
        raise ValueError(f"y must be a 1-D label tensor (N,), got {got}")
    if len(y) != len(x):
        raise ValueError(f"x has {len(x)} samples but y has {len(y)} labels; pass one label per sample")
    if y.dtype.is_floating_point or y.dtype == torch.bool:
        raise ValueError(f"y must hold integer class indices, got dtype {y.dtype}; use y.long()")
    low, high = int(y.min()), int(y.max())
    if low < 0 or high >= num_classes:
        raise ValueError(f"labels must lie in [0, {num_classes - 1}] (the model has {num_classes} outputs), "
                         f"got range [{low}, {high}]")


def _check_vector(x: torch.Tensor, v: torch.Tensor) -> None:
    if tuple(v.shape) != tuple(x.shape[1:]):
        raise ValueError(f"perturbation shape {tuple(v.shape)} does not match one sample {tuple(x.shape[1:])}; "
                         "a universal perturbation has the shape of x[0]")


def _check_batch_size(batch_size: int) -> None:
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")


@torch.no_grad()
def _num_classes(model: nn.Module, x: torch.Tensor) -> int:
    """Number of model outputs K, from an eval-mode forward of one sample."""
    with eval_mode(model):
        return model(x[:1]).shape[1]


def _validate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, xi: float, norm: str, batch_size: int) -> None:
    _check_images(x)
    _check_xi(xi)
    _check_norm(norm)
    _check_batch_size(batch_size)
    _check_labels(x, y, _num_classes(model, x))


def _vector_norm(v: torch.Tensor, norm: str) -> torch.Tensor:
    return v.abs().max() if norm == "linf" else v.norm()


def project(v: torch.Tensor, xi: float, norm: str = "l2") -> torch.Tensor:
    """Projection onto the ball ``{||v|| <= xi}``: l2 scales by ``min(1, xi/||v||)``, linf clamps to ``[-xi, xi]``."""
    _check_norm(norm)
    if norm == "linf":
        return v.clamp(-xi, xi)
    length = v.norm()
    return v * (xi / length) if length > xi else v


def _rescale(v: torch.Tensor, xi: float, norm: str) -> torch.Tensor:
    """``xi * v / ||v||`` (the paper evaluates full-norm vectors); an all-zero ``v`` is returned as is."""
    length = _vector_norm(v, norm)
    return v * (xi / length) if length > 0 else v


def _chunks(n: int, batch_size: int) -> Iterator[slice]:
    for start in range(0, n, batch_size):
        yield slice(start, min(start + batch_size, n))


@torch.no_grad()
def _predict(model: nn.Module, x: torch.Tensor, v: torch.Tensor | None = None, batch_size: int = 256,
             bounds: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
    """Predicted labels ``(N,)`` of ``x + v`` (optionally clipped to ``bounds``), batch by batch."""
    labels = []
    for part in _chunks(len(x), batch_size):
        inputs = x[part] if v is None else x[part] + v
        if bounds is not None:
            inputs = torch.maximum(torch.minimum(inputs, bounds[1]), bounds[0])
        labels.append(model(inputs).argmax(1))
    return torch.cat(labels)


# ----------------------------------------------------------------------------------------------
# evaluation

def valid_bounds(dataset_name: str, device: torch.device | str | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The valid pixel range [0, 1] in normalised units: ``(lo, hi)``, each ``(C, 1, 1)``."""
    spec = data_mod.SPECS[dataset_name]
    mean = torch.tensor(spec.mean, device=device).view(-1, 1, 1)
    std = torch.tensor(spec.std, device=device).view(-1, 1, 1)
    return -mean / std, (1 - mean) / std


def attack_ratio(model: nn.Module, x: torch.Tensor, y: torch.Tensor, v: torch.Tensor, batch_size: int = 256,
                 bounds: tuple[torch.Tensor, torch.Tensor] | None = None) -> float:
    """Fraction of samples with ``argmax f(x+v) != y`` (the paper's measure; clean errors count).

    Args:
        x: ``(N, C, H, W)`` normalised images; y: ``(N,)`` true labels; v: ``(C, H, W)``.
        bounds: optional ``(lo, hi)`` ``(C, 1, 1)`` in normalised units (see :func:`valid_bounds`)
            to clip ``x+v`` to the valid image range; None (the paper's setting) does not clip.
    """
    _check_images(x)
    _check_vector(x, v)
    _check_batch_size(batch_size)
    with eval_mode(model):
        _check_labels(x, y, _num_classes(model, x))
        return (_predict(model, x, v, batch_size, bounds) != y).float().mean().item()


def fooling_rate(model: nn.Module, x: torch.Tensor, v: torch.Tensor, batch_size: int = 256,
                 bounds: tuple[torch.Tensor, torch.Tensor] | None = None) -> float:
    """Fraction of samples with ``argmax f(x+v) != argmax f(x)`` (clean inputs are not clipped)."""
    _check_images(x)
    _check_vector(x, v)
    _check_batch_size(batch_size)
    with eval_mode(model):
        clean = _predict(model, x, None, batch_size)
        return (_predict(model, x, v, batch_size, bounds) != clean).float().mean().item()


def perturbation_norms(v: torch.Tensor, dataset_name: str) -> dict[str, float]:
    """Sizes of a perturbation ``(C, H, W)`` given in normalised units.

    Returns ``l2`` and ``linf`` in normalised units, and ``pixel_l2_255`` / ``pixel_linf_255``:
    the norms of the pixel-space perturbation ``v * std`` expressed in 0..255 grey levels.
    """
    pixel = v.detach().cpu() * data_mod.pixel_scale(dataset_name) * 255
    return {"l2": v.norm().item(), "linf": v.abs().max().item(),
            "pixel_l2_255": pixel.norm().item(), "pixel_linf_255": pixel.abs().max().item()}


def random_perturbation(shape: Sequence[int], xi: float, norm: str = "l2", seed: int = 0,
                        device: torch.device | str | None = None, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """A random vector of norm exactly ``xi``: Gaussian direction (l2) or ``xi`` times random signs (linf).

    Drawn on the CPU with a seeded generator (identical on every device), then moved to ``device``.
    """
    _check_xi(xi)
    _check_norm(norm)
    generator = torch.Generator().manual_seed(seed)
    gauss = torch.randn(tuple(shape), generator=generator, dtype=dtype)
    v = xi * torch.where(gauss >= 0, 1.0, -1.0).to(dtype) if norm == "linf" else gauss * (xi / gauss.norm())
    return v.to(device)


# ----------------------------------------------------------------------------------------------
# active-subspace attack (Algorithm 4.1)

def _input_gradients(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int) -> torch.Tensor:
    """Per-sample cross-entropy gradients w.r.t. the input, rows of a ``(m, d)`` matrix.

    Summing the per-sample losses gives per-sample gradients because eval-mode samples are independent.
    """
    rows = []
    for part in _chunks(len(x), batch_size):
        inputs = x[part].detach().requires_grad_(True)
        with torch.enable_grad():
            loss = F.cross_entropy(model(inputs), y[part], reduction="sum")
            (grad,) = torch.autograd.grad(loss, inputs)
        rows.append(grad.flatten(1))
    grads = torch.cat(rows)
    if not torch.isfinite(grads).all():
        raise ValueError("non-finite (NaN/inf) input gradients: check the model and inputs "
                         "(e.g. huge inputs, a loss that overflows, or NaN weights)")
    return grads


def dominant_direction(grads: torch.Tensor, solver: str = "exact", seed: int = 0, oversample: int = 5,
                       power_iters: int = 4) -> torch.Tensor:
    """Unit top right singular vector ``(d,)`` of the gradient matrix ``grads`` ``(m, d)``.

    ``solver="exact"``: :func:`torch.linalg.svd` in float64. ``solver="randomized"``: a seeded
    range finder with ``1 + oversample`` columns and ``power_iters`` power iterations (for very
    large ``d``). Sign convention: the direction has a non-negative inner product with the summed
    gradient, so ``+d`` increases the mean loss to first order.
    """
    if grads.ndim != 2 or grads.shape[0] == 0:
        raise ValueError(f"grads must be a non-empty (m, d) matrix, got {tuple(grads.shape)}")
    g = grads.double()
    if solver == "exact":
        top = torch.linalg.svd(g, full_matrices=False).Vh[0]
    elif solver == "randomized":
        top = _randomized_top(g, seed, oversample, power_iters)
    else:
        raise ValueError(f"unknown solver {solver!r}; use 'exact' or 'randomized'")
    if g.sum(0) @ top < 0:
        top = -top
    return top.to(grads.dtype)


def _randomized_top(g: torch.Tensor, seed: int, oversample: int, power_iters: int) -> torch.Tensor:
    generator = torch.Generator(device=g.device).manual_seed(seed)
    omega = torch.randn(g.shape[1], 1 + oversample, generator=generator, device=g.device, dtype=g.dtype)
    basis = torch.linalg.qr(g @ omega).Q
    for _ in range(power_iters):
        basis = torch.linalg.qr(g @ torch.linalg.qr(g.T @ basis).Q).Q
    return torch.linalg.svd(basis.T @ g, full_matrices=False).Vh[0]


@torch.no_grad()
def _candidate_predictions(model: nn.Module, x: torch.Tensor, candidates: torch.Tensor,
                           batch_size: int) -> torch.Tensor:
    """Labels ``(k, N)`` of ``x + candidates[j]``; each chunk of samples is one forward for all k candidates."""
    k, labels = len(candidates), []
    for part in _chunks(len(x), batch_size):
        inputs = (x[part].unsqueeze(0) + candidates.unsqueeze(1)).flatten(0, 1)
        labels.append(model(inputs).argmax(1).view(k, -1))
    return torch.cat(labels, dim=1)


def _line_search(model: nn.Module, x: torch.Tensor, y: torch.Tensor, v: torch.Tensor, d: torch.Tensor,
                 xi: float, norm: str, step_max: float, backtracks: int, previous: float,
                 batch_size: int) -> tuple[torch.Tensor, float, torch.Tensor]:
    """Backtracking on step and sign; returns (new v, its attack ratio, mask of samples still correct).

    Trials ``P(v + s d)`` and ``P(v - s d)``, ``s = step_max, step_max/2, ...`` (``backtracks``
    trials). The better sign wins (ties go to minus); the first trial beating ``previous`` is
    accepted, and when none does the last trial is taken (method.md 5.15).
    """
    step = step_max
    for _ in range(backtracks):
        trials = torch.stack([project(v + step * d, xi, norm), project(v - step * d, xi, norm)])
        wrong = _candidate_predictions(model, x, trials, batch_size) != y
        ratios = wrong.float().mean(1)
        pick = 0 if ratios[0] > ratios[1] else 1
        ratio = ratios[pick].item()
        if ratio > previous:
            break
        step /= 2
    return trials[pick], ratio, ~wrong[pick]


def as_attack(model: nn.Module, x: torch.Tensor, y: torch.Tensor, xi: float, norm: str = "l2",
              step_max: float | None = None, max_iter: int = 100, patience: int = 10, backtracks: int = 10,
              batch_size: int = 256, seed: int = 0, solver: str = "exact") -> AttackResult:
    """Recursive active-subspace universal attack (Algorithm 4.1, method.md 3.2).

    Starting from ``v = 0``, each iteration takes the cross-entropy input gradients at ``x + v``
    of the samples still classified correctly (all samples at iteration 0), finds the dominant
    direction ``d`` (top right singular vector of the ``(m, d)`` gradient matrix, see
    :func:`dominant_direction`) and runs a backtracking line search on step and sign: trials
    ``P(v + s d)`` and ``P(v - s d)`` for ``s = step_max, step_max/2, ...`` (at most
    ``backtracks`` trials), both signs evaluated on all ``N`` samples in one batched forward; the
    sign with the higher attack ratio wins (ties go to minus) and the first trial beating the
    previously accepted ratio is accepted; when none does, the last trial is taken anyway, as in
    the authors' code (method.md 5.15). The best ``v`` seen is kept. The loop stops after
    ``max_iter`` iterations, after ``patience`` consecutive iterations that do not improve the
    best ratio (the authors' code waits for one more), or when every sample is misclassified.

    ``norm="linf"`` uses the l-infinity steepest direction ``sign(d)`` and clamps to ``[-xi, xi]``.

    Args:
        model: classifier returning logits ``(N, K)``.
        x: crafting images ``(N, C, H, W)``, normalised units; y: true labels ``(N,)``.
        xi: noise level, a norm of ``v`` in normalised units.
        step_max: first trial step; default ``xi**2`` (l2, as the authors) or ``2 * xi`` (linf,
            enough to flip any coordinate across the box).
        max_iter, patience, backtracks: iteration, no-progress and line-search limits.
        batch_size: samples per forward/backward chunk.
        seed, solver: seed of the SVD solver (iteration ``i`` uses ``seed + i``) and the solver,
            ``"exact"`` or ``"randomized"`` (only the latter uses the seed).

    Returns:
        :class:`AttackResult` whose ``vector`` is the best ``v`` rescaled to norm exactly ``xi``
        and whose ``history`` holds the crafting-set attack ratio of the accepted ``v`` per iteration.
    """
    _validate(model, x, y, xi, norm, batch_size)
    if max_iter < 1 or patience < 1 or backtracks < 1:
        raise ValueError(f"max_iter, patience and backtracks must be >= 1, got {max_iter}, {patience}, {backtracks}")
    step = (xi ** 2 if norm == "l2" else 2 * xi) if step_max is None else step_max
    if step <= 0:
        raise ValueError(f"step_max must be > 0, got {step_max}")
    start = time.perf_counter()
    x, y = x.detach(), y.detach()
    with eval_mode(model):
        v = torch.zeros_like(x[0])
        correct = torch.ones(len(x), dtype=torch.bool, device=x.device)
        previous, best, v_best, stall, history = -1.0, -1.0, v, 0, []
        for iteration in range(max_iter):
            grads = _input_gradients(model, x[correct] + v, y[correct], batch_size)
            d = dominant_direction(grads, solver, seed + iteration).view_as(v)
            if norm == "linf":
                d = d.sign()
            v, previous, correct = _line_search(model, x, y, v, d, xi, norm, step, backtracks, previous, batch_size)
            history.append(previous)
            if previous > best:
                best, v_best, stall = previous, v, 0
            else:
                stall += 1
            if stall >= patience or not correct.any():
                break
    return AttackResult(_rescale(v_best, xi, norm), history, len(history), time.perf_counter() - start,
                        "as", float(xi), norm)


# ----------------------------------------------------------------------------------------------
# DeepFool and UAP

def _candidate_gradients(logits: torch.Tensor, point: torch.Tensor, candidates: torch.Tensor,
                         rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Logit gaps ``f_k = f_{c_k} - f_{c_0}`` ``(n, k-1)`` and their input gradients ``(n, k-1, d)`` for ``rows``.

    One backward per candidate class; each covers all rows at once.
    """
    gaps = logits.gather(1, candidates[:, 1:]) - logits.gather(1, candidates[:, :1])
    selected = gaps[rows]
    grads = []
    for j in range(selected.shape[1]):
        (grad,) = torch.autograd.grad(selected[:, j].sum(), point, retain_graph=j + 1 < selected.shape[1])
        grads.append(grad[rows].flatten(1))
    return selected.detach(), torch.stack(grads, dim=1)


def _deepfool_step(gaps: torch.Tensor, grads: torch.Tensor, norm: str) -> torch.Tensor:
    """The DeepFool step ``(n, d)`` toward the nearest linearised boundary (dual norm for linf)."""
    dual = grads.abs().sum(2) if norm == "linf" else grads.norm(dim=2)
    distance = torch.where(dual > 0, gaps.abs() / dual.clamp_min(torch.finfo(dual.dtype).tiny), math.inf)
    nearest = distance.argmin(1)
    pert = distance.gather(1, nearest[:, None])
    w = grads[torch.arange(len(grads), device=grads.device), nearest]
    direction = w.sign() if norm == "linf" else w / w.norm(dim=1, keepdim=True).clamp_min(torch.finfo(w.dtype).tiny)
    return torch.where(torch.isfinite(pert), (pert + DEEPFOOL_MARGIN) * direction, 0.0)


def _deepfool(model: nn.Module, x: torch.Tensor, num_candidates: int, overshoot: float, max_iter: int,
              norm: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    with torch.no_grad():
        clean = model(x)
    if clean.shape[1] < 2:
        raise ValueError(f"DeepFool needs a model with at least 2 outputs, got {clean.shape[1]}")
    candidates = clean.topk(min(num_candidates, clean.shape[1]), dim=1).indices
    total = torch.zeros_like(x)
    iterations = torch.zeros(len(x), dtype=torch.long, device=x.device)
    converged = torch.zeros(len(x), dtype=torch.bool, device=x.device)
    active = torch.arange(len(x), device=x.device)
    while len(active):
        point = (x[active] + (1 + overshoot) * total[active]).requires_grad_(True)
        with torch.enable_grad():
            logits = model(point)
            changed = logits.argmax(1) != candidates[active, 0]
            converged[active[changed]] = True
            stepping = ~changed & (iterations[active] < max_iter)
            if not stepping.any():
                break
            gaps, grads = _candidate_gradients(logits, point, candidates[active], stepping)
        if not torch.isfinite(grads).all():
            raise ValueError("non-finite (NaN/inf) gradients in DeepFool: check the model and inputs")
        active = active[stepping]
        total[active] += _deepfool_step(gaps, grads, norm).view(len(active), *x.shape[1:])
        iterations[active] += 1
    return (1 + overshoot) * total, iterations, converged


def deepfool(model: nn.Module, x: torch.Tensor, num_candidates: int = 10, overshoot: float = 0.02,
             max_iter: int = 50, norm: str = "l2") -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Batched DeepFool (Moosavi-Dezfooli et al. 2016) over samples and candidate classes.

    For each sample the candidates are the ``num_candidates`` largest clean logits (the first is
    the clean label). Each iteration runs one forward of the still-active samples at
    ``x + (1 + overshoot) * r`` and one backward per candidate class, steps toward the nearest
    linearised boundary ``|f_k| / ||w_k||`` (``||.||_1``, the dual norm, for ``norm="linf"``,
    with step ``sign(w_k)``) plus a margin of :data:`DEEPFOOL_MARGIN`, and stops a sample once its
    label changes.

    Args:
        x: ``(B, C, H, W)`` normalised images.

    Returns:
        ``(perturbation (B, C, H, W)`` including the overshoot factor, ``iterations (B,)`` int64,
        ``converged (B,)`` bool: the label of ``x + perturbation`` differs from the clean label).
    """
    _check_images(x)
    _check_norm(norm)
    if num_candidates < 2:
        raise ValueError(f"num_candidates must be >= 2 (the clean label and at least one other), got {num_candidates}")
    if max_iter < 1 or overshoot < 0:
        raise ValueError(f"need max_iter >= 1 and overshoot >= 0, got {max_iter} and {overshoot}")
    with eval_mode(model):
        return _deepfool(model, x.detach(), num_candidates, overshoot, max_iter, norm)


def _uap_batch_original(model: nn.Module, x: torch.Tensor, clean: torch.Tensor, batch: torch.Tensor,
                        v: torch.Tensor, xi: float, norm: str, deepfool_args: tuple) -> torch.Tensor:
    """One mini-batch of the original UAP: DeepFool on the unfooled samples at the current ``v``, folded in order."""
    batch = batch[_predict(model, x[batch], v) == clean[batch]]
    if not len(batch):
        return v
    steps, _, converged = _deepfool(model, x[batch] + v, *deepfool_args, norm)
    changed = False
    for i in converged.nonzero().flatten().tolist():
        sample = batch[i:i + 1]
        if changed and _predict(model, x[sample], v) != clean[sample]:
            continue
        v, changed = project(v + steps[i], xi, norm), True
    return v


def _uap_batch_authors(model: nn.Module, x: torch.Tensor, batch: torch.Tensor, v: torch.Tensor, xi: float,
                       norm: str, deepfool_args: tuple) -> torch.Tensor:
    """One mini-batch of the authors' UAP: DeepFool on every sample, kept when it took < max_iter - 1 iterations."""
    num_candidates, overshoot, max_iter = deepfool_args
    steps, iterations, _ = _deepfool(model, x[batch] + v, num_candidates, overshoot, max_iter, norm)
    for i in (iterations < max_iter - 1).nonzero().flatten().tolist():
        v = project(v + steps[i], xi, norm)
    return v


def uap(model: nn.Module, x: torch.Tensor, y: torch.Tensor, xi: float, norm: str = "l2", max_passes: int = 10,
        target_fooling: float = 0.8, overshoot: float = 0.02, num_candidates: int = 10,
        df_max_iter: int | None = None, variant: str = "original", batch_size: int = 32,
        seed: int = 0) -> AttackResult:
    """Universal adversarial perturbation (Moosavi-Dezfooli et al. 2017), batched.

    ``variant="original"``: each pass visits the samples in a fresh seeded random order, in
    mini-batches of ``batch_size``. For a mini-batch, the samples not fooled by the current ``v``
    (prediction at ``x+v`` equal to the clean prediction) get one batched DeepFool call at
    ``x_i + v``; then, in visiting order, each converged step ``r_i`` is folded in as
    ``v <- P(v + r_i)`` provided ``x_i + v`` (with the ``v`` updated so far) is still not fooled.
    DeepFool steps are thus computed at the ``v`` of the start of their mini-batch; with
    ``batch_size=1`` this is exactly the sequential algorithm. The pass ends with the fooling
    rate (against clean predictions) on all samples; stop when it reaches ``target_fooling``.
    ``df_max_iter`` defaults to 50 (DeepFool's default).

    ``variant="authors"`` (method.md 3.3 / 5.12): fixed order, no shuffling, DeepFool on every
    sample (fooled or not) at ``x_i + v``, a step kept only when DeepFool took fewer than
    ``df_max_iter - 1`` iterations (``df_max_iter`` defaults to 10, so < 9), and the stopping
    rate is the attack ratio against the true labels ``y``. Mini-batching is as above.

    Both variants rescale the final ``v`` to norm exactly ``xi`` (unless it is zero).

    Args:
        x: crafting images ``(N, C, H, W)``, normalised units; y: true labels ``(N,)``.
        xi: noise level (norm of ``v`` in normalised units); norm: ``"l2"`` or ``"linf"``.
        max_passes: passes over the data; target_fooling: the stopping rate (0.8 = delta 0.2).
        overshoot, num_candidates, df_max_iter: DeepFool settings.
        batch_size: samples per batched DeepFool call.
        seed: seeds the shuffling of the original variant.

    Returns:
        :class:`AttackResult`; ``history`` holds the stopping rate after each pass.
    """
    _validate(model, x, y, xi, norm, batch_size)
    if variant not in UAP_VARIANTS:
        raise ValueError(f"unknown UAP variant {variant!r}; use 'original' or 'authors'")
    if max_passes < 1 or num_candidates < 2:
        raise ValueError(f"need max_passes >= 1 and num_candidates >= 2, got {max_passes} and {num_candidates}")
    df_iter = (50 if variant == "original" else 10) if df_max_iter is None else df_max_iter
    deepfool_args = (num_candidates, overshoot, df_iter)
    start = time.perf_counter()
    x, y = x.detach(), y.detach()
    generator = torch.Generator().manual_seed(seed)
    with eval_mode(model):
        clean = _predict(model, x, None, batch_size)
        reference = clean if variant == "original" else y
        v, history = torch.zeros_like(x[0]), []
        for _ in range(max_passes):
            order = torch.randperm(len(x), generator=generator) if variant == "original" else torch.arange(len(x))
            for batch in order.to(x.device).split(batch_size):
                if variant == "original":
                    v = _uap_batch_original(model, x, clean, batch, v, xi, norm, deepfool_args)
                else:
                    v = _uap_batch_authors(model, x, batch, v, xi, norm, deepfool_args)
            history.append((_predict(model, x, v, batch_size) != reference).float().mean().item())
            if history[-1] >= target_fooling:
                break
    return AttackResult(_rescale(v, xi, norm), history, len(history), time.perf_counter() - start,
                        "uap", float(xi), norm)


# ----------------------------------------------------------------------------------------------
# studies

def craft(method: str, model: nn.Module, x: torch.Tensor, y: torch.Tensor, xi: float, norm: str = "l2",
          seed: int = 0, **kwargs: Any) -> AttackResult:
    """Craft a universal vector with ``method`` in ``("as", "uap", "random")``; ``kwargs`` go to the attack."""
    if method == "as":
        return as_attack(model, x, y, xi, norm=norm, seed=seed, **kwargs)
    if method == "uap":
        return uap(model, x, y, xi, norm=norm, seed=seed, **kwargs)
    if method == "random":
        if kwargs:
            raise ValueError(f"the random baseline takes no extra arguments, got {sorted(kwargs)}")
        start = time.perf_counter()
        v = random_perturbation(x.shape[1:], xi, norm, seed, device=x.device, dtype=x.dtype)
        return AttackResult(v, [], 0, time.perf_counter() - start, "random", float(xi), norm)
    raise ValueError(f"unknown method {method!r}; use one of {METHODS}")


def _draw(data: Any, n: int | None, classes: Sequence[int] | None, seed: int,
          device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Seeded subset without replacement of an :class:`ImageDataset` or an ``(x, y)`` pair, on ``device``."""
    if isinstance(data, data_mod.ImageDataset):
        x, y = data.batch(data_mod.subset_indices(data.targets, n, classes, seed))
    else:
        x_all, y_all = data
        index = data_mod.subset_indices(y_all.cpu(), n, classes, seed)
        x, y = x_all[index.to(x_all.device)], y_all[index.to(y_all.device)]
    return x.to(device), y.to(device)


def _rates(model: nn.Module, x: torch.Tensor, y: torch.Tensor, clean: torch.Tensor, v: torch.Tensor,
           batch_size: int, bounds: tuple | None) -> tuple[float, float]:
    """(attack ratio, fooling rate) of ``v`` from one pass, given the clean predictions ``clean``."""
    with eval_mode(model):
        predicted = _predict(model, x, v, batch_size, bounds)
    return (predicted != y).float().mean().item(), (predicted != clean).float().mean().item()


def _clean_predictions(model: nn.Module, x: torch.Tensor, batch_size: int) -> torch.Tensor:
    with eval_mode(model):
        return _predict(model, x, None, batch_size)


def _device(model: nn.Module) -> torch.device:
    return next(iter(model.parameters())).device


def _classes_label(classes: Sequence[int] | None) -> str:
    return "all" if classes is None else ",".join(map(str, classes))


def _spread(settings: Sequence[Any], run: Callable[[Any], list[dict[str, Any]]], progress: bool,
            desc: str) -> list[dict[str, Any]]:
    """Rows of ``run(setting)`` for every setting, in settings order.

    Under ``torch.distributed`` rank ``k`` runs settings ``k, k + world, ...`` and the rows are
    gathered, so every rank returns the table of a single-process run.
    """
    rank, world = rank_and_world()
    done = {position: run(settings[position])
            for position in tqdm(range(rank, len(settings), world), disable=not (progress and is_main_process()),
                                 desc=desc)}
    merged = {position: rows for part in all_gather(done) for position, rows in part.items()}
    return [row for position in sorted(merged) for row in merged[position]]


def _sweep(model: nn.Module, train_data: Any, test_data: Any, xis: Sequence[float], ns: Sequence[int],
           classes: Sequence[int] | None, repeats: int, methods: Sequence[str], seed: int, norm: str,
           method_kwargs: dict[str, dict] | None, batch_size: int, bounds: tuple | None,
           progress: bool) -> list[dict[str, Any]]:
    unknown = set(methods) - set(METHODS)
    if unknown:
        raise ValueError(f"unknown methods {sorted(unknown)}; use some of {METHODS}")
    device = _device(model)
    x_test, y_test = _draw(test_data, None, classes, 0, device)
    clean_test = _clean_predictions(model, x_test, batch_size)
    kwargs = method_kwargs or {}

    def run(setting: tuple[int, int]) -> list[dict[str, Any]]:
        repeat, n = setting
        x, y = _draw(train_data, n, classes, seed + repeat, device)
        clean = _clean_predictions(model, x, batch_size)
        rows = []
        for index, xi in enumerate(xis):
            for method in methods:
                result = craft(method, model, x, y, xi, norm, seed=seed + 1000 * repeat + index,
                               **kwargs.get(method, {}))
                train = _rates(model, x, y, clean, result.vector, batch_size, bounds)
                test = _rates(model, x_test, y_test, clean_test, result.vector, batch_size, bounds)
                rows.append({"repeat": repeat, "method": method, "xi": float(xi), "n_samples": n,
                             "classes": _classes_label(classes), "norm": norm,
                             "train_attack_ratio": train[0], "train_fooling_rate": train[1],
                             "test_attack_ratio": test[0], "test_fooling_rate": test[1],
                             "time_s": result.wall_time_s, "iterations": result.iterations})
        return rows

    return _spread([(r, n) for r in range(repeats) for n in ns], run, progress, "attacks")


def noise_sweep(model: nn.Module, train_data: Any, test_data: Any, xis: Sequence[float] = (5, 6, 7, 8, 9, 10),
                n_samples: int = 200, classes: Sequence[int] | None = None, repeats: int = 10,
                methods: Sequence[str] = METHODS, seed: int = 0, norm: str = "l2",
                method_kwargs: dict[str, dict] | None = None, batch_size: int = 256,
                bounds: tuple[torch.Tensor, torch.Tensor] | None = None,
                progress: bool = False) -> list[dict[str, Any]]:
    """Attack ratio and fooling rate against the noise level (the paper's one-/all-class tables).

    Each repeat ``r`` draws ``n_samples`` crafting images without replacement from ``train_data``
    (seed ``seed + r``; the authors drew with replacement and, on CIFAR, through the training
    augmentation, method.md 5.13), restricted to ``classes`` when given (one-class attacks). Each
    method crafts a vector per noise level, evaluated on the crafting set and on all test images
    of ``classes``.

    Args:
        train_data, test_data: :class:`aslib.data.ImageDataset` or ``(x, y)`` tensors (normalised).
        method_kwargs: per-method keyword arguments, e.g. ``{"as": {"step_max": 3}, "uap": {"variant": "authors"}}``.
        bounds: optional clipping range for evaluation (see :func:`valid_bounds`).

    Under ``torch.distributed`` the repeats are spread over the ranks and every rank returns the
    whole table, in the order (and with the numbers) of a single-process run.

    Returns:
        One dict per repeat x xi x method with ``repeat, method, xi, n_samples, classes, norm,
        train_attack_ratio, train_fooling_rate, test_attack_ratio, test_fooling_rate, time_s, iterations``.
    """
    return _sweep(model, train_data, test_data, xis, (n_samples,), classes, repeats, methods, seed, norm,
                  method_kwargs, batch_size, bounds, progress)


def sample_sweep(model: nn.Module, train_data: Any, test_data: Any, ns: Sequence[int] = (10, 30, 50, 100, 200),
                 xi: float = 10.0, classes: Sequence[int] | None = None, repeats: int = 10,
                 methods: Sequence[str] = ("as",), seed: int = 0, norm: str = "l2",
                 method_kwargs: dict[str, dict] | None = None, batch_size: int = 256,
                 bounds: tuple[torch.Tensor, torch.Tensor] | None = None,
                 progress: bool = False) -> list[dict[str, Any]]:
    """Attack ratio against the number of crafting samples at a fixed ``xi`` (AS only by default).

    Same rows as :func:`noise_sweep`; each repeat x n draws its own subset (seed ``seed + repeat``).
    """
    return _sweep(model, train_data, test_data, (xi,), ns, classes, repeats, methods, seed, norm,
                  method_kwargs, batch_size, bounds, progress)


def transfer_matrix(models: dict[str, nn.Module], train_data: Any, test_data: Any, xi: float = 10.0,
                    n_samples: int = 50, classes: Sequence[int] | None = None, repeats: int = 10,
                    method: str = "as", seed: int = 0, norm: str = "l2", method_kwargs: dict | None = None,
                    batch_size: int = 256, bounds: tuple[torch.Tensor, torch.Tensor] | None = None,
                    progress: bool = False) -> list[dict[str, Any]]:
    """Cross-model transfer: craft on each source model, evaluate on every target model.

    Each repeat draws one crafting subset (seed ``seed + repeat``) shared by all sources. All
    models must read the same normalised inputs (the authors transferred vectors as-is between
    differently normalised models, method.md 5.14). Summarise with
    ``pivot(rows, index="target", columns="source")`` (rows = evaluated model, columns = source).

    Under ``torch.distributed`` the (repeat, source) pairs are spread over the ranks (see
    :func:`noise_sweep`).

    Returns:
        One dict per repeat x source x target with ``repeat, source, target, method, xi, n_samples,
        classes, test_attack_ratio, test_fooling_rate, time_s``.
    """
    if not models:
        raise ValueError("models is empty: pass a dict name -> model")
    tests = {}
    for name, model in models.items():
        x_test, y_test = _draw(test_data, None, classes, 0, _device(model))
        tests[name] = (x_test, y_test, _clean_predictions(model, x_test, batch_size))

    def run(setting: tuple[int, str]) -> list[dict[str, Any]]:
        repeat, source = setting
        x, y = _draw(train_data, n_samples, classes, seed + repeat, _device(models[source]))
        result = craft(method, models[source], x, y, xi, norm, seed=seed + repeat, **(method_kwargs or {}))
        rows = []
        for target, model in models.items():
            x_test, y_test, clean = tests[target]
            ratio, fooled = _rates(model, x_test, y_test, clean, result.vector.to(x_test.device), batch_size, bounds)
            rows.append({"repeat": repeat, "source": source, "target": target, "method": method, "xi": float(xi),
                         "n_samples": n_samples, "classes": _classes_label(classes),
                         "test_attack_ratio": ratio, "test_fooling_rate": fooled, "time_s": result.wall_time_s})
        return rows

    return _spread([(r, s) for r in range(repeats) for s in models], run, progress, "transfer")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def aggregate(rows: Sequence[dict[str, Any]], by: Sequence[str] = ("method", "xi"),
              values: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Mean and sample standard deviation (ddof 1; 0 for a single row) of ``values`` per group of ``by``.

    ``values`` defaults to every numeric column except ``by`` and ``repeat``. Groups keep their
    order of first appearance. Each output row holds the ``by`` keys, ``count``, ``<value>_mean``
    and ``<value>_std``.
    """
    if not rows:
        return []
    if values is None:
        values = [k for k, val in rows[0].items() if _is_number(val) and k not in by and k != "repeat"]
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(tuple(row[k] for k in by), []).append(row)
    out = []
    for key, members in groups.items():
        summary: dict[str, Any] = dict(zip(by, key))
        summary["count"] = len(members)
        for name in values:
            column = torch.tensor([float(m[name]) for m in members], dtype=torch.float64)
            summary[f"{name}_mean"] = column.mean().item()
            summary[f"{name}_std"] = column.std().item() if len(column) > 1 else 0.0
        out.append(summary)
    return out


def pivot(rows: Sequence[dict[str, Any]], index: str = "target", columns: str = "source",
          value: str = "test_attack_ratio",
          reduce: Callable[[list[float]], float] | None = None) -> list[dict[str, Any]]:
    """A matrix as rows: one dict per ``index`` value, ``{index: name, <column value>: mean of value, ...}``.

    ``reduce`` combines the repeats (default: the mean).
    """
    combine = reduce or (lambda xs: sum(xs) / len(xs))
    cells: dict[Any, dict[Any, list[float]]] = {}
    for row in rows:
        cells.setdefault(row[index], {}).setdefault(row[columns], []).append(float(row[value]))
    return [{index: name, **{col: combine(vals) for col, vals in line.items()}} for name, line in cells.items()]
