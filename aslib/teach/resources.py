"""The notebooks and documentation pages shipped inside the package, as folders on disk.

The repository keeps them at its top level (``notebooks/``, ``docs/``); the package reaches them as
``aslib/notebooks`` and ``aslib/docs`` (relative symlinks in a checkout, real files in a built wheel),
through :mod:`importlib.resources`, so an editable install and a wheel install read them the same way.
Only the notebooks ``NN_*.ipynb`` and the pages ``docs/*.md`` ship (pyproject's package data).
"""
from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Sequence

from aslib.contracts import contract

NOTEBOOK_PATTERN = "[0-9][0-9]_*.ipynb"
"""The file names of the kit's notebooks (``01_active_subspaces_from_scratch.ipynb``, ...)."""


def _folder(name: str) -> Path:
    """The package's resource folder ``name`` as a real path (the package is installed as files, never zipped)."""
    folder = resources.files("aslib") / name
    if not isinstance(folder, Path) or not folder.is_dir():
        raise FileNotFoundError(f"aslib's {name}/ is not a folder on disk ({folder}); reinstall the kit from a "
                                "wheel or a checkout (`pip install .`), which ships it as package data")
    return folder


@contract
def notebook_dir() -> Path:
    """The folder of the shipped notebooks (the repository's ``notebooks/`` in a checkout)."""
    return _folder("notebooks")


@contract
def docs_dir() -> Path:
    """The folder of the shipped documentation pages (the repository's ``docs/`` in a checkout)."""
    return _folder("docs")


@contract
def notebooks(folder: str | Path | None = None, only: list[str] | tuple[str, ...] | None = None) -> list[Path]:
    """The notebooks ``NN_*.ipynb`` of ``folder`` (default: the shipped ones), sorted, narrowed by ``only``
    (:func:`select`). Raises ``FileNotFoundError`` when there are none."""
    folder = notebook_dir() if folder is None else Path(folder)
    found = sorted(folder.glob(NOTEBOOK_PATTERN))
    if not found:
        raise FileNotFoundError(f"no notebooks {NOTEBOOK_PATTERN} in {folder}")
    return select(found, only)


@contract
def select(paths: Sequence[str | Path], only: list[str] | tuple[str, ...] | None = None) -> list[Path]:
    """The notebooks of ``paths`` whose name starts with one of the number prefixes ``only`` (``["01", "3"]``: a
    one-digit prefix is read as ``0N``); all of them when ``only`` is None. Raises ``FileNotFoundError`` when a
    prefix selects nothing (the message lists the notebooks there are)."""
    if only is None:
        return list(paths)
    prefixes = tuple(p.zfill(2) if p.isdigit() else p for p in only)
    unmatched = [p for p in prefixes if not any(Path(nb).name.startswith(p) for nb in paths)]
    if unmatched:
        raise FileNotFoundError(f"no notebook starts with {', '.join(unmatched)}; the notebooks are "
                                f"{', '.join(Path(nb).name for nb in paths)}")
    return [nb for nb in paths if Path(nb).name.startswith(prefixes)]


__all__ = ["NOTEBOOK_PATTERN", "docs_dir", "notebook_dir", "notebooks", "select"]
