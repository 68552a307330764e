"""aslib: active subspaces of neural networks — structural analysis, ASNet and universal attacks.

The package in layers, each a folder whose modules do one job (the README's table says which):
:mod:`aslib.contracts`, :mod:`aslib.distributed`, :mod:`aslib.data`, :mod:`aslib.linalg`, :mod:`aslib.nets`,
:mod:`aslib.attacks`, :mod:`aslib.store`, :mod:`aslib.fitting`, :mod:`aslib.studies`, :mod:`aslib.teach`,
:mod:`aslib.tools`, :mod:`aslib.cli`. A module imports only from its own layer and the layers before it in this
list (and from ``aslib._utils``, the package's private helpers).

``__version__`` is the installed distribution's version (pyproject's ``version``, the one place it is written).
"""
from importlib import metadata as _metadata

from aslib._utils import NonFiniteError

try:
    __version__ = _metadata.version("aslib")
except _metadata.PackageNotFoundError:  # imported from a checkout that was never installed
    __version__ = "0+unknown"

__all__ = ["NonFiniteError", "__version__"]
