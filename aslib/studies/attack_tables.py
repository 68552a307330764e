"""The notebooks' tables of attack studies: rows of plain dicts built from the rows and results of
:mod:`aslib.studies.sweeps`, :mod:`aslib.studies.attacks`, :mod:`aslib.studies.shipped` and
:mod:`aslib.attacks`, shown with :mod:`aslib.teach.nb` / :mod:`aslib.studies.tables`."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from aslib import data as data_mod
from aslib.attacks import (BASELINES, CONTROLS, METHODS, AttackResult, attack_ratio, fooling_rate, perturbation_norms,
    random_perturbation)
from aslib.attacks.common import Images
from aslib.contracts import Count, Fraction, PositiveReal, Proportion, contract
from aslib.linalg.stats import difference_of_proportions, estimate, paired_difference
from aslib.linalg.subspace import ActiveSubspace, relative_energy
from aslib.studies.attacks import EigenDirections
from aslib.studies.shipped import paired_gaps
from aslib.studies.sweeps import Pair, as_pair, method_label
from aslib.studies.tables import aggregate, mean_std, pivot

__all__ = ["as_start_table", "bound_rows", "demo_rows", "eigen_direction_rows", "gap_table", "largest_xi_rows",
           "linf_table", "mean_test_ratios", "perturbation_size_rows", "sample_sweep_table", "spectrum_rows",
           "shipped_sweep_table", "shipped_table", "shipped_transfer_table", "strongest_rival", "sweep_table",
           "transfer_table", "wall_time_rows"]

@contract
def demo_rows(model: nn.Module, crafting: Pair, test: Pair, results: Mapping[str, AttackResult], *,
              dataset: str) -> list[dict[str, Any]]:
    """Per vector: iterations, wall time (s), crafting ("train") and test attack ratio, test fooling rate."""
    (x, y), (x_t, y_t) = as_pair("crafting", crafting), as_pair("test", test)
    return [{"data": dataset, "method": method_label(m), "iterations": r.iterations, "wall_time_s": r.wall_time_s,
             "train_attack_ratio": attack_ratio(model, x, y, r.vector),
             "test_attack_ratio": attack_ratio(model, x_t, y_t, r.vector),
             "test_fooling_rate": fooling_rate(model, x_t, r.vector)} for m, r in results.items()]


@contract
def perturbation_size_rows(results: Mapping[str, AttackResult], x_test: Images, *,
                           dataset: str) -> list[dict[str, Any]]:
    """Sizes of each vector: l2 / linf (normalised and 0..255), RMS per value, pixel l2 / mean image l2 of x_test."""
    if x_test.ndim < 2 or len(x_test) == 0:
        raise ValueError("x_test must be a non-empty batch of images (N, C, H, W)")
    image_l2 = (data_mod.denormalize(x_test, dataset) * 255).flatten(1).norm(dim=1).mean().item()
    d = x_test[0].numel()
    rows = []
    for m, r in results.items():
        n = perturbation_norms(r.vector, dataset)
        rows.append({"data": dataset, "method": method_label(m), "l2_normalised": n["l2"],
                     "linf_normalised": n["linf"],
                     "pixel_l2": n["pixel_l2_255"], "pixel_linf": n["pixel_linf_255"],
                     "pixel_rms": n["pixel_l2_255"] / d ** 0.5,
                     "relative_to_mean_image_l2": n["pixel_l2_255"] / image_l2})
    return rows


@contract
def sweep_table(rows: Sequence[dict[str, Any]], *, methods: Sequence[str] | None = None,
                timed: Sequence[str] = ("as", "uap", "sgd_uap")) -> list[dict[str, Any]]:
    """Per xi of a :func:`noise_sweep`: "mean ± std" train/test attack ratio per method (default: the
    methods of ``rows``, in :data:`aslib.attacks.METHODS` order) and the time (s) of ``timed``."""
    if not rows:
        raise ValueError("no sweep rows: run noise_sweep first")
    present = {r["method"] for r in rows}
    methods = [m for m in METHODS if m in present] if methods is None else methods
    timed = [m for m in timed if m in present]
    summary = {(r["method"], r["xi"]): r for r in aggregate(rows, by=("method", "xi"))}
    table = []
    for xi in sorted({r["xi"] for r in rows}):
        line = {"xi": f"{xi:g}"}
        for split in ("train", "test"):
            for m in methods:
                line[f"{method_label(m)} {split}"] = mean_std(summary[m, xi], f"{split}_attack_ratio")
        for m in timed:
            line[f"{method_label(m)} time (s)"] = mean_std(summary[m, xi], "time_s", 1)
        table.append(line)
    return table


@contract
def wall_time_rows(sweeps: Mapping[str, Sequence[dict[str, Any]]], *,
                   titles: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    """"mean ± std" time per vector and iterations / passes per setting (key -> :func:`noise_sweep` rows) and method
    (the controls left out)."""
    rows = []
    for key, sweep in sweeps.items():
        for r in aggregate(sweep, by=("method",), values=["time_s", "iterations"]):
            if r["method"] not in CONTROLS:
                rows.append({"setting": (titles or {}).get(key, key), "method": method_label(r["method"]),
                             "vectors": r["count"], "time_per_vector_s": mean_std(r, "time_s", 1),
                             "iterations_or_passes": mean_std(r, "iterations", 1)})
    return rows


@contract
def mean_test_ratios(rows: Sequence[dict[str, Any]], xi: PositiveReal) -> dict[str, float]:
    """Mean test attack ratio per method at noise level ``xi`` of a :func:`noise_sweep` (empty if none)."""
    return {r["method"]: r["test_attack_ratio_mean"] for r in aggregate(rows, by=("method", "xi")) if r["xi"] == xi}


@contract
def largest_xi_rows(test_means: Mapping[str, Mapping[str, float]], *, xi: PositiveReal,
                    titles: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    """AS and baseline (UAP, SGD-UAP, random, checkerboard) test attack ratios per setting (from
    :func:`mean_test_ratios`; the baselines a sweep ran) and AS minus each of them."""
    rows = []
    for key, t in test_means.items():
        row = {"setting": (titles or {}).get(key, key), "xi": f"{xi:g}", "AS test": t["as"]}
        for method in BASELINES:
            if method in t:
                row[f"{method_label(method)} test"] = t[method]
        rows.append({**row, **{f"AS - {method_label(m)}": t["as"] - t[m] for m in BASELINES if m in t}})
    return rows


@contract
def transfer_table(rows: Sequence[dict[str, Any]], models: Mapping[str, nn.Module], test: Pair, *,
                   xi: PositiveReal, repeats: Count) -> list[dict[str, Any]]:
    """The transfer matrix of :func:`transfer_matrix` rows (rows = target, columns = source, mean test
    attack ratio), with each target's baselines on ``test``: ``random`` (mean over seeds
    ``0..repeats-1`` of a random vector of norm ``xi``) and ``clean error``."""
    x, y = as_pair("test", test)
    if set(r["target"] for r in rows) - set(models) or repeats < 1:
        raise ValueError(f"every target needs a model in models and repeats >= 1 (got {repeats})")
    matrix = pivot(rows, index="target", columns="source", value="test_attack_ratio")
    for row in matrix:
        target = models[row["target"]]
        row["random"] = sum(attack_ratio(target, x, y, random_perturbation(x.shape[1:], xi, seed=s, device=x.device))
                            for s in range(repeats)) / repeats
        row["clean_error"] = attack_ratio(target, x, y, torch.zeros_like(x[0]))
    return matrix


@contract
def sample_sweep_table(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per classes and N of a :func:`sample_sweep`: "mean ± std" attack ratios, train - test gap, time (s)."""
    return [{"classes": r["classes"], "n_samples": r["n_samples"],
             "train_attack_ratio": mean_std(r, "train_attack_ratio"),
             "test_attack_ratio": mean_std(r, "test_attack_ratio"),
             "train_minus_test": r["train_attack_ratio_mean"] - r["test_attack_ratio_mean"],
             "time_s": mean_std(r, "time_s", 1)} for r in aggregate(rows, by=("classes", "n_samples"))]


@contract
def linf_table(rows: Sequence[dict[str, Any]], eps255: Mapping[float, float]) -> list[dict[str, Any]]:
    """"mean ± std" per budget (``eps255``: xi -> grey levels) and method of an l-infinity :func:`noise_sweep`."""
    return [{"eps_255": f"{eps255[r['xi']]:g}", "xi_normalised": r["xi"], "method": method_label(r["method"]),
             **{name: mean_std(r, name) for name in ("train_attack_ratio", "test_attack_ratio", "test_fooling_rate")},
             "time_s": mean_std(r, "time_s", 1)}
            for r in sorted(aggregate(rows, by=("method", "xi")), key=lambda r: (r["xi"], r["method"]))]


@contract
def bound_rows(sweeps: Mapping[str, Sequence[dict[str, Any]]],
               clean_error: Mapping[str, Proportion]) -> list[dict[str, Any]]:
    """A - F of every row of the named sweeps and the clean error of its ``classes`` ("all", "1", ...)."""
    return [{"sweep": name, "classes": r["classes"], "method": method_label(r["method"]),
             "ratio_minus_fooling": r["test_attack_ratio"] - r["test_fooling_rate"],
             "clean_error": clean_error[r["classes"]]} for name, rows in sweeps.items() for r in rows]


@contract
def spectrum_rows(spectra: Mapping[str, ActiveSubspace], *, fractions: Sequence[Fraction] = (0.5, 0.9, 0.99),
                  delta: Fraction = 0.95) -> list[dict[str, Any]]:
    """Per spectrum: d, m, lambda_1 / trace, lambda_1 d / trace, directions per fraction of trace, active count."""
    rows = []
    for label, est in spectra.items():
        energy = relative_energy(est.eigenvalues, est.trace)
        lead = float(est.eigenvalues[0])
        row = {"model": label, "d": est.dim, "m": est.n_samples, "lambda_1_share": lead / est.trace,
               "lambda_1_d_share": lead * est.dim / est.trace}
        for frac in fractions:
            row[f"directions for {frac:.0%}"] = int((energy < frac - 1e-12).sum()) + 1
        row[f"active (delta={delta:g}, code)"] = est.n_active(delta)
        rows.append(row)
    return rows


@contract
def eigen_direction_rows(study: EigenDirections) -> list[dict[str, Any]]:
    """Table of :func:`eigen_directions`: v_k, mean random (lambda / trace = 1/d), AS vector, clean error."""
    column = "test attack ratio (best sign)"
    rows = [{"direction": f"v_{k + 1}", "lambda_k_share": lam, column: r}
            for k, (lam, r) in enumerate(zip(study.lambdas, study.eigen))]
    return rows + [{"direction": f"random (mean of {len(study.random)})", "lambda_k_share": 1 / study.dim,
                    column: float(study.random.mean())},
                   {"direction": "recursive AS vector", "lambda_k_share": "-", column: study.recursive},
                   {"direction": "none (clean error)", "lambda_k_share": 0.0, column: study.clean}]


@contract
def shipped_table(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per method of a :func:`shipped_study`: vectors n, crafting-set ("train") and test attack ratio and
    test fooling rate as "mean ± std", and the crafting time per vector (s)."""
    if not rows:
        raise ValueError("no shipped vectors evaluated: craft them with `python -m aslib.cli attack-study --ship`")
    return [{"method": method_label(r["method"]), "n": r["count"],
             "train_attack_ratio": mean_std(r, "train_attack_ratio"),
             "test_attack_ratio": mean_std(r, "test_attack_ratio"),
             "test_fooling_rate": mean_std(r, "test_fooling_rate"), "time_per_vector_s": mean_std(r, "time_s", 1)}
            for r in aggregate(rows, by=("method",))]


@contract
def shipped_sweep_table(rows: Sequence[dict[str, Any]], *, method: str = "as",
                        against: Sequence[str] = BASELINES) -> list[dict[str, Any]]:
    """Per noise level of a multi-xi :func:`shipped_study`: n, the crafting-set ("train") and test
    attack ratio of every method as "mean ± std", and ``method`` minus each of ``against`` on the
    test set as "mean [95 % CI]" (paired over the common repeats, :func:`paired_gaps`)."""
    if not rows:
        raise ValueError("no shipped vectors evaluated: craft them with `python -m aslib.cli attack-study --ship`")
    table = []
    for xi in sorted({r["xi"] for r in rows}):
        level = [r for r in rows if r["xi"] == xi]
        row: dict[str, Any] = {"xi": xi, "n": min(s["count"] for s in aggregate(level, by=("method",)))}
        for s in aggregate(level, by=("method",)):
            row[f"{method_label(s['method'])} train"] = mean_std(s, "train_attack_ratio", 3)
            row[f"{method_label(s['method'])} test"] = mean_std(s, "test_attack_ratio", 3)
        for other, est in paired_gaps(level, method=method, against=against).items():
            interval = "" if est.low is None else f" [{est.low:+.3f}, {est.high:+.3f}]"
            row[f"{method_label(method)} - {method_label(other)} (test)"] = f"{est.mean:+.3f}{interval}"
        table.append(row)
    return table


@contract
def shipped_transfer_table(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per target and method of a :func:`shipped_transfer`: the test attack ratio of each source's
    vectors as "mean ± std" and the number of vectors per source (rows: evaluated model)."""
    if not rows:
        raise ValueError("no shipped transfer vectors: craft them with `python -m aslib.cli attack-study "
                         "--experiment transfer --ship`")
    sources = list(dict.fromkeys(r["source"] for r in rows))
    table = []
    for summary in aggregate(rows, by=("target", "method", "source"), values=("test_attack_ratio",)):
        key = {"target": summary["target"], "method": method_label(summary["method"])}
        row = next((t for t in table if all(t[k] == v for k, v in key.items())), None)
        if row is None:
            row = {**key, **{f"from {s}": "-" for s in sources}, "n": summary["count"]}
            table.append(row)
        row[f"from {summary['source']}"] = mean_std(summary, "test_attack_ratio", 3)
        row["n"] = min(row["n"], summary["count"])
    targets = list(dict.fromkeys(r["target"] for r in rows))
    order = [method_label(m) for m in METHODS]
    return sorted(table, key=lambda t: (targets.index(t["target"]), order.index(t["method"])
                                        if t["method"] in order else len(order)))


@contract
def gap_table(gaps: Mapping[str, Any], *, method: str = "as") -> list[dict[str, Any]]:
    """Rows ``method - other`` of :func:`paired_gaps`: mean, std, n and the paired 95 % interval."""
    return [{"difference": f"{method_label(method)} - {method_label(other)}", "mean": est.mean, "std": est.std,
             "n": est.n,
             "ci95": "n < 2" if est.low is None else f"[{est.low:.3f}, {est.high:.3f}]"}
            for other, est in gaps.items()]


@contract
def as_start_table(rows: Sequence[dict[str, Any]], *, level: Fraction = 0.95) -> list[dict[str, Any]]:
    """The answers of :func:`as_start_study` over its crafting sets: paired test-attack-ratio differences (SGD-UAP
    started from the AS vector minus SGD-UAP from zero; SGD-UAP minus AS) and the shares of the vectors in the top
    input active directions next to a random direction's ``rank / d``; each with mean, std, n and the ``level``
    t-interval (paired over the crafting sets where two methods are compared)."""
    if not rows:
        raise ValueError("no rows: run as_start_study first")
    col = lambda key: [r[key] for r in rows]  # noqa: E731
    random_share = rows[0]["rank"] / rows[0]["dim"]
    tests = [("test attack ratio: SGD-UAP from AS - SGD-UAP from zero",
              paired_difference(col("sgd_uap_from_as_test"), col("sgd_uap_test"), level)),
             ("test attack ratio: SGD-UAP from zero - AS",
              paired_difference(col("sgd_uap_test"), col("as_test"), level)),
             ("test attack ratio: SGD-UAP from AS - AS",
              paired_difference(col("sgd_uap_from_as_test"), col("as_test"), level)),
             (f"share in top {rows[0]['rank']} input AS directions: AS vector", estimate(col("as_share"), level)),
             (f"share in top {rows[0]['rank']} input AS directions: SGD-UAP from zero",
              estimate(col("sgd_uap_share"), level)),
             (f"share in top {rows[0]['rank']} input AS directions: SGD-UAP from AS",
              estimate(col("sgd_uap_from_as_share"), level))]
    table = [{"quantity": name, "mean": est.mean, "std": est.std, "n": est.n,
              f"{100 * level:g} % CI": "n < 2" if est.low is None else f"[{est.low:.3f}, {est.high:.3f}]"}
             for name, est in tests]
    table.append({"quantity": f"share in top {rows[0]['rank']} directions: a random direction (rank / d)",
                  "mean": random_share, "std": "-", "n": "-", f"{100 * level:g} % CI": "-"})
    return table


@contract
def strongest_rival(rows: Sequence[dict[str, Any]], xi: PositiveReal, n_test: Count, *, method: str = "as",
                    level: Fraction = 0.95) -> dict[str, Any]:
    """At noise level ``xi`` of a sweep's ``rows``: ``method``'s mean test attack ratio, the other method with the
    highest one (the rival) and the difference ``method - rival`` with its ``level`` interval: paired over the
    crafting sets when both have at least two common repeats, else the interval of two proportions on the
    ``n_test`` test images (which leaves out the spread between crafting sets, so a separation it shows is a
    statement about these vectors only). Keys: ``method, ratio, rival, rival_ratio, difference, low, high, n,
    basis`` ("crafting sets" or "test images") and ``verdict`` (which is ahead, or "cannot be told apart")."""
    at = [r for r in rows if r["xi"] == xi]
    means = {m: sum(r["test_attack_ratio"] for r in at if r["method"] == m)
             / sum(r["method"] == m for r in at) for m in {r["method"] for r in at}}
    if method not in means or len(means) < 2:
        raise ValueError(f"rows at xi = {xi} need {method!r} and another method, got {sorted(means)}")
    rival = max((m for m in means if m != method), key=means.get)
    paired = paired_gaps(at, method=method, against=[rival], level=level).get(rival)
    if paired is not None and paired.n >= 2:
        low, high, n, basis = paired.low, paired.high, paired.n, "crafting sets"
    else:
        (low, high), n, basis = difference_of_proportions(means[method], means[rival], n_test, n_test, level), 1, \
            "test images"
    verdict = (f"{method_label(method)} ahead" if low > 0 else f"{method_label(rival)} ahead" if high < 0
               else "cannot be told apart")
    return {"method": method_label(method), "ratio": means[method], "rival": method_label(rival),
            "rival_ratio": means[rival],
            "difference": means[method] - means[rival], "low": low, "high": high, "n": n, "basis": basis,
            "verdict": verdict}
