"""The model zoo: checkpoints shipped inside the package, their manifest, loading and saving.

``aslib/checkpoints/manifest.json`` records for every shipped checkpoint the exact command that
made it, data source and the identity of its splits (``data_sha256``, :func:`same_data`), seed, epochs,
wall time, test accuracy, size and sha256 (and, for checkpoints shipped since fingerprints exist, the
``platform`` it was trained on). Checkpoints hold
``{"model": state_dict, "meta": {...}}`` and always load with ``torch.load(..., weights_only=True)``
(no arbitrary unpickling).
"""
from __future__ import annotations

import hashlib
import json
from importlib import resources
from pathlib import Path
from typing import Any

import torch
import torchvision
from torch import nn

from aslib import data as data_mod
from aslib._utils import atomic_save, atomic_write_json, check_choice, load_tensors
from aslib.contracts import contract
from aslib.nets.asnet import ASNet, split_model
from aslib.nets.inference import evaluate
from aslib.nets.models import build
from aslib.store.reproduction import data_identity, platform_fingerprint

CHECKPOINT_DIR = Path(str(resources.files("aslib") / "checkpoints"))
MANIFEST = CHECKPOINT_DIR / "manifest.json"


COMPRESSED_FIELDS = ("base_model", "base_test_accuracy", "build", "nonzero_params", "macs", "sparse_macs",
                     "params_x", "macs_x", "nonzero_params_x", "sparse_macs_x")
"""The manifest fields of a shipped ASNet or pruned network beyond those of a network (see :func:`ship`;
``build`` only for an ASNet)."""


def entries() -> list[dict[str, Any]]:
    """The shipped checkpoints: one dict per model with accuracy, size, data and recipe."""
    if not MANIFEST.exists():
        return []
    return json.loads(MANIFEST.read_text())["models"]


@contract
def entry(name: str) -> dict[str, Any]:
    """The manifest entry of the shipped checkpoint ``name`` (ValueError listing the names if absent)."""
    found = {e["name"]: e for e in entries()}
    check_choice("shipped model", name, found,
                 ". Train one with `python -m aslib.cli train --recipe NAME --ship`.")
    return found[name]


@contract
def save_checkpoint(model: nn.Module, meta: dict[str, Any], path: str | Path) -> None:
    """Write ``{"model": state_dict, "meta": meta}``; ``meta`` must hold ``arch`` and ``arch_kwargs``."""
    if "arch" not in meta or "arch_kwargs" not in meta:
        raise ValueError("checkpoint metadata needs 'arch' and 'arch_kwargs' to rebuild the model")
    atomic_save({"model": {k: v.detach().cpu() for k, v in model.state_dict().items()}, "meta": meta}, Path(path))


def _read_checkpoint(path: str | Path, map_location: str | torch.device) -> dict[str, Any]:
    """``{"model": state_dict, "meta": {...}}`` of a checkpoint, loaded with ``weights_only=True``."""
    state = load_tensors(path, "aslib checkpoint ({'model': state_dict, 'meta': {...}})", map_location)
    if not isinstance(state, dict) or not {"model", "meta"} <= set(state):
        raise ValueError(f"{path} is a tensor file but not an aslib checkpoint: expected the keys 'model' and "
                         "'meta' (write it with aslib.store.zoo.save_checkpoint)")
    return state


@contract
def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> tuple[nn.Module, dict]:
    """Rebuild a model from a checkpoint written by :func:`save_checkpoint`.

    Loads with ``weights_only=True`` (no arbitrary unpickling). Returns ``(model in eval mode, metadata)``.
    """
    state = _read_checkpoint(path, map_location)
    meta = state["meta"]
    model = _rebuild(meta["arch"], meta["arch_kwargs"])
    try:
        model.load_state_dict(state["model"])
    except RuntimeError as error:
        raise ValueError(f"{path}: the weights do not fit the architecture {meta['arch']!r} "
                         f"{meta['arch_kwargs']}: {str(error).splitlines()[0]}") from None
    return model.eval(), meta


def _rebuild(arch: str, kwargs: dict[str, Any]) -> nn.Module:
    """An untrained model of the checkpoint's architecture; ``"asnet"`` is an ASNet cut from its base."""
    if arch != "asnet":
        return build(arch, **kwargs)
    pre, _ = split_model(build(kwargs["base_arch"], **kwargs["base_kwargs"]), kwargs["layer"])
    return ASNet.empty(pre, kwargs["neurons"], kwargs["rank"], kwargs["degree"], kwargs["num_classes"])


@contract
def metadata(name: str) -> dict[str, Any]:
    """The metadata a shipped checkpoint carries beyond its manifest entry (the recipe, and for a fine-tuned
    network the per-epoch ``history``), read without building the model."""
    entry(name)
    return _read_checkpoint(CHECKPOINT_DIR / f"{name}.pt", "cpu")["meta"]


@contract
def pretrained(name: str, map_location: str | torch.device = "cpu") -> nn.Module:
    """An eval-mode model from a checkpoint shipped with the package (see :func:`entries`): a network
    (``nn.Sequential``) or, for a name containing ``asnet``, an :class:`~aslib.nets.asnet.ASNet`."""
    entry(name)
    model, _ = load_checkpoint(CHECKPOINT_DIR / f"{name}.pt", map_location)
    return model


TORCHVISION_PREFIX = "torchvision:"


@contract
def resolve(spec: str, *, weights: str | Path | None = None, dataset: str | None = None,
            map_location: str | torch.device = "cpu") -> tuple[nn.Module, str]:
    """A model in eval mode and its dataset name from any of three specs (the CLI's ``--model``):

    * a zoo name (:func:`entries`); its dataset comes from the manifest;
    * the path of a kit checkpoint (:func:`save_checkpoint`); its dataset from its metadata, else ``dataset``;
    * ``"torchvision:NAME"``: ``torchvision.models.get_model(NAME, num_classes=...)`` for ``dataset``
      (required), with the state dict in the file ``weights`` (loaded with ``weights_only=True``) or,
      without one, its random initialisation.
    """
    if spec.startswith(TORCHVISION_PREFIX):
        if dataset not in data_mod.SPECS:
            raise ValueError(f"a torchvision model needs its dataset: pass one of {sorted(data_mod.SPECS)} "
                             f"(--dataset on the command line), got {dataset!r}")
        name = spec[len(TORCHVISION_PREFIX):]
        if name not in torchvision.models.list_models():
            raise ValueError(f"{name!r} is not a torchvision model; choose one of torchvision.models.list_models(), "
                             "e.g. torchvision:resnet18")
        model = torchvision.models.get_model(name, weights=None, num_classes=data_mod.SPECS[dataset].num_classes)
        if weights is not None:
            state = load_tensors(weights, f"state dict of torchvision {name}", map_location)
            try:
                model.load_state_dict(state)
            except (RuntimeError, TypeError, AttributeError) as error:
                classes = data_mod.SPECS[dataset].num_classes
                raise ValueError(f"{weights}: not a state dict of torchvision {name} with "
                                 f"{classes} classes: {str(error).splitlines()[0]}") from None
        return model.to(map_location).eval(), dataset
    if spec in {e["name"] for e in entries()}:
        return pretrained(spec, map_location), entry(spec)["dataset"]
    if Path(spec).is_file():
        model, meta = load_checkpoint(spec, map_location)
        found = meta.get("dataset", dataset)
        if found is None:
            raise ValueError(f"{spec}: its metadata names no dataset; pass dataset= (--dataset)")
        return model, found
    check_choice("model", spec, [e["name"] for e in entries()],
                 " (a zoo name), the path of a kit checkpoint, or torchvision:NAME with a state-dict file")


@contract
def same_data(entry: dict[str, Any], dataset: data_mod.ImageDataset) -> bool:
    """True when ``dataset`` (an :class:`aslib.data.ImageDataset` split) holds exactly the pixels and labels
    the manifest ``entry`` was measured on (its ``data_sha256`` of that split): only then can a recorded
    accuracy be expected back to rounding; on another copy (a lossless CIFAR-10 where the record used the
    JPEG-derived archive) the two are different measurements."""
    recorded = entry.get("data_sha256", {}).get(dataset.split)
    return recorded is not None and recorded == data_identity(dataset.images, dataset.targets)


@contract
def sha256(path: str | Path) -> str:
    """Hex sha256 of a file."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@contract
def ship(name: str, path: str | Path, meta: dict[str, Any], command: str) -> dict[str, Any]:
    """Record a finished checkpoint in the manifest (replacing an entry of the same name); returns the entry.

    The entry holds the command, data source and its splits' identity, seed, epochs, wall time, device,
    precision, test accuracy (plus the lossless CIFAR-10 subset's for CIFAR-10 models), parameters, size,
    sha256 and the platform fingerprint of this process (the one that ships, normally the one that trained);
    an ASNet's (or a pruned network's) entry also its base model and its accuracy, ``method`` (the
    projection, ``"magnitude_pruning"``, or ``"channel_pruning_params"`` / ``"channel_pruning_macs"``), the build,
    nonzero parameters, dense and sparse MACs and
    the reductions against the base network; a run that held out a validation split for its choices
    (:func:`aslib.fitting.runs.run`) also its ``validation`` record, and a chosen one its ``selection``.
    """
    path = Path(path)
    model, _ = load_checkpoint(path)
    extra = {}
    if meta["dataset"] == "cifar10" and data_mod.available("cifar10_lossless"):
        extra["test_accuracy_cifar10_lossless_subset"] = evaluate(
            model, data_mod.load("cifar10_lossless", "test"))["accuracy"]
    record = {"name": name, "arch": meta["arch"], "arch_kwargs": meta["arch_kwargs"], "dataset": meta["dataset"],
              "data_source": Path(meta["data_source"]).name, "command": command, "seed": meta["seed"],
              "epochs": meta["epochs"], "wall_time_s": meta["wall_time_s"], "device": meta["device"],
              "precision": meta.get("precision", "float32"),
              "test_accuracy": meta["test_accuracy"], **extra,
              "parameters": sum(p.numel() for p in model.parameters()),
              "size_bytes": path.stat().st_size, "sha256": sha256(path),
              "data_sha256": {split: data_identity(ds.images, ds.targets)
                              for split, ds in ((s, data_mod.load(meta["dataset"], s)) for s in ("train", "test"))},
              "platform": platform_fingerprint(meta["device"])
              if str(meta["device"]) == "cpu" or torch.cuda.is_available() else None}
    if "nonzero_params" in meta:  # an ASNet or a pruned network from aslib.fitting
        record.update({key: meta[key] for key in COMPRESSED_FIELDS if key in meta})
        recipe = meta["recipe"]
        record["method"] = recipe.get("projection") or (f"channel_pruning_{recipe['match']}" if "match" in recipe
                                                        else "magnitude_pruning")
        if "pruned_channel_fraction" in meta:
            record["pruned_channel_fraction"] = meta["pruned_channel_fraction"]
    record.update({key: meta[key] for key in ("validation", "selection") if key in meta})
    manifest = json.loads(MANIFEST.read_text()) if MANIFEST.exists() else {"models": []}
    manifest["models"] = [m for m in manifest["models"] if m["name"] != name] + [record]
    atomic_write_json(manifest, MANIFEST, indent=2)
    return record
