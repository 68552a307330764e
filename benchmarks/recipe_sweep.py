"""Train one variant of a named recipe and print its test-accuracy history as one JSON line.

    python benchmarks/recipe_sweep.py --recipe vgg19_bn_w025_cifar10 --set epochs=12 --set label_smoothing=0

Run several variants side by side (one process each) to compare recipe changes before a long
run; ``--set`` takes any :class:`aslib.fitting.recipes.TrainingRecipe` field.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

from aslib.fitting import recipes, training


def parse_override(text: str) -> tuple[str, object]:
    key, _, value = text.partition("=")
    fields = {f.name: f for f in dataclasses.fields(recipes.TrainingRecipe)}
    if key not in fields or not value:
        raise SystemExit(f"--set needs FIELD=VALUE with FIELD one of {sorted(fields)}, got {text!r}")
    kind = type(getattr(recipes.RECIPES["lenet_fashion_mnist"], key))
    return key, kind(value)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", required=True, choices=sorted(recipes.TRAINING_RECIPES))
    parser.add_argument("--set", action="append", default=[], type=parse_override, metavar="FIELD=VALUE")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--device", default=None)
    args = parser.parse_args()
    recipe = dataclasses.replace(recipes.RECIPES[args.recipe], **dict(args.set))
    meta = training.train(recipe, args.out, device=args.device, progress=False)
    print(json.dumps({"recipe": args.recipe, "overrides": dict(args.set), "test_accuracy": meta.get("test_accuracy"),
                      "wall_time_s": meta["wall_time_s"],
                      "history": [round(h["test_accuracy"], 4) for h in meta["history"]]}))


if __name__ == "__main__":
    main()
