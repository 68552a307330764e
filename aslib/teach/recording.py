"""What a notebook records for the report: tables, figures, values and claims.

When ``ASLIB_RESULTS`` is set (the report runner, :mod:`aslib.tools.report`, sets it) each record is written into
``$ASLIB_RESULTS/<notebook>/``; otherwise recording does nothing and a notebook runs the same.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from aslib._utils import check_choice
from aslib.contracts import Count, FiniteReal, contract
from aslib.teach.claims import CLAIMS

__all__ = ["record_claim", "record_figure", "record_table", "record_value", "results_dir"]


def results_dir() -> Path | None:
    """Where recorded results go (``$ASLIB_RESULTS``), or None when not running under the report."""
    path = os.environ.get("ASLIB_RESULTS")
    return Path(path) if path else None


def _slot(notebook: str, key: str, suffix: str) -> Path | None:
    root = results_dir()
    if root is None:
        return None
    folder = root / notebook
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{key}{suffix}"


@contract
def record_table(notebook: str, key: str, markdown: str) -> None:
    """Save a Markdown table for the report."""
    path = _slot(notebook, key, ".md")
    if path is not None:
        path.write_text(markdown.strip() + "\n")


@contract
def record_value(notebook: str, key: str, value: Any) -> None:
    """Save a scalar or short text shown next to the paper's claims."""
    path = _slot(notebook, key, ".json")
    if path is not None:
        path.write_text(json.dumps(value))


@contract
def record_claim(notebook: str, claim_id: str, *, measured: FiniteReal, preset: str, n: Count | None = None,
                 ci95: tuple[FiniteReal, FiniteReal] | None = None, source: str = "live",
                 note: str = "") -> dict[str, Any]:
    """Save one measured claim (an id of :data:`aslib.teach.claims.CLAIMS`) for ``report/claims.json``; returns the
    claim.

    ``measured`` is a number, ``n`` the number of repeats (or images) behind it, ``ci95`` its 95 %
    confidence interval when it has one, ``source`` how it was obtained (``"live"``, ``"shipped,
    evaluated live"``, ...), ``note`` what the number is about (model, data, settings).
    """
    check_choice("claim", claim_id, CLAIMS, " (add a new one to aslib.teach.claims.CLAIMS)")
    if ci95 is not None and ci95[0] > ci95[1]:
        raise ValueError(f"ci95 must be an interval (low, high) with low <= high, got {ci95!r}")
    what, paper = CLAIMS[claim_id]
    claim = {"id": claim_id, "claim": what, "paper": paper, "measured": float(measured),
             "ci95": None if ci95 is None else [float(ci95[0]), float(ci95[1])], "n": n, "source": source,
             "preset": preset, "note": note, "notebook": notebook}
    path = _slot(notebook, f"claims/{claim_id}", ".json")
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(claim))
    return claim


@contract
def record_figure(notebook: str, key: str, figure: Figure) -> None:
    """Save a matplotlib figure (PNG) for the report."""
    path = _slot(notebook, key, ".png")
    if path is not None:
        figure.savefig(path, dpi=90, bbox_inches="tight")
