"""Figures of ASNet building and compression."""
from __future__ import annotations

__all__: list[str] = []
