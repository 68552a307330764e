"""Attack studies: noise-level and sample-size sweeps, cross-model transfer, clipping and the
eigen-direction study (the paper's experiments and notebook 07's).

Each sweep draws crafting sets without replacement and without augmentation (the authors drew
with replacement, through the training augmentation), crafts vectors with the attacks of
:mod:`aslib.attacks` and evaluates them on the crafting set and on held-out test images. It returns
a tidy table: a list of plain dicts, one row per repeat x method x setting, which
:func:`aslib.tables.aggregate` and :func:`aslib.tables.pivot` summarise (the notebooks' tables of
these rows are in :mod:`aslib.studies.attack_tables`). Under ``torch.distributed`` the settings
are spread over the ranks (:mod:`aslib.distributed`) and every rank returns the whole table, in
single-process order.
"""
from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm

from .. import data as data_mod
from .. import vectors
from .._utils import check_choice, check_positive, model_device
from ..attacks import (ATTACKS, BASELINES, METHODS, AttackResult, as_attack, attack_ratio, craft, deepfool,
                       fooling_rate, random_perturbation, sgd_uap)
from ..attacks.common import check_xi
from ..attacks.evaluation import clean_predictions, rates
from ..distributed import all_gather, is_main_process, share
from ..gradients import input_gradients
from ..stats import estimate, paired_difference
from ..subspace import ActiveSubspace, top_directions

__all__ = ["METHOD_LABELS", "EigenDirections", "as_start_study", "clipping_rows", "craft_methods", "deepfool_paths", "eigen_directions",
           "linf_budgets",
           "noise_sweep", "paired_gaps", "sample_sweep", "search_diagnostics", "search_summary", "shipped_study",
           "shipped_transfer", "transfer_matrix", "vector_cosines"]

Pair = tuple[torch.Tensor, torch.Tensor]
"""An ``(x, y)`` pair: images ``(N, C, H, W)`` in normalised units and labels ``(N,)``."""

METHOD_LABELS = {"as": "AS", "uap": "UAP", "sgd_uap": "SGD-UAP", "random": "random", "checkerboard": "checkerboard"}
"""Display names of the attack methods in tables and figures."""


def _label(method: str) -> str:
    return METHOD_LABELS.get(method, method)


def _check_method_kwargs(method_kwargs: dict[str, dict] | None, methods: Sequence[str]) -> None:
    """``method_kwargs`` maps method names to their options, e.g. ``{"as": {"step_max": 3.0}}``."""
    unknown = set(methods) - set(ATTACKS)
    if unknown:
        raise ValueError(f"unknown methods {sorted(unknown)}; use some of {tuple(ATTACKS)}")
    for key, value in (method_kwargs or {}).items():
        if key not in ATTACKS or not isinstance(value, dict):
            raise ValueError(f"method_kwargs maps method names {tuple(ATTACKS)} to dicts of options, "
                             f"e.g. {{'as': {{'step_max': 3.0}}}}; got key {key!r} -> {value!r}")


def _draw(data: Any, n: int | None, classes: Sequence[int] | None, seed: int,
          device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Seeded subset without replacement of an :class:`ImageDataset` or an ``(x, y)`` pair, on ``device``."""
    if isinstance(data, data_mod.ImageDataset):
        x, y = data.batch(data_mod.subset_indices(data.targets, n, classes, seed))
    else:
        x_all, y_all = _pair("data", data)
        if len(x_all) != len(y_all):
            raise ValueError(f"the (x, y) pair has {len(x_all)} images but {len(y_all)} labels; one label per image")
        index = data_mod.subset_indices(y_all.cpu(), n, classes, seed)
        x, y = x_all[index.to(x_all.device)], y_all[index.to(y_all.device)]
    return x.to(device), y.to(device)


def _classes_label(classes: Sequence[int] | None) -> str:
    return "all" if classes is None else ",".join(map(str, classes))


def _spread(settings: Sequence[Any], run: Callable[[Any], list[dict[str, Any]]], progress: bool,
            desc: str) -> list[dict[str, Any]]:
    """Rows of ``run(setting)`` for every setting, in settings order.

    Under ``torch.distributed`` each rank runs its share of the settings
    (:func:`aslib.distributed.share`) and the rows are gathered, so every rank returns the table
    of a single-process run.
    """
    mine = share(range(len(settings)))
    done = {position: run(settings[position])
            for position in tqdm(mine, disable=not (progress and is_main_process()), desc=desc)}
    merged = {position: rows for part in all_gather(done) for position, rows in part.items()}
    return [row for position in sorted(merged) for row in merged[position]]


def _sweep(model: nn.Module, train_data: Any, test_data: Any, *, xis: Sequence[float], ns: Sequence[int],
           classes: Sequence[int] | None, repeats: int, methods: Sequence[str], seed: int, norm: str,
           method_kwargs: dict[str, dict] | None, batch_size: int, bounds: tuple | None,
           progress: bool) -> list[dict[str, Any]]:
    _check_method_kwargs(method_kwargs, methods)
    check_positive("repeats", repeats, integer=True)
    if not xis or not ns:
        raise ValueError(f"the sweep needs at least one noise level and one sample count, got xis={list(xis)}, "
                         f"ns={list(ns)}")
    for method in methods:
        check_choice("attack method", method, METHODS)
    for xi in xis:
        check_xi(xi)
    for n in ns:
        check_positive("the number of crafting samples (n_samples, or each of ns)", n, integer=True)
    device = model_device(model)
    x_test, y_test = _draw(test_data, None, classes, 0, device)
    clean_test = clean_predictions(model, x_test, batch_size=batch_size)
    kwargs = method_kwargs or {}

    def run(setting: tuple[int, int]) -> list[dict[str, Any]]:
        repeat, n = setting
        x, y = _draw(train_data, n, classes, seed + repeat, device)
        clean = clean_predictions(model, x, batch_size=batch_size)
        rows = []
        for index, xi in enumerate(xis):
            for method in methods:
                result = craft(method, model, x, y, xi, norm=norm, seed=seed + 1000 * repeat + index,
                               batch_size=batch_size, **kwargs.get(method, {}))
                train = rates(model, x, y, clean, result.vector, batch_size=batch_size, bounds=bounds)
                test = rates(model, x_test, y_test, clean_test, result.vector, batch_size=batch_size, bounds=bounds)
                rows.append({"repeat": repeat, "method": method, "xi": float(xi), "n_samples": n,
                             "classes": _classes_label(classes), "norm": norm,
                             "train_attack_ratio": train[0], "train_fooling_rate": train[1],
                             "test_attack_ratio": test[0], "test_fooling_rate": test[1],
                             "time_s": result.wall_time_s, "iterations": result.iterations})
        return rows

    return _spread([(r, n) for r in range(repeats) for n in ns], run, progress, "attacks")


def noise_sweep(model: nn.Module, train_data: Any, test_data: Any, *, xis: Sequence[float] = (5, 6, 7, 8, 9, 10),
                n_samples: int = 200, classes: Sequence[int] | None = None, repeats: int = 10,
                methods: Sequence[str] = METHODS, seed: int = 0, norm: str = "l2",
                method_kwargs: dict[str, dict] | None = None, batch_size: int = 256,
                bounds: tuple[torch.Tensor, torch.Tensor] | None = None,
                progress: bool = False) -> list[dict[str, Any]]:
    """Attack ratio and fooling rate against the noise level (the paper's one-/all-class tables).

    Each repeat ``r`` draws ``n_samples`` crafting images without replacement from ``train_data``
    (seed ``seed + r``; the authors drew with replacement and, on CIFAR, through the training
    augmentation), restricted to ``classes`` when given (one-class attacks). Each
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
    return _sweep(model, train_data, test_data, xis=xis, ns=(n_samples,), classes=classes, repeats=repeats,
                  methods=methods, seed=seed, norm=norm, method_kwargs=method_kwargs, batch_size=batch_size,
                  bounds=bounds, progress=progress)


def sample_sweep(model: nn.Module, train_data: Any, test_data: Any, *, ns: Sequence[int] = (10, 30, 50, 100, 200),
                 xi: float = 10.0, classes: Sequence[int] | None = None, repeats: int = 10,
                 methods: Sequence[str] = ("as",), seed: int = 0, norm: str = "l2",
                 method_kwargs: dict[str, dict] | None = None, batch_size: int = 256,
                 bounds: tuple[torch.Tensor, torch.Tensor] | None = None,
                 progress: bool = False) -> list[dict[str, Any]]:
    """Attack ratio against the number of crafting samples at a fixed ``xi`` (AS only by default).

    Same rows as :func:`noise_sweep`; each repeat x n draws its own subset (seed ``seed + repeat``).
    """
    return _sweep(model, train_data, test_data, xis=(xi,), ns=ns, classes=classes, repeats=repeats,
                  methods=methods, seed=seed, norm=norm, method_kwargs=method_kwargs, batch_size=batch_size,
                  bounds=bounds, progress=progress)


def transfer_matrix(models: dict[str, nn.Module], train_data: Any, test_data: Any, *, xi: float = 10.0,
                    n_samples: int = 50, classes: Sequence[int] | None = None, repeats: int = 10,
                    method: str = "as", seed: int = 0, norm: str = "l2", method_kwargs: dict[str, dict] | None = None,
                    batch_size: int = 256, bounds: tuple[torch.Tensor, torch.Tensor] | None = None,
                    progress: bool = False) -> list[dict[str, Any]]:
    """Cross-model transfer: craft on each source model, evaluate on every target model.

    Each repeat draws one crafting subset (seed ``seed + repeat``) shared by all sources. All
    models must read the same normalised inputs (the authors transferred vectors as-is between
    differently normalised models). Summarise with
    ``pivot(rows, index="target", columns="source")`` (rows = evaluated model, columns = source).

    Under ``torch.distributed`` the (repeat, source) pairs are spread over the ranks (see
    :func:`noise_sweep`).

    Returns:
        One dict per repeat x source x target with ``repeat, source, target, method, xi, n_samples,
        classes, test_attack_ratio, test_fooling_rate, time_s``.
    """
    if not models:
        raise ValueError("models is empty: pass a dict name -> model")
    _check_method_kwargs(method_kwargs, (method,))
    options = (method_kwargs or {}).get(method, {})
    tests = {}
    for name, model in models.items():
        x_test, y_test = _draw(test_data, None, classes, 0, model_device(model))
        tests[name] = (x_test, y_test, clean_predictions(model, x_test, batch_size=batch_size))

    def run(setting: tuple[int, str]) -> list[dict[str, Any]]:
        repeat, source = setting
        x, y = _draw(train_data, n_samples, classes, seed + repeat, model_device(models[source]))
        result = craft(method, models[source], x, y, xi, norm=norm, seed=seed + repeat, batch_size=batch_size,
                       **options)
        rows = []
        for target, model in models.items():
            x_test, y_test, clean = tests[target]
            ratio, fooled = rates(model, x_test, y_test, clean, result.vector.to(x_test.device), batch_size=batch_size,
                                  bounds=bounds)
            rows.append({"repeat": repeat, "source": source, "target": target, "method": method, "xi": float(xi),
                         "n_samples": n_samples, "classes": _classes_label(classes),
                         "test_attack_ratio": ratio, "test_fooling_rate": fooled, "time_s": result.wall_time_s})
        return rows

    return _spread([(r, s) for r in range(repeats) for s in models], run, progress, "transfer")


def _pair(name: str, value: Any) -> Pair:
    if not (isinstance(value, (tuple, list)) and len(value) == 2 and all(isinstance(t, torch.Tensor) for t in value)):
        raise ValueError(f"{name} must be an (x, y) pair of tensors: images (N, C, H, W) and labels (N,)")
    return value[0], value[1]


def craft_methods(model: nn.Module, x: torch.Tensor, y: torch.Tensor, xi: float, *,
                  methods: Sequence[str] = METHODS, method_kwargs: dict[str, dict] | None = None,
                  norm: str = "l2", seed: int = 0) -> dict[str, AttackResult]:
    """One vector per method (:func:`aslib.attacks.craft`, one ``seed``) from ``x`` ``(N, C, H, W)``, ``y`` ``(N,)``
    on the model's device; ``method_kwargs`` is nested: ``{"as": {"max_iter": 8}, "uap": {...}}``."""
    _check_method_kwargs(method_kwargs, methods)
    options = method_kwargs or {}
    return {m: craft(m, model, x, y, xi, norm=norm, seed=seed, **options.get(m, {})) for m in methods}


def linf_budgets(eps255: Sequence[float], dataset: str) -> list[float]:
    """l-infinity noise levels in normalised units for budgets of ``eps/255`` in pixel units: dividing by
    the largest channel std keeps every channel within budget."""
    if any(e <= 0 for e in eps255):
        raise ValueError(f"budgets eps must be > 0 grey levels, got {list(eps255)}")
    largest = float(data_mod.pixel_scale(dataset).flatten().max())
    return [eps / 255 / largest for eps in eps255]


def clipping_rows(model: nn.Module, test: Pair, vectors: Mapping[str, torch.Tensor], *,
                  bounds: tuple[torch.Tensor, torch.Tensor]) -> list[dict[str, Any]]:
    """Test attack ratio of each vector ``(C, H, W)`` without and with clipping ``x + v`` to ``bounds``
    (``(lo, hi)``, each ``(C, 1, 1)``, see :func:`aslib.attacks.valid_bounds`), the clipped fooling rate
    and the mean kept fraction ``||clip(x + v) - x|| / ||v||`` (at most 1)."""
    x, y = _pair("test", test)
    lo, hi = bounds
    rows = []
    for m, v in vectors.items():
        clipped = torch.maximum(torch.minimum(x + v, hi), lo)
        kept = ((clipped - x).flatten(1).norm(dim=1) / v.norm()).mean().item()
        rows.append({"method": _label(m), "test attack ratio (no clipping)": attack_ratio(model, x, y, v),
                     "test attack ratio (clipped)": attack_ratio(model, x, y, v, bounds=bounds),
                     "fooling rate (clipped)": fooling_rate(model, x, v, bounds=bounds),
                     "mean ||clip(x+v) - x|| / ||v||": kept})
    return rows


@dataclass
class EigenDirections:
    """Test attack ratios (better sign) of ``eigen`` vectors v_k, ``random`` ``(n_random,)`` directions, the
    ``recursive`` AS vector and none (``clean``); ``lambdas`` = lambda_k / trace; ``captured`` ``(top_k,)``
    cumulative share ``||V_k^T u||^2`` of the unit AS vector u; ``cosine`` = |cos(u, v_1)|; ``dim`` = d."""

    eigen: list[float]
    random: torch.Tensor
    recursive: float
    clean: float
    lambdas: list[float]
    captured: torch.Tensor
    cosine: float
    dim: int
    n_eval: int


def eigen_directions(model: nn.Module, subspace: ActiveSubspace, test: Pair, vector: torch.Tensor, *, xi: float,
                     top_k: int, n_random: int) -> EigenDirections:
    """Attack with ``±xi v_k`` for the ``top_k`` eigenvectors of the input-layer ``subspace``, with
    ``n_random`` random directions of norm xi (seeds 0..n_random-1, better sign too) and with the
    recursive AS ``vector`` ``(C, H, W)``, on the ``test`` pair (on the model's device)."""
    x, y = _pair("test", test)
    if top_k < 1 or n_random < 1 or top_k > subspace.components.shape[1]:
        raise ValueError(f"need 1 <= top_k <= {subspace.components.shape[1]} and n_random >= 1, "
                         f"got top_k={top_k}, n_random={n_random}")

    def best_sign(v: torch.Tensor) -> float:
        return max(attack_ratio(model, x, y, v), attack_ratio(model, x, y, -v))

    basis = subspace.components[:, :top_k].to(device=x.device, dtype=x.dtype)
    eigen = [best_sign(xi * basis[:, k].view_as(x[0])) for k in range(top_k)]
    rnd = torch.tensor([best_sign(random_perturbation(x.shape[1:], xi, seed=s, device=x.device))
                        for s in range(n_random)])
    unit = (vector / vector.norm()).flatten()
    return EigenDirections(eigen=eigen, random=rnd, recursive=attack_ratio(model, x, y, vector),
                           clean=attack_ratio(model, x, y, torch.zeros_like(x[0])),
                           lambdas=[float(subspace.eigenvalues[k]) / subspace.trace for k in range(top_k)],
                           captured=((basis.T @ unit) ** 2).cumsum(0), cosine=abs(float(unit @ basis[:, 0])),
                           dim=subspace.dim, n_eval=len(y))


def as_start_study(model: nn.Module, crafting_sets: Sequence[Pair], as_vectors: Sequence[torch.Tensor], test: Pair, *,
                   xi: float, rank: int = 10, seed: int = 0, batch_size: int = 256,
                   **sgd_options: Any) -> list[dict[str, Any]]:
    """Does the active subspace help the strongest baseline? One row per crafting set ``j``.

    ``crafting_sets[j]`` ``(x (n, C, H, W), y (n,))`` and the AS vector crafted on it ``as_vectors[j]``
    ``(C, H, W)`` (norm ``xi``). SGD-UAP (:func:`aslib.attacks.sgd_uap`, seed ``seed + j``, ``sgd_options``) runs
    twice on the same mini-batches: from zero and from the AS vector. Columns: the test attack ratio on ``test``
    of the AS vector and of both SGD-UAP vectors, and the share ``||V_k^T v||^2 / ||v||^2`` of each vector in the
    top ``rank`` input active directions ``V_k`` of its crafting set (the loss gradients' exact SVD; a random
    direction has the share ``rank / d`` on average). Everything runs on the model's device.
    """
    x_t, y_t = _pair("test", test)
    if len(crafting_sets) != len(as_vectors) or not crafting_sets:
        raise ValueError(f"give one AS vector per crafting set (got {len(crafting_sets)} sets and "
                         f"{len(as_vectors)} vectors)")
    check_xi(xi)
    check_positive("rank", rank, integer=True)
    device = model_device(model)
    x_t, y_t = x_t.to(device), y_t.to(device)
    rows = []
    for j, (pair, v_as) in enumerate(zip(crafting_sets, as_vectors)):
        x, y = (t.to(device) for t in _pair("crafting", pair))
        v_as = v_as.to(device=device, dtype=x.dtype)
        if rank > min(len(y), x[0].numel()):
            raise ValueError(f"rank {rank} exceeds the {min(len(y), x[0].numel())} directions a crafting set of "
                             f"{len(y)} images of {x[0].numel()} values has: pass a smaller rank")
        basis = top_directions(input_gradients(model, x, y, batch_size=batch_size).flatten(1).double(), rank,
                               "exact")[1]  # (d, rank)

        def share(v: torch.Tensor) -> float:
            u = v.flatten().double()
            return float((basis.T @ u).pow(2).sum() / u.pow(2).sum())

        plain = sgd_uap(model, x, y, xi, seed=seed + j, batch_size=batch_size, **sgd_options).vector
        started = sgd_uap(model, x, y, xi, seed=seed + j, batch_size=batch_size, init=v_as, **sgd_options).vector
        rows.append({"set": j, "n_samples": len(y), "xi": float(xi), "rank": rank, "dim": x[0].numel(),
                     "as_test": attack_ratio(model, x_t, y_t, v_as, batch_size=batch_size),
                     "sgd_uap_test": attack_ratio(model, x_t, y_t, plain, batch_size=batch_size),
                     "sgd_uap_from_as_test": attack_ratio(model, x_t, y_t, started, batch_size=batch_size),
                     "as_share": share(v_as), "sgd_uap_share": share(plain), "sgd_uap_from_as_share": share(started)})
    return rows


def shipped_study(model: nn.Module, model_name: str, test: Pair, *, xi: float | Sequence[float],
                  experiment: str = "allclass", methods: Sequence[str] = METHODS,
                  batch_size: int = 256) -> list[dict[str, Any]]:
    """The vectors shipped for ``model_name`` (:mod:`aslib.vectors`) at the noise level(s) ``xi``
    evaluated live on ``test``.

    One row per noise level x repeat x method: ``repeat, method, xi, experiment, n_samples,
    train_attack_ratio`` (the crafting-set ratio of the record), ``test_attack_ratio,
    test_fooling_rate`` (measured now on ``test`` ``(x (N, C, H, W), y (N,))``, on the model's
    device), ``time_s`` and ``iterations`` of the crafting. Settings with no shipped vector are left out.
    """
    x_test, y_test = _pair("test", test)
    device = model_device(model)
    x_test, y_test = x_test.to(device), y_test.to(device)
    clean = clean_predictions(model, x_test, batch_size=batch_size)
    rows = []
    for level in ([xi] if isinstance(xi, (int, float)) else xi):
        for method in methods:
            chosen = vectors.records(model_name, method=method, xi=level, experiment=experiment)
            if not chosen:
                continue
            shipped = vectors.shipped_vectors(model_name, method, level, experiment=experiment)
            for record, v in zip(chosen, shipped):
                ratio, fooled = rates(model, x_test, y_test, clean, v.to(device), batch_size=batch_size)
                rows.append({"repeat": record["repeat"], "method": method, "xi": float(level),
                             "experiment": experiment, "n_samples": record["n_samples"],
                             "train_attack_ratio": record["train_attack_ratio"], "test_attack_ratio": ratio,
                             "test_fooling_rate": fooled, "time_s": record["wall_time_s"],
                             "iterations": record["iterations"]})
    return rows


def shipped_transfer(models: Mapping[str, nn.Module], names: Mapping[str, str], test: Pair, *, xi: float,
                     methods: Sequence[str] = METHODS, batch_size: int = 256) -> list[dict[str, Any]]:
    """The shipped ``"transfer"`` vectors of every source model evaluated live on every target model.

    ``models`` maps labels to models (the targets), ``names`` some of those labels to zoo names
    (the sources: their shipped vectors); ``test`` is ``(x (N, C, H, W), y (N,))``. One row per repeat x method x
    source x target with ``repeat, method, source, target, xi, n_samples, test_attack_ratio,
    test_fooling_rate``; methods a source has no vectors for are left out.
    """
    x_test, y_test = _pair("test", test)
    if not names or set(names) - set(models):
        raise ValueError(f"names maps source labels among the models' {sorted(models)} to zoo names, "
                         f"got {dict(names)}")
    tests = {}
    for label, model in models.items():
        x, y = x_test.to(model_device(model)), y_test.to(model_device(model))
        tests[label] = (x, y, clean_predictions(model, x, batch_size=batch_size))
    rows = []
    for source, name in names.items():
        for method in methods:
            chosen = vectors.records(name, method=method, xi=xi, experiment="transfer")
            if not chosen:
                continue
            for record, v in zip(chosen, vectors.shipped_vectors(name, method, xi, experiment="transfer")):
                for target, model in models.items():
                    x, y, clean = tests[target]
                    ratio, fooled = rates(model, x, y, clean, v.to(x.device), batch_size=batch_size)
                    rows.append({"repeat": record["repeat"], "method": method, "source": source, "target": target,
                                 "xi": float(xi), "n_samples": record["n_samples"], "test_attack_ratio": ratio,
                                 "test_fooling_rate": fooled})
    return rows


def search_diagnostics(model: nn.Module, model_name: str, test: Pair, *, xi: float, experiment: str = "allclass",
                       variant: str | None = None, batch_size: int = 256) -> list[dict[str, Any]]:
    """How the AS search of each shipped vector went, from the history in its record, with its test
    attack ratio measured live on ``test`` ``(x (N, C, H, W), y (N,))``.

    One row per repeat: ``repeat, solver, iterations, best_iteration`` (1-based iteration of the
    best crafting-set ratio), ``improvements`` (iterations that raised the best ratio),
    ``stop`` (``"patience"``, ``"max_iter"`` or ``"all fooled"``), ``first_step`` (crafting-set
    ratio after iteration 1), ``train_attack_ratio``, ``test_attack_ratio`` and ``history`` (the
    crafting-set ratio of the accepted vector per iteration).
    """
    chosen = vectors.records(model_name, method="as", xi=xi, experiment=experiment, variant=variant)
    if not chosen or any("history" not in r for r in chosen):
        raise ValueError(f"no shipped AS vectors with search histories for {model_name!r} at xi={xi:g} "
                         f"({experiment}, solver {variant or 'exact'}): craft them with `python -m aslib.cli "
                         f"attack-study --model {model_name} --experiment {experiment} --xis {xi:g} --ship`")
    defaults = {k: p.default for k, p in inspect.signature(as_attack).parameters.items()}
    x_test, y_test = (t.to(model_device(model)) for t in _pair("test", test))
    shipped = vectors.shipped_vectors(model_name, "as", xi, experiment=experiment, variant=variant)
    rows = []
    for record, v in zip(chosen, shipped):
        history = record["history"]
        max_iter = record["options"].get("max_iter", defaults["max_iter"])
        best, improvements = -1.0, 0
        for h in history:
            if h > best:
                best, improvements = h, improvements + 1
        stop = "all fooled" if history[-1] >= 1.0 else "max_iter" if len(history) >= max_iter else "patience"
        rows.append({"repeat": record["repeat"], "solver": variant or "exact", "iterations": len(history),
                     "best_iteration": history.index(max(history)) + 1, "improvements": improvements, "stop": stop,
                     "first_step": history[0], "train_attack_ratio": record["train_attack_ratio"],
                     "test_attack_ratio": attack_ratio(model, x_test, y_test, v.to(x_test.device),
                                                       batch_size=batch_size), "history": history})
    return rows


def search_summary(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per solver of :func:`search_diagnostics` rows: n, test attack ratio mean ± std, min and max, the
    Pearson correlation of the crafting-set and the test ratio over the crafting sets, mean
    iterations, and how many searches stopped by patience, by the iteration limit or with all fooled."""
    table = []
    for solver in dict.fromkeys(r["solver"] for r in rows):
        chosen = [r for r in rows if r["solver"] == solver]
        test = torch.tensor([r["test_attack_ratio"] for r in chosen], dtype=torch.float64)
        train = torch.tensor([r["train_attack_ratio"] for r in chosen], dtype=torch.float64)
        corr = torch.corrcoef(torch.stack([train, test]))[0, 1].item() if len(chosen) > 2 else float("nan")
        spread = estimate(test.tolist())
        table.append({"solver": solver, "n": len(chosen), "test mean": spread.mean,
                      "test std": spread.std, "test min": test.min().item(),
                      "test max": test.max().item(), "corr(train, test)": corr,
                      "mean iterations": sum(r["iterations"] for r in chosen) / len(chosen),
                      **{f"stops: {reason}": sum(r["stop"] == reason for r in chosen)
                         for reason in ("patience", "max_iter", "all fooled")}})
    return table


def vector_cosines(vectors: Sequence[torch.Tensor]) -> torch.Tensor:
    """Pairwise cosine similarities ``(k, k)`` (float64) of ``k`` vectors of any common shape."""
    if len(vectors) < 1 or any(v.shape != vectors[0].shape for v in vectors):
        raise ValueError("pass at least one vector, all of the same shape")
    flat = torch.stack([v.detach().flatten().double().cpu() for v in vectors])
    flat = flat / flat.norm(dim=1, keepdim=True).clamp_min(torch.finfo(torch.float64).tiny)
    return flat @ flat.T


def paired_gaps(rows: Sequence[dict[str, Any]], *, method: str = "as",
                against: Sequence[str] = BASELINES, value: str = "test_attack_ratio",
                level: float = 0.95) -> dict[str, Any]:
    """``method`` minus each of ``against`` over the repeats both have (the same crafting sets), as
    :class:`aslib.stats.Estimate` (mean, std, n and the paired confidence interval); methods without
    common repeats are left out."""
    by = {(r["method"], r["repeat"]): float(r[value]) for r in rows}
    gaps = {}
    for other in against:
        common = sorted(rep for (m, rep) in by if m == method and (other, rep) in by)
        if common:
            gaps[other] = paired_difference([by[method, rep] for rep in common], [by[other, rep] for rep in common],
                                            level)
    return gaps


def deepfool_paths(model: nn.Module, x: torch.Tensor, *, steps: int = 5, overshoot: float = 0.02) -> torch.Tensor:
    """The DeepFool iterates of the samples ``x`` ``(B, *shape)``: ``(steps + 1, B, *shape)``, entry ``k`` the point
    ``x + r`` after ``k`` steps (:func:`aslib.attacks.deepfool` with ``max_iter = k``; a sample whose label has
    changed stays where it stopped). For figures of the linearise-and-step loop on low-dimensional toys."""
    check_positive("steps", steps, integer=True)
    points = [x.detach().clone()]
    for k in range(1, steps + 1):
        points.append(x + deepfool(model, x, overshoot=overshoot, max_iter=k).perturbation)
    return torch.stack(points)
