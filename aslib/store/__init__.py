"""What the package ships and how it is checked.

:mod:`~aslib.store.zoo` (checkpoints: the manifest, loading, saving, shipping), :mod:`~aslib.store.vectors` (the
shipped universal vectors: crafting, manifest, re-crafting) and :mod:`~aslib.store.reproduction` (a recomputed result
against a stored one, to a tolerance justified by the quantity).
"""
