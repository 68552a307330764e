"""Tidy tables: Markdown formatting, mean ± std per group, pivots."""
import math
import re

import pytest

from aslib.studies.tables import HEADERS, aggregate, format_table, header, mean_std, pivot


def test_format_table():
    rows = [{"name": "AS layer", "params": 819200, "storage_mb": 3.125},
            {"name": "total", "params": 1389068, "storage_mb": 5.2988}]
    assert format_table(rows, ["name", "params", "storage_mb"]) == (
        "| name | params | storage_mb |\n|---|---|---|\n"
        "| AS layer | 819,200 | 3.12 |\n| total | 1,389,068 | 5.30 |")
    with pytest.raises(ValueError, match="has no column"):
        format_table(rows, ["macs_m"])


def test_row_keys_are_snake_case_and_only_display_gives_them_headers():
    assert all(re.fullmatch(r"[a-z][a-z0-9]*(_[a-z0-9]+)*", key) for key in HEADERS), "a display key slipped in"
    assert len(set(HEADERS.values())) == len(HEADERS), "two row keys would show under one header"
    rows = [{"nonzero_params_x": 10.11, "r2_test": 0.5, "test_loss": 1.0}]
    assert format_table(rows, ["nonzero_params_x", "r2_test", "test_loss"]).splitlines()[0] == \
        "| nonzero params x | R2 test | test_loss |"
    assert header("rank") == "r" and header("not_in_the_table") == "not_in_the_table"


def test_aggregate_mean_and_sample_std_per_group_in_first_seen_order():
    rows = [{"repeat": r, "method": m, "xi": 1.0, "ratio": v}
            for r, (m, v) in enumerate([("as", 0.2), ("uap", 0.1), ("as", 0.4), ("uap", 0.1), ("as", 0.6)])]
    summary = aggregate(rows, by=("method", "xi"))
    assert [(s["method"], s["count"]) for s in summary] == [("as", 3), ("uap", 2)]
    assert summary[0]["ratio_mean"] == pytest.approx(0.4)
    assert summary[0]["ratio_std"] == pytest.approx(0.2)
    assert summary[1]["ratio_std"] == 0.0 and "repeat_mean" not in summary[0]
    single = aggregate(rows[:1], by=("method",))
    assert single[0]["ratio_std"] == 0.0 and single[0]["xi_mean"] == 1.0
    assert aggregate([], by=("method",)) == []


def test_mean_std_prints_the_pair_and_names_a_missing_column():
    row = {"ratio_mean": 0.4237, "ratio_std": 0.031}
    assert mean_std(row, "ratio") == "0.42 ± 0.03"
    assert mean_std(row, "ratio", digits=3) == "0.424 ± 0.031"
    with pytest.raises(KeyError, match="time_mean"):
        mean_std(row, "time")
    assert mean_std({**row, "count": 1}, "ratio") == "0.42", "a single run prints its value, no '± 0.00'"
    assert mean_std({**row, "count": 2}, "ratio") == "0.42 ± 0.03"


def test_pivot_means_over_repeats():
    rows = [{"source": s, "target": t, "v": v} for s, t, v in
            [("a", "a", 1.0), ("a", "a", 3.0), ("b", "a", 0.5), ("a", "b", 0.25)]]
    table = pivot(rows, index="target", columns="source", value="v")
    assert table == [{"target": "a", "a": 2.0, "b": 0.5}, {"target": "b", "a": 0.25}]
    largest = pivot(rows, index="target", columns="source", value="v", reduce=max)
    assert largest[0]["a"] == 3.0 and not math.isnan(largest[1]["a"])
