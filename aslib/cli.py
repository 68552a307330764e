"""Command line: ``python -m aslib.cli {train,zoo,report} ...``.

* ``train --recipe NAME [--out PATH] [--ship]``: train a recipe from :data:`aslib.training.RECIPES`
  (resumes when interrupted); ``--ship`` writes the checkpoint into the package and records it
  in the zoo manifest (command, data source, seed, epochs, wall time, accuracy, sha256).
* ``zoo``: list the shipped checkpoints.
* ``report``: execute every notebook with papermill and collect the report (see :mod:`aslib.report`).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import shlex
import sys
from pathlib import Path

import torch

from . import training
from .models import CHECKPOINT_DIR, zoo


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def ship(name: str, path: Path, meta: dict, command: str) -> dict:
    """Record a finished checkpoint in ``aslib/checkpoints/manifest.json`` and return its entry."""
    manifest_path = CHECKPOINT_DIR / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {"models": []}
    from . import data as data_mod
    from .models import load_checkpoint

    model, _ = load_checkpoint(path)
    extra = {}
    if meta["dataset"] == "cifar10" and data_mod.available("cifar10_lossless"):
        extra["test_accuracy_cifar10_lossless_subset"] = training.evaluate(
            model, data_mod.load("cifar10_lossless", "test"))["accuracy"]
    entry = {"name": name, "arch": meta["arch"], "arch_kwargs": meta["arch_kwargs"], "dataset": meta["dataset"],
             "data_source": Path(meta["data_source"]).name, "command": command, "seed": meta["seed"],
             "epochs": meta["epochs"], "wall_time_s": meta["wall_time_s"], "device": meta["device"],
             "test_accuracy": meta["test_accuracy"], **extra,
             "parameters": sum(p.numel() for p in model.parameters()),
             "size_bytes": path.stat().st_size, "sha256": _sha256(path)}
    manifest["models"] = [m for m in manifest["models"] if m["name"] != name] + [entry]
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")
    return entry


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m aslib.cli", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p_train = sub.add_parser("train", help="train a recipe (resumable)")
    p_train.add_argument("--recipe", required=True, choices=sorted(training.RECIPES))
    p_train.add_argument("--out", type=Path, help="checkpoint path (default: aslib/checkpoints/<name>.pt with --ship)")
    p_train.add_argument("--ship", action="store_true", help="write into the package zoo and its manifest")
    p_train.add_argument("--name", help="zoo name (default: the recipe name)")
    p_train.add_argument("--threads", type=int, help="torch CPU threads")
    p_train.add_argument("--device", help="cpu or cuda (default: cuda when available)")
    sub.add_parser("zoo", help="list shipped checkpoints")
    p_report = sub.add_parser("report", help="execute the notebooks and write the report")
    p_report.add_argument("--out", type=Path, default=Path("report"))
    p_report.add_argument("--preset", default="default", help="default, smoke or paper")
    p_report.add_argument("--force", action="store_true", help="re-execute notebooks already up to date")
    args = parser.parse_args(argv)

    if args.command == "train":
        if args.threads:
            torch.set_num_threads(args.threads)
        name = args.name or args.recipe
        out = args.out or (CHECKPOINT_DIR / f"{name}.pt" if args.ship else Path(f"{name}.pt"))
        meta = training.train(args.recipe, out, device=args.device)
        print(json.dumps({k: v for k, v in meta.items() if k != "history"}, indent=2))
        if args.ship:
            command = "python -m aslib.cli " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:]))
            print(json.dumps(ship(name, out, meta, command), indent=2))
    elif args.command == "zoo":
        for entry in zoo():
            print(f"{entry['name']:28s} {entry['arch']:10s} {entry['dataset']:14s} "
                  f"acc {100 * entry['test_accuracy']:.2f}%  {entry['size_bytes'] / 2**20:.2f} MiB")
    elif args.command == "report":
        from .report import run_report

        run_report(args.out, preset=args.preset, force=args.force)
    return 0


if __name__ == "__main__":
    sys.exit(main())
