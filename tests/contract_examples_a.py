"""Valid example calls of contracted functions (part a), merged into ``test_contracts.EXAMPLES``:
``name -> () -> (callable, args, kwargs)``."""
from __future__ import annotations

EXAMPLES: dict = {}
