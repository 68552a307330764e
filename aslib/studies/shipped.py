"""Studies of the shipped vectors (:mod:`aslib.store.vectors`): their attack ratios on test images, their transfer
between networks, the line-search diagnostics of the AS vectors, and paired gaps between methods over repeats.
"""
from __future__ import annotations

import inspect
import numbers
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from aslib._utils import model_device
from aslib.attacks import BASELINES, METHODS, as_attack, attack_ratio
from aslib.attacks.evaluation import clean_predictions, rates
from aslib.contracts import Count, Fraction, PositiveReal, PositiveReals, contract
from aslib.linalg.stats import estimate, paired_difference
from aslib.store import vectors
from aslib.store.vectors import Solver
from aslib.studies.sweeps import Pair, as_pair

__all__ = ["paired_gaps", "search_diagnostics", "search_summary", "shipped_study", "shipped_transfer"]


@contract
def shipped_study(model: nn.Module, model_name: str, test: Pair, *, xi: PositiveReal | PositiveReals,
                  experiment: str = "allclass", methods: Sequence[str] = METHODS,
                  batch_size: Count = 256) -> list[dict[str, Any]]:
    """The vectors shipped for ``model_name`` (:mod:`aslib.store.vectors`) at the noise level(s) ``xi``
    evaluated live on ``test``.

    One row per noise level x repeat x method: ``repeat, method, xi, experiment, n_samples,
    train_attack_ratio`` (the crafting-set ratio of the record), ``test_attack_ratio,
    test_fooling_rate`` (measured now on ``test`` ``(x (N, C, H, W), y (N,))``, on the model's
    device), ``time_s`` and ``iterations`` of the crafting. Settings with no shipped vector are left out.
    """
    x_test, y_test = as_pair("test", test)
    device = model_device(model)
    x_test, y_test = x_test.to(device), y_test.to(device)
    clean = clean_predictions(model, x_test, batch_size=batch_size)
    rows = []
    for level in ([xi] if isinstance(xi, numbers.Real) else xi):
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


@contract
def shipped_transfer(models: Mapping[str, nn.Module], names: Mapping[str, str], test: Pair, *, xi: PositiveReal,
                     methods: Sequence[str] = METHODS, batch_size: Count = 256) -> list[dict[str, Any]]:
    """The shipped ``"transfer"`` vectors of every source model evaluated live on every target model.

    ``models`` maps labels to models (the targets), ``names`` some of those labels to zoo names
    (the sources: their shipped vectors); ``test`` is ``(x (N, C, H, W), y (N,))``. One row per repeat x method x
    source x target with ``repeat, method, source, target, xi, n_samples, test_attack_ratio,
    test_fooling_rate``; methods a source has no vectors for are left out.
    """
    x_test, y_test = as_pair("test", test)
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


@contract
def search_diagnostics(model: nn.Module, model_name: str, test: Pair, *, xi: PositiveReal,
                       experiment: str = "allclass", solver: Solver = "exact",
                       batch_size: Count = 256) -> list[dict[str, Any]]:
    """How the AS search of each shipped vector went, from the history in its record, with its test
    attack ratio measured live on ``test`` ``(x (N, C, H, W), y (N,))``.

    One row per repeat: ``repeat, solver, iterations, best_iteration`` (1-based iteration of the
    best crafting-set ratio), ``improvements`` (iterations that raised the best ratio),
    ``stop`` (``"patience"``, ``"max_iter"`` or ``"all fooled"``), ``first_step`` (crafting-set
    ratio after iteration 1), ``train_attack_ratio``, ``test_attack_ratio`` and ``history`` (the
    crafting-set ratio of the accepted vector per iteration).
    """
    chosen = vectors.records(model_name, method="as", xi=xi, experiment=experiment, solver=solver)
    if not chosen or any("history" not in r for r in chosen):
        raise ValueError(f"no shipped AS vectors with search histories for {model_name!r} at xi={xi:g} "
                         f"({experiment}, solver {solver}): craft them with `python -m aslib.cli "
                         f"attack-study --model {model_name} --experiment {experiment} --xis {xi:g} --ship`")
    defaults = {k: p.default for k, p in inspect.signature(as_attack).parameters.items()}
    x_test, y_test = (t.to(model_device(model)) for t in as_pair("test", test))
    shipped = vectors.shipped_vectors(model_name, "as", xi, experiment=experiment, solver=solver)
    rows = []
    for record, v in zip(chosen, shipped):
        history = record["history"]
        max_iter = record["options"].get("max_iter", defaults["max_iter"])
        best, improvements = -1.0, 0
        for h in history:
            if h > best:
                best, improvements = h, improvements + 1
        stop = "all fooled" if history[-1] >= 1.0 else "max_iter" if len(history) >= max_iter else "patience"
        rows.append({"repeat": record["repeat"], "solver": solver, "iterations": len(history),
                     "best_iteration": history.index(max(history)) + 1, "improvements": improvements, "stop": stop,
                     "first_step": history[0], "train_attack_ratio": record["train_attack_ratio"],
                     "test_attack_ratio": attack_ratio(model, x_test, y_test, v.to(x_test.device),
                                                       batch_size=batch_size), "history": history})
    return rows


@contract
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
        table.append({"solver": solver, "n": len(chosen), "test_mean": spread.mean,
                      "test_std": spread.std, "test_min": test.min().item(),
                      "test_max": test.max().item(), "train_test_corr": corr,
                      "mean_iterations": sum(r["iterations"] for r in chosen) / len(chosen),
                      **{f"stops: {reason}": sum(r["stop"] == reason for r in chosen)
                         for reason in ("patience", "max_iter", "all fooled")}})
    return table


@contract
def paired_gaps(rows: Sequence[dict[str, Any]], *, method: str = "as",
                against: Sequence[str] = BASELINES, value: str = "test_attack_ratio",
                level: Fraction = 0.95) -> dict[str, Any]:
    """``method`` minus each of ``against`` over the repeats both have (the same crafting sets), as
    :class:`aslib.linalg.stats.Estimate` (mean, std, n and the paired confidence interval); methods without
    common repeats are left out."""
    by = {(r["method"], r["repeat"]): float(r[value]) for r in rows}
    gaps = {}
    for other in against:
        common = sorted(rep for (m, rep) in by if m == method and (other, rep) in by)
        if common:
            gaps[other] = paired_difference([by[method, rep] for rep in common], [by[other, rep] for rep in common],
                                            level)
    return gaps
