"""Valid example calls of contracted functions (part b), merged into ``test_contracts.EXAMPLES``:
``name -> () -> (callable, args, kwargs)``."""
from __future__ import annotations

EXAMPLES: dict = {}
