"""The paper's attack experiments, live: noise-level and sample-size sweeps and cross-model transfer.

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

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm

from .. import data as data_mod
from .._utils import check_choice, check_positive, model_device
from ..attacks import ATTACKS, METHODS, craft
from ..attacks.common import check_xi
from ..attacks.evaluation import clean_predictions, rates
from ..distributed import all_gather, is_main_process, share

__all__ = ["METHOD_LABELS", "noise_sweep", "sample_sweep", "transfer_matrix"]


Pair = tuple[torch.Tensor, torch.Tensor]
"""An ``(x, y)`` pair: images ``(N, C, H, W)`` in normalised units and labels ``(N,)``."""


METHOD_LABELS = {"as": "AS", "uap": "UAP", "sgd_uap": "SGD-UAP", "random": "random", "checkerboard": "checkerboard"}
"""Display names of the attack methods in tables and figures."""


def method_label(method: str) -> str:
    return METHOD_LABELS.get(method, method)


def as_pair(name: str, value: Any) -> Pair:
    if not (isinstance(value, (tuple, list)) and len(value) == 2 and all(isinstance(t, torch.Tensor) for t in value)):
        raise ValueError(f"{name} must be an (x, y) pair of tensors: images (N, C, H, W) and labels (N,)")
    return value[0], value[1]


def check_method_kwargs(method_kwargs: dict[str, dict] | None, methods: Sequence[str]) -> None:
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
        x_all, y_all = as_pair("data", data)
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
    check_method_kwargs(method_kwargs, methods)
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
    check_method_kwargs(method_kwargs, (method,))
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
