"""Layer studies: active subspaces and active neurons across the layers of a network."""
from __future__ import annotations

__all__: list[str] = []
