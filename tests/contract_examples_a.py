"""Valid example calls of contracted functions (part a), merged into ``test_contracts.EXAMPLES``:
``name -> () -> (callable, args, kwargs)``."""
from __future__ import annotations

import functools
import os
import tempfile
from pathlib import Path
from unittest import mock

import torch
from conftest import random_images

import aslib
from aslib import attacks, distributed
from aslib.attacks import common, deepfool_batched, evaluation
from aslib.data import batching, catalog
from aslib.linalg import stats, subspace
from aslib.linalg.subspace import storage
from aslib.nets import inference, layer_analysis, models
from aslib.store import zoo


@functools.lru_cache(maxsize=1)
def _root() -> Path:
    """A data root holding a small random Fashion-MNIST-shaped archive (20 images per split): no data needed."""
    root = Path(tempfile.mkdtemp())
    aslib.data.write_archive(root / "fashion_mnist.npz", {"train": random_images(20),
                                                          "test": random_images(20, split="test")})
    return root


def _problem() -> tuple[torch.nn.Module, torch.Tensor, torch.Tensor]:
    """A linear 3-class model of 4 inputs in eval mode, 5 inputs ``(5, 4)`` and their labels ``(5,)``."""
    torch.manual_seed(0)
    return torch.nn.Linear(4, 3).eval(), torch.randn(5, 4), torch.tensor([0, 1, 2, 0, 1])


def _pair() -> tuple[torch.Tensor, torch.Tensor]:
    return _problem()[1:]


def _pixels(n: int = 2) -> torch.Tensor:
    return torch.randint(0, 256, (n, 1, 4, 4), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))


def _fitted() -> subspace.ActiveSubspace:
    return subspace.ActiveSubspace("exact").fit(torch.randn(12, 6, generator=torch.Generator().manual_seed(0)))


@functools.lru_cache(maxsize=1)
def _checkpoint() -> Path:
    """A LeNet checkpoint with the metadata :func:`aslib.store.zoo.ship` reads, in a temporary folder."""
    meta = {"arch": "lenet", "arch_kwargs": {}, "dataset": "fashion_mnist", "data_source": "fashion_mnist.npz",
            "seed": 0, "epochs": 1, "wall_time_s": 1.0, "device": "cpu", "test_accuracy": 0.1}
    path = Path(tempfile.mkdtemp()) / "lenet_toy.pt"
    zoo.save_checkpoint(models.build("lenet"), meta, path)
    return path


def _ship_aside(*args, **kwargs):
    """:func:`aslib.store.zoo.ship` into a temporary manifest, the splits read from :func:`_root`: the package's own
    manifest is never touched."""
    with mock.patch.object(zoo, "MANIFEST", Path(tempfile.mkdtemp()) / "manifest.json"), \
            mock.patch.dict(os.environ, {"ASLIB_DATA": str(_root())}):
        return zoo.ship(*args, **kwargs)


EXAMPLES: dict = {
    # aslib.data.catalog
    "aslib.data.catalog.DatasetSpec.__init__": lambda: (catalog.DatasetSpec, (
        ("toy.npz",), "", (0.5,), (0.25,), 10, False), {}),
    "aslib.data.catalog.data_root": lambda: (aslib.data.data_root, (_root(),), {}),
    "aslib.data.catalog.identity": lambda: (aslib.data.identity, (_root(),), {}),
    "aslib.data.catalog.dataset_spec": lambda: (aslib.data.dataset_spec, ("mnist",), {}),
    "aslib.data.catalog.expected_files": lambda: (aslib.data.expected_files, ("cifar10",), {}),
    "aslib.data.catalog.located": lambda: (aslib.data.located, ("fashion_mnist", _root()), {}),
    # aslib.data.images
    "aslib.data.images.ImageDataset.__init__": lambda: (aslib.data.ImageDataset, (_pixels(3), torch.tensor([0, 1, 1])),
                                                        {"mean": (0.5,), "std": (0.25,), "classes": ["a", "b"],
                                                         "name": "toy", "split": "train", "source": "random"}),
    "aslib.data.images.write_archive": lambda: (aslib.data.write_archive, (
        Path(tempfile.mkdtemp()) / "toy.npz", {"test": random_images(4, split="test")}), {}),
    "aslib.data.images.available": lambda: (aslib.data.available, ("fashion_mnist", _root()), {}),
    "aslib.data.images.class_names": lambda: (aslib.data.class_names, ("fashion_mnist", _root()), {}),
    # aslib.data.batching
    "aslib.data.batching.crop_flip_draws": lambda: (aslib.data.crop_flip_draws, (4, torch.Generator()),
                                                    {"padding": 2}),
    "aslib.data.batching.crop_flip": lambda: (aslib.data.crop_flip, (
        _pixels(), torch.tensor([0, 2]), torch.tensor([1, 0]), torch.tensor([True, False])), {"padding": 1}),
    "aslib.data.batching.augment_batch": lambda: (aslib.data.augment_batch, (_pixels(), torch.Generator()),
                                                  {"padding": 1}),
    "aslib.data.batching.BatchLoader.__init__": lambda: (aslib.data.BatchLoader, (random_images(10),), {
        "batch_size": 4, "shuffle": True, "augment": False, "seed": 1, "indices": torch.arange(6), "drop_last": False,
        "device": "cpu", "shard": (1, 2)}),
    "aslib.data.batching.batches": lambda: (aslib.data.batches, (_pair(),), {"batch_size": 2, "device": "cpu",
                                                                             "dtype": torch.float64}),
    "aslib.data.batching.check_batch": lambda: (batching.check_batch, _pair(), {}),
    "aslib.data.batching.local_share": lambda: (aslib.data.local_share, (_pair(),), {"batch_size": 2,
                                                                                     "shard": (1, 2)}),
    # aslib.distributed
    "aslib.distributed.check_shard": lambda: (distributed.check_shard, ((1, 3),), {}),
    "aslib.distributed.share": lambda: (distributed.share, ([1, 2, 3, 4], (1, 2)), {}),
    "aslib.distributed.share_of_iterable": lambda: (distributed.share_of_iterable, ([1, 2, 3], (0, 2)), {}),
    "aslib.distributed.sum_across_ranks": lambda: (distributed.sum_across_ranks, ([1.5, 2],), {}),
    # aslib.nets.inference
    "aslib.nets.inference.evaluate": lambda: (inference.evaluate, _problem()[:1] + (_pair(),), {
        "batch_size": 2, "topk": (1, 2), "progress": False}),
    # aslib.nets.models
    "aslib.nets.models.VGG.__init__": lambda: (models.VGG, (), {"depth": 11, "num_classes": 3, "batch_norm": False,
                                                          "width": 0.125, "in_channels": 1, "channels": None}),
    "aslib.nets.models.ShortcutA.__init__": lambda: (models.ShortcutA, (2,), {}),
    "aslib.nets.models.BasicBlock.__init__": lambda: (models.BasicBlock, (4, 8), {"stride": 2}),
    "aslib.nets.models.ResNet.__init__": lambda: (models.ResNet, (), {"depth": 8, "num_classes": 3, "width": 0.25,
                                                                "in_channels": 1}),
    "aslib.nets.models.LeNet.__init__": lambda: (models.LeNet, (), {"num_classes": 3, "in_channels": 1}),
    # aslib.store.zoo
    "aslib.store.zoo.resolve": lambda: (zoo.resolve, ("lenet_fashion_mnist",), {"weights": None, "dataset": None,
                                                                         "map_location": "cpu"}),
    "aslib.store.zoo.same_data": lambda: (zoo.same_data, (zoo.entry("lenet_fashion_mnist"),
                                                    random_images(4, split="test")), {}),
    "aslib.store.zoo.sha256": lambda: (zoo.sha256, (zoo.MANIFEST,), {}),
    "aslib.store.zoo.ship": lambda: (_ship_aside, ("lenet_toy", _checkpoint(), torch.load(
        _checkpoint(), weights_only=True)["meta"], "python -m aslib.cli train ..."), {}),
    # aslib.linalg.stats
    "aslib.linalg.stats.Estimate.__init__": lambda: (stats.Estimate, (0.5, 0.1, 3, 0.25, 0.75, 0.95), {}),
    # aslib.linalg.subspace
    "aslib.nets.layer_analysis.LayerAnalysis.table": lambda: (layer_analysis.LayerAnalysis(fc=_fitted()).table, (),
                                                          {"deltas": [0.9], "leading": 2}),
    "aslib.linalg.subspace.storage.StoredRows.__init__": lambda: (storage.StoredRows, ("randomized",), {"seed": 0}),
    "aslib.linalg.subspace.storage.Sketch.__init__": lambda: (storage.Sketch, (4,), {}),
    "aslib.linalg.subspace.storage.make_store": lambda: (storage.make_store, ("frequent_directions",), {"ell": 4}),
    # aslib.attacks
    "aslib.attacks.common.AttackResult.__init__": lambda: (attacks.AttackResult, (torch.zeros(3, 4, 4),), {
        "history": [0.1, 0.2], "iterations": 2, "wall_time_s": 0.5, "method": "as", "xi": 1.0, "norm": "linf"}),
    "aslib.attacks.common.register": lambda: (common.register, ("toy",), {}),
    "aslib.attacks.common.craft": lambda: (attacks.craft, ("random", *_problem(), 1.0), {
        "norm": "l2", "seed": 0, "batch_size": 2}),
    "aslib.attacks.common.check_images": lambda: (common.check_images, (_problem()[1],), {}),
    "aslib.attacks.common.check_labels": lambda: (common.check_labels, (*_pair(), 3), {}),
    "aslib.attacks.common.check_vector": lambda: (common.check_vector, (_problem()[1], torch.zeros(4)), {}),
    "aslib.attacks.common.check_precision": lambda: (common.check_precision, ("bfloat16", torch.device("cpu")), {}),
    "aslib.attacks.common.num_classes": lambda: (common.num_classes, _problem()[:2], {}),
    "aslib.attacks.common.check_model_inputs": lambda: (common.check_model_inputs, _problem()[:2], {}),
    "aslib.attacks.common.validate": lambda: (common.validate, (*_problem(), 1.0, "l2", 2), {}),
    "aslib.attacks.common.project": lambda: (common.project, (torch.randn(4), 2.0), {"norm": "linf"}),
    "aslib.attacks.common.rescale": lambda: (common.rescale, (torch.randn(4), 2.0, "linf"), {}),
    "aslib.attacks.deepfool_batched.run_deepfool": lambda: (deepfool_batched.run_deepfool, (
        *_problem()[:2], 3, 0.02, 3, "l2"), {}),
    "aslib.attacks.deepfool_batched.check_deepfool_options": lambda: (deepfool_batched.check_deepfool_options,
                                                                      (10, 0.02, 50), {}),
    "aslib.attacks.evaluation.rates": lambda: (evaluation.rates, (
        *_problem(), torch.tensor([0, 1, 1, 0, 2]), torch.zeros(4)), {"batch_size": 2, "bounds": None}),
}
