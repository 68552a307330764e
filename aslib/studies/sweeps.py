"""The paper's attack experiments, live: noise-level and sample-size sweeps and cross-model transfer.

Each sweep draws crafting sets without replacement and without augmentation (the authors drew
with replacement, through the training augmentation), crafts vectors with the attacks of
:mod:`aslib.attacks` and evaluates them on the crafting set and on held-out test images. It returns
a tidy table: a list of plain dicts, one row per repeat x method x setting, which
:func:`aslib.studies.tables.aggregate` and :func:`aslib.studies.tables.pivot` summarise (the notebooks' tables of
these rows are in :mod:`aslib.studies.attack_tables`). Under ``torch.distributed`` the settings
are spread over the ranks (:mod:`aslib.distributed`) and every rank returns the whole table, in
single-process order.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm

from aslib import data as data_mod
from aslib._utils import check_choice, model_device
from aslib.attacks import ATTACKS, METHODS, attack_seed, craft
from aslib.attacks.common import Norm
from aslib.attacks.evaluation import clean_predictions, rates
from aslib.contracts import ClassIndices, Count, Counts, PositiveReal, PositiveReals, contract
from aslib.distributed import all_gather, is_main_process, share

__all__ = ["METHOD_LABELS", "SweepSettings", "noise_sweep", "sample_sweep", "transfer_matrix"]


Pair = tuple[torch.Tensor, torch.Tensor]
"""An ``(x, y)`` pair: images ``(N, C, H, W)`` in normalised units and labels ``(N,)``."""
Crafting = data_mod.ImageDataset | Pair
"""Where a sweep draws its images: a data set, or an ``(x, y)`` :data:`Pair` of tensors."""


METHOD_LABELS = {"as": "AS", "uap": "UAP", "sgd_uap": "SGD-UAP", "random": "random", "checkerboard": "checkerboard"}
"""Display names of the attack methods in tables and figures."""


@contract
def method_label(method: str) -> str:
    """The display name of an attack method (:data:`METHOD_LABELS`; the name itself for another method)."""
    return METHOD_LABELS.get(method, method)


@contract
def as_pair(name: str, value: Any) -> Pair:
    """``value`` as an ``(x, y)`` :data:`Pair` (a tuple or list of two tensors); a ValueError naming the argument
    ``name`` otherwise."""
    if not (isinstance(value, (tuple, list)) and len(value) == 2 and all(isinstance(t, torch.Tensor) for t in value)):
        raise ValueError(f"{name} must be an (x, y) pair of tensors: images (N, C, H, W) and labels (N,)")
    return value[0], value[1]


@contract
def check_method_kwargs(method_kwargs: Mapping[str, Mapping[str, Any]] | None, methods: Sequence[str] = ()) -> None:
    """Check that ``method_kwargs`` maps method names to their options, e.g. ``{"as": {"step_max": 3.0}}``, and that
    every name of ``methods`` is an attack method."""
    unknown = set(methods) - set(ATTACKS)
    if unknown:
        raise ValueError(f"unknown methods {sorted(unknown)}; use some of {tuple(ATTACKS)}")
    for key, value in (method_kwargs or {}).items():
        if key not in ATTACKS or not isinstance(value, Mapping):
            raise ValueError(f"method_kwargs maps method names {tuple(ATTACKS)} to dicts of options, "
                             f"e.g. {{'as': {{'step_max': 3.0}}}}; got key {key!r} -> {value!r}")


@contract
@dataclass(frozen=True)
class SweepSettings:
    """What every sweep (:func:`noise_sweep`, :func:`sample_sweep`, :func:`transfer_matrix`) shares.

    ``classes``: the class indices the crafting sets and test images are restricted to (``None``: all; one class for
    the one-class attacks). ``repeats``: how many crafting sets; repeat ``r`` draws its set without replacement with
    the seed ``seed + r`` and crafts with :func:`aslib.attacks.attack_seed` of ``(seed, r, xi)``. ``norm``: of the
    vectors (``"l2"`` as in the paper, or ``"linf"``). ``method_kwargs``: each method's options, e.g.
    ``{"as": {"step_max": 3.0}, "uap": {"variant": "authors"}}``. ``batch_size``: images per forward pass.
    ``bounds``: the clipping range of the evaluation (:func:`aslib.attacks.valid_bounds`; ``None``: unclipped).
    ``progress``: a progress bar over the settings."""

    classes: ClassIndices | None = None
    repeats: Count = 10
    seed: int = 0
    norm: Norm = "l2"
    method_kwargs: Mapping[str, Mapping[str, Any]] | None = None
    batch_size: Count = 256
    bounds: tuple[torch.Tensor, torch.Tensor] | None = None
    progress: bool = False

    def __post_init__(self) -> None:
        check_method_kwargs(self.method_kwargs)

    def options(self, method: str) -> dict[str, Any]:
        """The options of ``method`` (empty when none were given)."""
        return dict((self.method_kwargs or {}).get(method, {}))


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


def _sweep(model: nn.Module, train_data: Crafting, test_data: Crafting, *, xis: Sequence[float], ns: Sequence[int],
           methods: Sequence[str], settings: SweepSettings) -> list[dict[str, Any]]:
    """The rows of :func:`noise_sweep` and :func:`sample_sweep` (their contracts checked the grids)."""
    for method in methods:
        check_choice("attack method", method, METHODS)
    device, s = model_device(model), settings
    x_test, y_test = _draw(test_data, None, s.classes, 0, device)
    clean_test = clean_predictions(model, x_test, batch_size=s.batch_size)

    def run(setting: tuple[int, int]) -> list[dict[str, Any]]:
        repeat, n = setting
        x, y = _draw(train_data, n, s.classes, s.seed + repeat, device)
        clean = clean_predictions(model, x, batch_size=s.batch_size)
        rows = []
        for xi in xis:
            for method in methods:
                result = craft(method, model, x, y, xi, norm=s.norm, seed=attack_seed(s.seed, repeat, xi),
                               batch_size=s.batch_size, **s.options(method))
                train = rates(model, x, y, clean, result.vector, batch_size=s.batch_size, bounds=s.bounds)
                test = rates(model, x_test, y_test, clean_test, result.vector, batch_size=s.batch_size,
                             bounds=s.bounds)
                rows.append({"repeat": repeat, "method": method, "xi": float(xi), "n_samples": n,
                             "classes": _classes_label(s.classes), "norm": s.norm,
                             "train_attack_ratio": train[0], "train_fooling_rate": train[1],
                             "test_attack_ratio": test[0], "test_fooling_rate": test[1],
                             "time_s": result.wall_time_s, "iterations": result.iterations})
        return rows

    return _spread([(r, n) for r in range(s.repeats) for n in ns], run, s.progress, "attacks")


@contract
def noise_sweep(model: nn.Module, train_data: Crafting, test_data: Crafting, *,
                xis: PositiveReals = (5, 6, 7, 8, 9, 10), n_samples: Count = 200, methods: Sequence[str] = METHODS,
                settings: SweepSettings = SweepSettings()) -> list[dict[str, Any]]:
    """Attack ratio and fooling rate against the noise level (the paper's one-/all-class tables).

    Each repeat ``r`` draws ``n_samples`` crafting images without replacement from ``train_data``
    (seed ``settings.seed + r``; the authors drew with replacement and, on CIFAR, through the training
    augmentation), restricted to ``settings.classes`` when given (one-class attacks). Each
    method crafts a vector per noise level (attack seed :func:`aslib.attacks.attack_seed`, the rule of the shipped
    vectors), evaluated on the crafting set and on all test images of those classes.

    Args:
        train_data, test_data: :class:`aslib.data.ImageDataset` or ``(x, y)`` tensors (normalised).
        settings: what the sweeps share (:class:`SweepSettings`: classes, repeats, seed, norm, per-method options,
            batch size, evaluation bounds, progress bar).

    Under ``torch.distributed`` the repeats are spread over the ranks and every rank returns the
    whole table, in the order (and with the numbers) of a single-process run.

    Returns:
        One dict per repeat x xi x method with ``repeat, method, xi, n_samples, classes, norm,
        train_attack_ratio, train_fooling_rate, test_attack_ratio, test_fooling_rate, time_s, iterations``.
    """
    return _sweep(model, train_data, test_data, xis=xis, ns=(n_samples,), methods=methods, settings=settings)


@contract
def sample_sweep(model: nn.Module, train_data: Crafting, test_data: Crafting, *, ns: Counts = (10, 30, 50, 100, 200),
                 xi: PositiveReal = 10.0, methods: Sequence[str] = ("as",),
                 settings: SweepSettings = SweepSettings()) -> list[dict[str, Any]]:
    """Attack ratio against the number of crafting samples at a fixed ``xi`` (AS only by default).

    Same rows as :func:`noise_sweep`; each repeat x n draws its own subset (seed ``settings.seed + repeat``).
    """
    return _sweep(model, train_data, test_data, xis=(xi,), ns=ns, methods=methods, settings=settings)


@contract
def transfer_matrix(models: Mapping[str, nn.Module], train_data: Crafting, test_data: Crafting, *,
                    xi: PositiveReal = 10.0, n_samples: Count = 50, method: str = "as",
                    settings: SweepSettings = SweepSettings()) -> list[dict[str, Any]]:
    """Cross-model transfer: craft on each source model, evaluate on every target model.

    Each repeat draws one crafting subset (seed ``settings.seed + repeat``) shared by all sources, and each source
    crafts with the attack seed :func:`aslib.attacks.attack_seed`. All
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
    check_choice("attack method", method, METHODS)
    s = settings
    tests = {}
    for name, model in models.items():
        x_test, y_test = _draw(test_data, None, s.classes, 0, model_device(model))
        tests[name] = (x_test, y_test, clean_predictions(model, x_test, batch_size=s.batch_size))

    def run(setting: tuple[int, str]) -> list[dict[str, Any]]:
        repeat, source = setting
        x, y = _draw(train_data, n_samples, s.classes, s.seed + repeat, model_device(models[source]))
        result = craft(method, models[source], x, y, xi, norm=s.norm, seed=attack_seed(s.seed, repeat, xi),
                       batch_size=s.batch_size, **s.options(method))
        rows = []
        for target, model in models.items():
            x_test, y_test, clean = tests[target]
            ratio, fooled = rates(model, x_test, y_test, clean, result.vector.to(x_test.device),
                                  batch_size=s.batch_size, bounds=s.bounds)
            rows.append({"repeat": repeat, "source": source, "target": target, "method": method, "xi": float(xi),
                         "n_samples": n_samples, "classes": _classes_label(s.classes),
                         "test_attack_ratio": ratio, "test_fooling_rate": fooled, "time_s": result.wall_time_s})
        return rows

    return _spread([(r, name) for r in range(s.repeats) for name in models], run, s.progress, "transfer")
