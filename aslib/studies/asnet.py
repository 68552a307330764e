"""ASNet studies: fits against (r, p), complexity tables, l1 trade-offs, width studies."""
from __future__ import annotations

__all__: list[str] = []
