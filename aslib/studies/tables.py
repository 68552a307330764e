"""Tidy tables: rows are plain dicts; summarise them (mean ± std per group, pivots) and print Markdown.

Every row key is a snake_case name (``nonzero_params_x``, ``r2_test``, ``test_attack_ratio``); only display turns it
into a header (:data:`HEADERS`, :func:`header`), so no reader ever parses a formatted string back.

The studies of :mod:`aslib.studies` return one row per repeat x setting; :func:`aggregate`
gives ``<value>_mean`` / ``<value>_std`` per group, :func:`mean_std` prints such a pair as
``0.42 ± 0.03``, :func:`pivot` turns rows into a matrix and :func:`format_table` into Markdown.
"""
from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

from aslib.contracts import CountOrZero, contract
from aslib.linalg.stats import estimate

HEADERS = {"accuracy_after": "accuracy after", "accuracy_before": "accuracy before", "as_layer_mb": "AS layer MB",
           "asnet_accuracy": "ASNet acc", "asnet_m_macs": "ASNet M MACs",
           "asnet_mb": "ASNet MB", "asnet_minus": "ASNet minus", "choices_on": "choices on", "ci95": "95 % CI",
           "clean_error": "clean error", "clip_norm_ratio": "mean ||clip(x+v) - x|| / ||v||",
           "count_high": "count high", "count_low": "count low", "count_mean": "count mean",
           "count_on_sketch_energy": "count on sketch energy", "count_std": "count std", "degree": "p",
           "dense_asnet_m_macs": "dense ASNet M MACs", "dense_asnet_mb": "dense ASNet MB",
           "dense_asnet_params": "dense ASNet params", "dense_macs_x": "dense MACs x",
           "dense_params_x": "dense params x", "drop_high": "drop high", "drop_low": "drop low",
           "eps_255": "eps (x/255)", "error_over_bound": "error / bound",
           "exact_paper_convention": "exact (paper conv.)", "factor_high": "factor high", "factor_low": "factor low",
           "factor_mean": "factor mean", "factor_std": "factor std", "fooling_rate_clipped": "fooling rate (clipped)",
           "from_m": "from m", "images_m": "images m", "iterations_or_passes": "iterations / passes",
           "kd_epochs": "kd epochs", "kd_lr": "kd lr", "l2_normalised": "l2 (normalised)",
           "lambda_1_d_share": "lambda_1 d / trace", "lambda_1_share": "lambda_1 / trace",
           "lambda_k_share": "lambda_k / trace", "lambda_r_plus_1": "lambda_r+1",
           "linf_normalised": "linf (normalised)", "mac_reduction_needed": "MAC reduction needed", "macs_x": "MACs x",
           "mean_iterations": "mean iterations", "median_bootstrap_distance": "median bootstrap distance",
           "n_active_exact_trace": "n_active (exact trace)", "n_samples": "N",
           "nonzero_eigenvalues": "nonzero eigenvalues", "nonzero_params": "nonzero params",
           "nonzero_params_x": "nonzero params x", "numbers_stored": "numbers stored",
           "original_accuracy": "original accuracy", "original_m_macs": "original M MACs",
           "original_mb": "original MB", "original_params": "original params", "paper_macs_x": "paper MACs x",
           "paper_params_x": "paper params x", "params_x": "params x", "pce_layer_mb": "PCE layer MB",
           "pixel_l2": "pixel l2 (0..255)", "pixel_linf": "pixel linf (0..255)",
           "pixel_rms": "RMS per value (0..255)", "pre_model_m_macs": "pre-model M MACs",
           "pre_model_mb": "pre-model MB", "r2": "R2", "r2_heldout": "R2 held-out", "r2_test": "R2 test",
           "r2_train": "R2 train", "rank": "r", "ratio_minus_fooling": "attack ratio - fooling rate",
           "reached_x": "reached x", "recorded_accuracy": "recorded accuracy",
           "recorded_accuracy_before_finetuning": "recorded accuracy before fine-tuning",
           "relative_to_mean_image_l2": "relative to mean image l2", "ridge_per_sample": "ridge per sample",
           "same_logits": "same logits", "same_predictions": "same predictions",
           "same_probabilities": "same probabilities", "sketch_energy_share": "sketch energy / trace",
           "sketch_error": "||G^T G - B^T B||_2", "sparse_epochs": "sparse epochs", "sparse_lr": "sparse lr",
           "sparse_macs_x": "sparse MACs x", "stable_below": "stable below", "target_macs_x": "target MACs x",
           "target_params_x": "target params x", "target_x": "target x", "test_attack_ratio": "test attack ratio",
           "test_attack_ratio_clipped": "test attack ratio (clipped)",
           "test_attack_ratio_unclipped": "test attack ratio (no clipping)", "test_fooling_rate": "test fooling rate",
           "test_max": "test max", "test_mean": "test mean", "test_min": "test min", "test_std": "test std",
           "time_per_vector_s": "time per vector (s)", "time_s": "time (s)", "to_m": "to m",
           "train_attack_ratio": "train attack ratio", "train_minus_test": "train - test",
           "train_test_corr": "corr(train, test)", "validation_accuracy": "validation accuracy",
           "validation_images": "validation images", "wall_time_s": "wall time (s)",
           "xi_normalised": "xi (normalised)", "zeros_needed": "zeros needed"}
"""The display header of a row key whose plain reading (underscores as spaces) would say less than the table did."""


def header(key: str) -> str:
    """The column header (or axis label) of the row key ``key``: :data:`HEADERS`' entry, else the key itself."""
    return HEADERS.get(key, key)


@contract
def format_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str], digits: CountOrZero = 2) -> str:
    """Markdown table of ``rows`` restricted to ``columns``.

    Headers are :func:`header` of each column; floats are printed with ``digits`` decimals, ints with thousands
    separators, anything else with ``str``.
    """
    for i, row in enumerate(rows):
        absent = [c for c in columns if c not in row]
        if absent:
            raise ValueError(f"row {i} has no column {absent}; available: {sorted(row)}")
    lines = ["| " + " | ".join(header(c) for c in columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_format_cell(row[c], digits) for c in columns) + " |" for row in rows]
    return "\n".join(lines)


def _format_cell(value: Any, digits: int) -> str:
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _mean_std(values: Sequence[Any], name: str) -> tuple[float, float]:
    """Mean and sample standard deviation of one column (:func:`aslib.linalg.stats.estimate`, the kit's one formula)."""
    try:
        found = estimate(values)
    except ValueError as error:
        raise ValueError(f"column {name!r}: {error}") from None
    return found.mean, found.std


@contract
def aggregate(rows: Sequence[Mapping[str, Any]], by: Sequence[str] = ("method", "xi"),
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
    for i, row in enumerate(rows):
        missing = [k for k in (*by, *values) if k not in row]
        if missing:
            raise ValueError(f"row {i} has no column {missing}; every row needs the group keys {list(by)} and the "
                             f"values {list(values)} (available: {sorted(row)})")
        groups.setdefault(tuple(row[k] for k in by), []).append(row)
    out = []
    for key, members in groups.items():
        summary: dict[str, Any] = dict(zip(by, key))
        summary["count"] = len(members)
        for name in values:
            summary[f"{name}_mean"], summary[f"{name}_std"] = _mean_std([m[name] for m in members], name)
        out.append(summary)
    return out


@contract
def pivot(rows: Sequence[Mapping[str, Any]], index: str = "target", columns: str = "source",
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


@contract
def mean_std(row: Mapping[str, Any], name: str, digits: CountOrZero = 2) -> str:
    """``"<mean> ± <std>"`` of the ``<name>_mean`` / ``<name>_std`` columns of an :func:`aggregate` row; only
    ``"<value>"`` for a group of one row (``count`` 1), which has no spread to show."""
    for key in (f"{name}_mean", f"{name}_std"):
        if key not in row:
            raise KeyError(f"row has no column {key!r}; aggregate the rows with values including {name!r} first")
    if row.get("count") == 1:
        return f"{row[name + '_mean']:.{digits}f}"
    return f"{row[name + '_mean']:.{digits}f} ± {row[name + '_std']:.{digits}f}"
