"""Tidy tables: rows are plain dicts; summarise them (mean ± std per group, pivots) and print Markdown.

The studies of :mod:`aslib.studies` return one row per repeat x setting; :func:`aggregate`
gives ``<value>_mean`` / ``<value>_std`` per group, :func:`mean_std` prints such a pair as
``0.42 ± 0.03``, :func:`pivot` turns rows into a matrix and :func:`format_table` into Markdown.
"""
from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

from aslib.contracts import CountOrZero, contract
from aslib.linalg.stats import estimate


@contract
def format_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str], digits: CountOrZero = 2) -> str:
    """Markdown table of ``rows`` restricted to ``columns``.

    Floats are printed with ``digits`` decimals, ints with thousands separators, anything else with ``str``.
    """
    for i, row in enumerate(rows):
        absent = [c for c in columns if c not in row]
        if absent:
            raise ValueError(f"row {i} has no column {absent}; available: {sorted(row)}")
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
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
