"""Figures of universal attacks and their studies."""
from __future__ import annotations

__all__: list[str] = []
