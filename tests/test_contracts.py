"""Declared contracts (aslib.contracts): the messages, and bad inputs generated from every contract.

The generated tests find every function of the package wrapped by ``contract``, read its declared signature,
and let hypothesis draw values that break one declared parameter at a time (wrong rank or dtype for a tensor,
zero, negative, fractional, boolean, NaN or infinite numbers for counts, fractions and reals, near-miss strings
for a choice), the other arguments taken from a valid example call. Each must be answered by a ContractError
raised on aslib's own line that names the parameter. A contracted function without an example call fails
``test_every_contracted_function_has_an_example``, so the generated coverage grows with the contracts.
"""
from __future__ import annotations

import collections.abc
import dataclasses
import functools
import importlib
import inspect
import math
import pkgutil
import tempfile
import traceback
import types
import typing
from pathlib import Path
from typing import Any, Literal

import matplotlib
import pytest
import contract_examples_a
import contract_examples_b
import torch
from conftest import random_images, sweep_rows

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from hypothesis import given, settings
from hypothesis import strategies as st
from jaxtyping import AbstractArray, Float, Int

import aslib
import aslib.cli
import aslib.cli.parser
import aslib.tools.book
from aslib import attacks, studies
from aslib.contracts import (ClassIndices, ContractError, Count, CountOrZero, Counts, FiniteReal, Fraction,
    NonNegativeReal, PositiveReal, PositiveReals, Proportion, Shape, contract)
from aslib.fitting import epoch_loop, finetuning, recipes, runs, training
from aslib.linalg import frequent_directions as fd, pce, stats, subspace
from aslib.nets import asnet, counts, gradients, inference, layer_analysis, models, pruning
from aslib.store import reproduction, vectors, zoo
from aslib.studies import tables
from aslib.teach import claims, plotting, resources
from aslib.tools import handouts

ASLIB_DIR = Path(aslib.__file__).resolve().parent


def contracted() -> dict[str, object]:
    """Every contracted public function and method of the package, by qualified name."""
    found = {}
    for info in pkgutil.walk_packages(aslib.__path__, "aslib."):
        if info.name.endswith("__main__"):
            continue
        module = importlib.import_module(info.name)
        for name, item in vars(module).items():
            if name.startswith("_") or getattr(item, "__module__", None) != module.__name__:
                continue
            members = [item] + ([getattr(m, "__func__", m) for m in vars(item).values()]
                                if isinstance(item, type) else [])
            for member in members:
                if hasattr(member, "__aslib_contract__"):
                    found[f"{module.__name__}.{member.__qualname__}"] = member
    return found


def _attack_problem() -> tuple[torch.nn.Module, torch.Tensor, torch.Tensor]:
    """A linear 3-class model of 4 inputs, 5 images ``(5, 4)`` and their labels ``(5,)``."""
    model = torch.nn.Linear(4, 3)
    x = torch.randn(5, 4, generator=torch.Generator().manual_seed(0))
    return model, x, torch.tensor([0, 1, 2, 0, 1])


def _image_problem() -> tuple[torch.nn.Module, torch.Tensor, torch.Tensor]:
    """A linear 3-class model of (3, 4, 4) images, 5 images and their labels ``(5,)``."""
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(48, 3))
    x = torch.randn(5, 3, 4, 4, generator=torch.Generator().manual_seed(0))
    return model, x, torch.tensor([0, 1, 2, 0, 1])


@functools.lru_cache(maxsize=1)
def _archive_root() -> Path:
    """A data root holding a small random Fashion-MNIST-shaped archive (40 images per split): no data needed."""
    root = Path(tempfile.mkdtemp())
    aslib.data.write_archive(root / "fashion_mnist.npz", {"train": random_images(40, (1, 28, 28)),
                                                          "test": random_images(40, (1, 28, 28), split="test")})
    return root


@functools.lru_cache(maxsize=1)
def _tiny_asnet() -> tuple[torch.nn.Module, aslib.nets.asnet.ASNet, aslib.data.ImageDataset]:
    """A conv net of (1, 8, 8) images and 3 classes, an ASNet cut from it after conv1 (r = 2, p = 1), and the
    30 random images it was built from."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(collections.OrderedDict(
        conv1=torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3, padding=1), torch.nn.ReLU()), flatten=torch.nn.Flatten(),
        fc=torch.nn.Linear(128, 3))).eval()
    images = random_images(30, (1, 8, 8), num_classes=3, name="tiny")
    return model, asnet.build_asnet(model, "conv1", images, rank=2, degree=1, method="exact")[0], images


def _tiny_pair(n: int = 10, start: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` images ``(n, 1, 8, 8)`` and labels of :func:`_tiny_asnet`'s data, from image ``start`` on."""
    return _tiny_asnet()[2].batch(torch.arange(start, start + n))


def _record() -> dict:
    """A shipped record of a random vector of the LeNet, crafted (for the examples) from the first 10 images."""
    return {**vectors.records("lenet_fashion_mnist", method="random")[0], "crafting_indices": list(range(10))}


@functools.lru_cache(maxsize=None)
def _shipped(name: str) -> torch.nn.Module:
    """A shipped network of the zoo, loaded once."""
    return zoo.pretrained(name)


def _cifar_pair() -> tuple[torch.Tensor, torch.Tensor]:
    """Four random CIFAR-shaped images ``(4, 3, 32, 32)`` and labels ``(4,)``: no data needed."""
    return torch.randn(4, 3, 32, 32, generator=torch.Generator().manual_seed(0)), torch.tensor([0, 1, 2, 3])


def _vgg() -> torch.nn.Module:
    torch.manual_seed(0)
    return models.build("vgg11_bn", width=0.125).eval()


def _eigen_study() -> "studies.EigenDirections":
    return studies.EigenDirections(eigen=[0.2, 0.3], random=torch.tensor([0.1, 0.15]), recursive=0.5, clean=0.1,
                                   lambdas=[0.5, 0.2], captured=torch.tensor([0.1, 0.2]), cosine=0.1, dim=48, n_eval=5)


def _lenet_pair() -> tuple[torch.nn.Module, tuple[torch.Tensor, torch.Tensor]]:
    """A LeNet of random weights and five random Fashion-MNIST-shaped images with labels."""
    torch.manual_seed(0)
    return models.build("lenet").eval(), (torch.randn(5, 1, 28, 28), torch.tensor([0, 1, 2, 3, 4]))


def _equations() -> pce.NormalEquations:
    equations = pce.NormalEquations(3, 2, folds=2)
    equations.add(torch.randn(8, 3), torch.randn(8, 2), torch.arange(8) % 2)
    return equations


def _epoch_loop_args() -> tuple:
    """A linear model of (1, 4, 4) images, a loader of 8 random ones, one phase of one epoch, SGD steps."""
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 3))

    def begin(phase, history):
        opt = torch.optim.SGD(model.parameters(), lr=0.1)

        def step(x, y, batch):
            loss = torch.nn.functional.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            return loss.detach()
        return types.SimpleNamespace(begin_epoch=lambda epoch: None, step=step, averages=lambda epoch: False,
                                     row=lambda epoch, averaged: {}, state_dict=lambda: None)
    loader = aslib.data.BatchLoader(random_images(8, (1, 4, 4), num_classes=3), 4)
    return model, loader, [("main", 1)], begin, lambda phase, epoch, loss: {"epoch": epoch}


def _fitted(method: str = "exact") -> subspace.ActiveSubspace:
    return subspace.ActiveSubspace(method, sketch_size=4).fit(torch.randn(12, 6, generator=torch.Generator()
                                                                         .manual_seed(0)))


EXAMPLES = {
    "aslib.linalg.subspace.solvers.top_directions": lambda: (subspace.top_directions, (torch.randn(8, 5),), {"k": 2}),
    "aslib.linalg.subspace.solvers.subspace_distance": lambda: (subspace.subspace_distance,
                                                         (torch.eye(4)[:, :2], torch.eye(4)[:, 1:3]), {}),
    "aslib.linalg.subspace.solvers.null_space_completion": lambda: (subspace.solvers.null_space_completion,
                                                             (torch.eye(4)[:, :1], 3, 0), {}),
    "aslib.linalg.subspace.solvers.count_active": lambda: (subspace.count_active, (torch.tensor([3.0, 1.0]), 4.0), {}),
    "aslib.linalg.subspace.solvers.relative_energy": lambda: (subspace.relative_energy, (torch.tensor([3.0, 1.0]), 4.0),
                                                       {}),
    "aslib.linalg.subspace.solvers.streaming_method": lambda: (subspace.streaming_method, (40, 10), {}),
    "aslib.linalg.subspace.estimator.ActiveSubspace.__init__": lambda: (subspace.ActiveSubspace, (), {"rank": 2}),
    "aslib.linalg.subspace.estimator.ActiveSubspace.partial_fit": lambda: (subspace.ActiveSubspace().partial_fit,
                                                                    (torch.randn(5, 3),), {}),
    "aslib.linalg.subspace.estimator.ActiveSubspace.fit": lambda: (subspace.ActiveSubspace().fit, (torch.randn(5, 3),), {}),
    "aslib.linalg.subspace.estimator.ActiveSubspace.merge": lambda: (_fitted().merge, (_fitted(),), {}),
    "aslib.linalg.subspace.estimator.ActiveSubspace.n_active": lambda: (_fitted().n_active, (0.9,), {}),
    "aslib.linalg.subspace.readings.leading_directions": lambda: (subspace.leading_directions, (_fitted(), 2), {}),
    "aslib.linalg.subspace.readings.active_variables": lambda: (subspace.active_variables, (_fitted(), torch.randn(3, 6)),
                                                         {"rank": 2}),
    "aslib.linalg.subspace.readings.n_active_authors": lambda: (subspace.n_active_authors, (_fitted(), 0.9), {}),
    "aslib.linalg.subspace.readings.bootstrap": lambda: (subspace.bootstrap, (_fitted(),), {"n_boot": 2, "rank": 1,
                                                                                     "level": 0.9}),
    "aslib.linalg.subspace.readings.summary": lambda: (subspace.summary, (_fitted(), (0.9,), 2), {}),
    "aslib.nets.layer_analysis.fit_layers": lambda: (layer_analysis.fit_layers, ({"a": subspace.ActiveSubspace()},
                                                                       {"a": torch.randn(4, 3)}), {}),
    "aslib.nets.layer_analysis.layer_subspaces": lambda: (
        layer_analysis.layer_subspaces, (torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Linear(4, 2)), "0",
                                   (torch.randn(6, 3), torch.tensor([0, 1, 0, 1, 0, 1]))), {"batch_size": 3}),
    "aslib.linalg.frequent_directions.sketch_directions": lambda: (fd.sketch_directions, (torch.randn(4, 6),), {}),
    "aslib.linalg.frequent_directions.stacked_gram": lambda: (fd.stacked_gram, (torch.randn(4, 6), torch.zeros(0)), {}),
    "aslib.linalg.frequent_directions.stacked_eigh": lambda: (fd.stacked_eigh, (torch.randn(4, 6), torch.zeros(0)), {}),
    "aslib.linalg.frequent_directions.shrink_rows": lambda: (fd.shrink_rows, (torch.randn(4, 6), torch.zeros(0), 2,
                                                                       torch.zeros(4, 6)), {}),
    "aslib.linalg.frequent_directions.shrink": lambda: (fd.shrink, (torch.randn(4, 6), 2), {}),
    "aslib.linalg.frequent_directions.frequent_directions_bound": lambda: (fd.frequent_directions_bound,
                                                                    (torch.randn(8, 5), 3, 1), {}),
    "aslib.linalg.pce.num_terms": lambda: (pce.num_terms, (3, 2), {}),
    "aslib.linalg.pce.total_degree_indices": lambda: (pce.total_degree_indices, (3, 2), {}),
    "aslib.linalg.pce.HermiteBasis.__init__": lambda: (pce.HermiteBasis, (3, 2), {}),
    "aslib.linalg.pce.Standardize.__init__": lambda: (pce.Standardize, (torch.zeros(3), torch.ones(3)), {}),
    "aslib.linalg.pce.Standardize.from_data": lambda: (pce.Standardize.from_data, (torch.randn(5, 3),), {}),
    "aslib.linalg.pce.NormalEquations.__init__": lambda: (pce.NormalEquations, (3, 2), {"folds": 2}),
    "aslib.linalg.pce.NormalEquations.add": lambda: (pce.NormalEquations(3, 2, folds=2).add,
                                              (torch.randn(4, 3), torch.randn(4, 2), torch.tensor([0, 1, 0, 1])), {}),
    "aslib.linalg.pce.NormalEquations.solve": lambda: (_equations().solve, (0.1,), {"exclude": 0}),
    "aslib.linalg.pce.NormalEquations.residual": lambda: (_equations().residual, (torch.zeros(3, 2, dtype=torch.float64),),
                                                   {"fold": 0}),
    "aslib.linalg.pce.NormalEquations.r2": lambda: (_equations().r2, (torch.zeros(3, 2, dtype=torch.float64),), {}),
    "aslib.linalg.pce.NormalEquations.cross_validate": lambda: (_equations().cross_validate, ([0.0, 1.0],), {}),
    "aslib.linalg.pce.r2_score": lambda: (pce.r2_score, (torch.randn(5, 2), torch.randn(5, 2)), {}),
    "aslib.attacks.as_attack.as_attack": lambda: (attacks.as_attack, (*_attack_problem(), 1.0), {"max_iter": 2}),
    "aslib.nets.asnet.build_asnet": lambda: (asnet.build_asnet, (models.build("lenet").eval(), "conv2", random_images(20)),
                                        {"rank": 2, "degree": 1, "batch_size": 10}),
    "aslib.nets.asnet.split_model": lambda: (asnet.split_model, (models.build("lenet"), "conv2"), {}),
    "aslib.nets.models.build": lambda: (models.build, ("vgg11_bn",), {"width": 0.125}),
    "aslib.nets.models.cut_points": lambda: (models.cut_points, (models.build("lenet"),), {}),
    "aslib.nets.models.count_parameters": lambda: (models.count_parameters, (torch.nn.Linear(2, 2),), {}),
    "aslib.nets.gradients.per_sample_function": lambda: (gradients.per_sample_function, ("logit",), {}),
    "aslib.nets.gradients.resolve_layers": lambda: (gradients.resolve_layers, (models.build("lenet"), ["input", "conv1"]),
                                               {}),
    "aslib.store.zoo.entry": lambda: (zoo.entry, ("lenet_fashion_mnist",), {}),
    "aslib.store.zoo.metadata": lambda: (zoo.metadata, ("lenet_fashion_mnist",), {}),
    "aslib.store.zoo.pretrained": lambda: (zoo.pretrained, ("lenet_fashion_mnist",), {"map_location": "cpu"}),
    "aslib.store.zoo.load_checkpoint": lambda: (zoo.load_checkpoint, (zoo.CHECKPOINT_DIR / "lenet_fashion_mnist.pt",), {}),
    "aslib.store.zoo.save_checkpoint": lambda: (zoo.save_checkpoint, (torch.nn.Linear(2, 2), {"arch": "x", "arch_kwargs": {}},
                                                                Path(tempfile.mkdtemp()) / "net.pt"), {}),
    "aslib.attacks.common.attack_seed": lambda: (attacks.attack_seed, (0, 2, 7.5), {}),
    "aslib.studies.sweeps.SweepSettings.__init__": lambda: (studies.SweepSettings, (), {"repeats": 2, "classes": [1]}),
    "aslib.studies.sweeps.noise_sweep": lambda: (studies.noise_sweep, (*_image_problem()[:1], _image_problem()[1:],
                                                                       _image_problem()[1:]), {
        "xis": [1.0], "n_samples": 3, "methods": ["random"], "settings": studies.SweepSettings(repeats=1)}),
    "aslib.studies.sweeps.sample_sweep": lambda: (studies.sample_sweep, (*_image_problem()[:1], _image_problem()[1:],
                                                                         _image_problem()[1:]), {
        "ns": [2, 3], "xi": 1.0, "methods": ["random"], "settings": studies.SweepSettings(repeats=1)}),
    "aslib.studies.sweeps.transfer_matrix": lambda: (studies.transfer_matrix, (
        {"a": _image_problem()[0]}, _image_problem()[1:], _image_problem()[1:]), {
        "xi": 1.0, "n_samples": 3, "method": "random", "settings": studies.SweepSettings(repeats=1)}),
    "aslib.studies.attacks.craft_methods": lambda: (studies.craft_methods, (*_image_problem(), 1.0),
                                                    {"methods": ["random", "checkerboard"]}),
    "aslib.studies.attacks.linf_budgets": lambda: (studies.linf_budgets, ([4, 8.0], "cifar10"), {}),
    "aslib.studies.attacks.clipping_rows": lambda: (studies.clipping_rows, (
        _image_problem()[0], _image_problem()[1:], {"random": torch.full((3, 4, 4), 0.1)}),
        {"bounds": (torch.full((3, 1, 1), -1.0), torch.full((3, 1, 1), 1.0))}),
    "aslib.studies.attacks.eigen_directions": lambda: (studies.eigen_directions, (
        _image_problem()[0], subspace.ActiveSubspace().fit(torch.randn(9, 48)), _image_problem()[1:],
        torch.full((3, 4, 4), 0.1)), {"xi": 1.0, "top_k": 2, "n_random": 2}),
    "aslib.studies.attacks.as_start_study": lambda: (studies.as_start_study, (
        _image_problem()[0], [_image_problem()[1:]], [torch.full((3, 4, 4), 0.1)], _image_problem()[1:]),
        {"xi": 1.0, "rank": 2, "epochs": 1, "minibatch": 5}),
    "aslib.studies.attacks.vector_cosines": lambda: (studies.vector_cosines, ([torch.randn(3), torch.randn(3)],), {}),
    "aslib.studies.attacks.deepfool_paths": lambda: (studies.deepfool_paths, (_attack_problem()[0],
                                                                              _attack_problem()[1]), {"steps": 2}),
    "aslib.teach.plotting.asnet.hermite_curves": lambda: (plotting.hermite_curves, (torch.linspace(-2, 2, 5),
                                                                               torch.randn(5, 3)), {}),
    "aslib.teach.plotting.asnet.active_variable_histograms": lambda: (plotting.active_variable_histograms,
                                                                (torch.randn(20, 3), [0, 2]), {"bins": 5}),
    "aslib.teach.plotting.asnet.rank_degree_curves": lambda: (plotting.rank_degree_curves, (
        [{"rank": 2, "degree": 1, "accuracy": 0.5, "r2_test": 0.3},
         {"rank": 4, "degree": 1, "accuracy": 0.6, "r2_test": 0.4}],),
        {"original_accuracy": 0.8, "layer": "conv1"}),
    "aslib.teach.plotting.asnet.finetune_curves": lambda: (plotting.finetune_curves, (
        {"conv1": [{"test_accuracy": 0.5, "nonzero_params": 900}, {"test_accuracy": 0.6, "nonzero_params": 400}]},),
        {"original_accuracy": 0.8, "original_params": 1000, "kd_epochs": 1}),
    "aslib.teach.plotting.asnet.tradeoff_curve": lambda: (plotting.tradeoff_curve, (
        [{"nonzero_params_x": 2.0, "accuracy": 0.7, "scale": 1.0}],), {"original_accuracy": 0.8, "layer": "conv1"}),
    "aslib.teach.plotting.asnet.frontier_curves": lambda: (plotting.frontier_curves, (
        [{"family": "a", "nonzero_params_x": 2.0, "sparse_macs_x": 1.5, "drop": 0.01, "drop_low": 0.0,
          "drop_high": 0.02}],), {"paper": (23.98, 7.3)}),
    "aslib.teach.plotting.asnet.projection_curves": lambda: (plotting.projection_curves, (
        [{"directions": "none", "rank": 16, "accuracy": 0.8}, {"directions": "AS", "rank": 2, "accuracy": 0.7}],),
        {"layer": "conv1"}),
    "aslib.teach.plotting.asnet.softened_probabilities": lambda: (plotting.softened_probabilities, (
        torch.tensor([2.0, 0.5, -1.0]), [1, 4], ["a", "b", "c"]), {}),
    "aslib.teach.plotting.attacks.attack_ratio_grid": lambda: (plotting.attack_ratio_grid, ({"a": sweep_rows()},),
                                                         {"titles": {"a": "A"}, "floors": {"a": 0.1}}),
    "aslib.teach.plotting.attacks.attack_histories": lambda: (plotting.attack_histories, (
        {"a": {m: attacks.AttackResult(torch.zeros(3), history=[0.1, 0.2]) for m in ("as", "uap", "sgd_uap")}},),
        {"clean_error": {"a": 0.1}, "titles": {"a": "A"}, "xi": 1.0}),
    "aslib.teach.plotting.attacks.perturbation_grid": lambda: (plotting.perturbation_grid, (
        {"as": attacks.AttackResult(torch.randn(3, 4, 4))},), {"title": "t", "xi": 1.0}),
    "aslib.teach.plotting.attacks.attacked_images": lambda: (plotting.attacked_images, (
        *_image_problem(), {"none": torch.zeros(3, 4, 4)}), {"class_names": ["a", "b", "c"],
                                                             "to_display": lambda x: x.clamp(0, 1)}),
    "aslib.teach.plotting.attacks.sample_sweep_panels": lambda: (plotting.sample_sweep_panels, (
        tables.aggregate(sweep_rows(), by=("classes", "n_samples")),), {"floors": {"all": 0.1},
                                                                         "class_names": ["a", "b"]}),
    "aslib.teach.plotting.attacks.ratio_vs_fooling": lambda: (plotting.ratio_vs_fooling, ({"a": sweep_rows()},),
                                                        {"clean_error": 0.1}),
    "aslib.teach.plotting.attacks.eigen_direction_figure": lambda: (plotting.eigen_direction_figure, (_eigen_study(),), {}),
    "aslib.teach.plotting.attacks.search_figure": lambda: (plotting.search_figure, (
        [{"solver": "exact", "history": [0.1, 0.3], "best_iteration": 2, "train_attack_ratio": 0.3,
          "test_attack_ratio": 0.25}], torch.eye(1)), {"title": "t"}),
    "aslib.teach.plotting.attacks.deepfool_toy": lambda: (plotting.deepfool_toy, (
        torch.nn.Linear(2, 3), torch.zeros(2, 4, 2)), {"resolution": 10}),
    "aslib.studies.attack_tables.demo_rows": lambda: (studies.demo_rows, (
        _image_problem()[0], _image_problem()[1:], _image_problem()[1:],
        {"random": attacks.AttackResult(torch.full((3, 4, 4), 0.1))}), {"dataset": "toy"}),
    "aslib.studies.attack_tables.perturbation_size_rows": lambda: (studies.perturbation_size_rows, (
        {"random": attacks.AttackResult(torch.full((3, 4, 4), 0.1))}, _image_problem()[1]), {"dataset": "cifar10"}),
    "aslib.studies.attack_tables.sweep_table": lambda: (studies.sweep_table, (sweep_rows(),), {}),
    "aslib.studies.attack_tables.wall_time_rows": lambda: (studies.wall_time_rows, ({"k": sweep_rows()},),
                                                           {"titles": {"k": "Toy"}}),
    "aslib.studies.attack_tables.mean_test_ratios": lambda: (studies.mean_test_ratios, (sweep_rows(), 10.0), {}),
    "aslib.studies.attack_tables.largest_xi_rows": lambda: (studies.largest_xi_rows, (
        {"k": {"as": 0.7, "uap": 0.6, "random": 0.5}},), {"xi": 10.0}),
    "aslib.studies.attack_tables.transfer_table": lambda: (studies.transfer_table, (
        [{"source": "a", "target": "a", "test_attack_ratio": 0.2}], {"a": _image_problem()[0]},
        _image_problem()[1:]), {"xi": 1.0, "repeats": 1}),
    "aslib.studies.attack_tables.sample_sweep_table": lambda: (studies.sample_sweep_table, (sweep_rows(),), {}),
    "aslib.studies.attack_tables.linf_table": lambda: (studies.linf_table, (sweep_rows(), {5.0: 4.0, 10.0: 8.0}), {}),
    "aslib.studies.attack_tables.bound_rows": lambda: (studies.bound_rows, ({"s": sweep_rows()[:2]}, {"all": 0.3}),
                                                       {}),
    "aslib.studies.attack_tables.spectrum_rows": lambda: (studies.spectrum_rows, ({"toy": _fitted()},), {}),
    "aslib.studies.attack_tables.eigen_direction_rows": lambda: (studies.eigen_direction_rows, (_eigen_study(),), {}),
    "aslib.studies.attack_tables.shipped_table": lambda: (studies.shipped_table, (sweep_rows(),), {}),
    "aslib.studies.attack_tables.shipped_sweep_table": lambda: (studies.shipped_sweep_table, (sweep_rows(),),
                                                                {"against": ["uap", "random"]}),
    "aslib.studies.attack_tables.shipped_transfer_table": lambda: (studies.shipped_transfer_table, (
        [{"source": "a", "target": "b", "method": "as", "repeat": 0, "test_attack_ratio": 0.3}],), {}),
    "aslib.studies.attack_tables.gap_table": lambda: (studies.gap_table, (
        studies.paired_gaps(sweep_rows(), against=["uap"]),), {}),
    "aslib.studies.attack_tables.as_start_table": lambda: (studies.as_start_table, (
        [{"set": j, "n_samples": 5, "xi": 1.0, "rank": 2, "dim": 48, "as_test": 0.3 + 0.01 * j,
          "sgd_uap_test": 0.35, "sgd_uap_from_as_test": 0.36 + 0.02 * j, "as_share": 0.01, "sgd_uap_share": 0.2,
          "sgd_uap_from_as_share": 0.1} for j in range(3)],), {}),
    "aslib.studies.attack_tables.strongest_rival": lambda: (studies.strongest_rival, (sweep_rows(), 10.0, 30), {}),
    "aslib.studies.shipped.shipped_study": lambda: (studies.shipped_study, (
        _lenet_pair()[0], "lenet_fashion_mnist", _lenet_pair()[1]), {"xi": 10.0, "methods": ["random"]}),
    "aslib.studies.shipped.shipped_transfer": lambda: (studies.shipped_transfer, (
        {"a": _lenet_pair()[0]}, {"a": "lenet_fashion_mnist"}, _lenet_pair()[1]), {"xi": 10.0, "methods": ["random"]}),
    "aslib.studies.shipped.search_diagnostics": lambda: (studies.search_diagnostics, (
        torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 32 * 32, 10)), "vgg19_bn_w025_cifar10",
        _cifar_pair()), {"xi": 10.0}),
    "aslib.studies.shipped.search_summary": lambda: (studies.search_summary, (
        [{"solver": "exact", "test_attack_ratio": 0.3, "train_attack_ratio": 0.4, "iterations": 5,
          "stop": "patience"}],), {}),
    "aslib.studies.shipped.paired_gaps": lambda: (studies.paired_gaps, (sweep_rows(),), {"against": ["uap"]}),
    "aslib.store.reproduction.other_capability": lambda: (reproduction.other_capability, (), {}),
    "aslib.teach.resources.notebook_dir": lambda: (resources.notebook_dir, (), {}),
    "aslib.teach.resources.docs_dir": lambda: (resources.docs_dir, (), {}),
    "aslib.fitting.recipes.CompressionRecipe.__init__": lambda: (recipes.CompressionRecipe, (
        "vgg19_bn_w025_cifar10",), {"seed": 1, "validation": 500}),
    "aslib.fitting.recipes.ASNetRecipe.__init__": lambda: (recipes.ASNetRecipe, (
        "vgg19_bn_w025_cifar10", "conv6"), {"rank": 10, "ridges_per_sample": (0.0, 0.1), "build_batches": 2}),
    "aslib.fitting.recipes.PruningRecipe.__init__": lambda: (recipes.PruningRecipe, (
        "vgg19_bn_w025_cifar10", 16.0), {}),
    "aslib.fitting.recipes.ChannelPruningRecipe.__init__": lambda: (recipes.ChannelPruningRecipe, (
        "vgg19_bn_w025_cifar10", 11.0, "macs"), {}),
    "aslib.store.reproduction.platform_fingerprint": lambda: (reproduction.platform_fingerprint, ("cpu",), {}),
    "aslib.store.reproduction.same_platform": lambda: (reproduction.same_platform, ({"torch": "0"},), {"device": "cpu"}),
    "aslib.store.reproduction.data_identity": lambda: (reproduction.data_identity, (
        torch.zeros(2, 1, 3, 3, dtype=torch.uint8), torch.tensor([0, 1])), {}),
    "aslib.store.reproduction.require": lambda: (reproduction.require, ([reproduction.Check("q", 1.0, 1.0, 0.0, "exact")],),
                                           {}),
    "aslib.store.reproduction.prediction_tolerance": lambda: (reproduction.prediction_tolerance, ([0.1, 0.2, 0.4],),
                                                        {"level": 0.9}),
    "aslib.store.reproduction.flip_tolerance": lambda: (reproduction.flip_tolerance, (torch.randn(4, 3),),
                                                  {"relative": 1e-2}),
    "aslib.teach.resources.notebooks": lambda: (resources.notebooks, (), {"only": ["01"]}),
    "aslib.teach.resources.select": lambda: (resources.select, ([Path("01_a.ipynb"), Path("02_b.ipynb")],), {"only": ["2"]}),
    "aslib.tools.handouts.student_notebook": lambda: (handouts.student_notebook, (
        resources.notebooks(only=["01"])[0], Path(tempfile.mkdtemp()) / "01.ipynb"), {}),
    "aslib.tools.handouts.student_page": lambda: (handouts.student_page, (
        resources.docs_dir() / "quizzes.md", Path(tempfile.mkdtemp()) / "quizzes.md"), {}),
    "aslib.tools.handouts.nbgrader_notebook": lambda: (handouts.nbgrader_notebook, (
        resources.notebooks(only=["01"])[0], Path(tempfile.mkdtemp()) / "01.ipynb"), {"points": 2.0}),
    "aslib.teach.claims.headline": lambda: (claims.headline, ([],), {}),
    "aslib.teach.plotting.common.curves": lambda: (plotting.curves, ([{"x": 1, "y": 2.0, "g": "a"}], "x", "y", "g"), {}),
    "aslib.teach.plotting.common.image_grid": lambda: (plotting.image_grid, (torch.rand(2, 1, 4, 4), ["a", "b"]),
                                                 {"ncols": 2, "scale": 1.0}),
    "aslib.teach.plotting.common.perturbation_image": lambda: (plotting.perturbation_image, (torch.randn(3, 4, 4),), {}),
    "aslib.teach.plotting.subspace.eigenvalue_decay": lambda: (plotting.eigenvalue_decay, ({"a": _fitted()},), {"top": 3}),
    "aslib.teach.plotting.subspace.active_neurons": lambda: (plotting.active_neurons, (
        [{"layer": "fc1", "neurons": 8, "active@0.95": 2}],), {}),
    "aslib.teach.plotting.subspace.sufficient_summary": lambda: (plotting.sufficient_summary, (torch.randn(6),
                                                                                         torch.randn(6)), {}),
    "aslib.teach.plotting.subspace.sufficient_summary_2d": lambda: (plotting.sufficient_summary_2d, (
        torch.randn(6, 2), torch.randn(6)), {}),
    "aslib.teach.plotting.subspace.error_and_bound": lambda: (plotting.error_and_bound, (
        [{"r": 1, "e": 0.5, "b": 0.7}, {"r": 2, "e": 0.1, "b": 0.2}], "r", "e", "b"), {}),
    "aslib.teach.plotting.subspace.counts_vs_images": lambda: (plotting.counts_vs_images, (
        [{"images_m": 10, "exact": 3, "FD l=4": 2}, {"images_m": 20, "exact": 4, "FD l=4": 3}],), {}),
    "aslib.store.vectors.records": lambda: (vectors.records, ("lenet_fashion_mnist",), {"xi": 5.0, "norm": "l2"}),
    "aslib.store.vectors.shipped_vectors": lambda: (vectors.shipped_vectors, ("lenet_fashion_mnist", "as", 5.0), {}),
    "aslib.store.vectors.crafting_set": lambda: (vectors.crafting_set, (_record(), _archive_root()), {"device": "cpu"}),
    "aslib.store.vectors.recraft": lambda: (vectors.recraft, (_record(), "cpu", _archive_root()), {}),
    "aslib.store.vectors.reproduce": lambda: (vectors.reproduce, (_record(), aslib.data.tensors(
        "fashion_mnist", "test", n=20, root=_archive_root())), {"level": 0.9, "root": _archive_root()}),
    "aslib.studies.compression.complexity_rows": lambda: (studies.complexity_rows, (_tiny_asnet()[1],),
                                                          {"input_shape": (1, 8, 8), "name": "tiny"}),
    "aslib.studies.compression.dense_asnet": lambda: (studies.dense_asnet, (models.build("lenet"), "conv2"),
                                                      {"rank": 2, "degree": 1, "input_shape": (1, 28, 28)}),
    "aslib.studies.compression.full_width_sizes": lambda: (studies.full_width_sizes, (["conv2"],), {
        "arch": "vgg11_bn", "rank": 2, "degree": 1}),
    "aslib.studies.compression.width_rows": lambda: (studies.width_rows, ((0.125,),), {
        "layer": "conv2", "arch": "vgg11_bn", "rank": 2, "degree": 1, "ratios": (2.0, 1.5)}),
    "aslib.studies.compression.compression_rows": lambda: (studies.compression_rows, (
        _tiny_asnet()[0], {"conv1": _tiny_asnet()[1]}, {"conv1": _tiny_asnet()[1]},
        {"conv1": [{"test_accuracy": 0.3}, {"test_accuracy": 0.4}]}), {"input_shape": (1, 8, 8), "name": "tiny",
                                                                       "original_accuracy": 0.5}),
    "aslib.studies.compression.compression_path": lambda: (studies.compression_path, (
        [{"phase": "distill", "epoch": 1, "test_accuracy": 0.8, "nonzero_params": 100},
         {"phase": "sparse", "epoch": 1, "test_accuracy": 0.7, "nonzero_params": 40, "l1 scale": 1.0}],),
        {"original_params": 1000}),
    "aslib.studies.compression.steps_per_epoch": lambda: (studies.steps_per_epoch, (finetuning.FinetuneConfig(), 1000),
                                                          {}),
    "aslib.studies.compression.shrinkage_budget": lambda: (studies.shrinkage_budget, (
        finetuning.FinetuneConfig(sparse_epochs=2), 5), {}),
    "aslib.studies.compression.budget_rows": lambda: (studies.budget_rows, (
        {"a": (finetuning.FinetuneConfig(sparse_epochs=2), 5)},), {}),
    "aslib.studies.compression.l1_tradeoff": lambda: (studies.l1_tradeoff, (
        _tiny_asnet()[1], _tiny_asnet()[0], _tiny_asnet()[2], _tiny_asnet()[2].batch(torch.arange(10)),
        finetuning.FinetuneConfig(batch_size=10, augment=False)), {"scales": [0.0, 1.0], "original": counts.complexity(
            _tiny_asnet()[0], (1, 8, 8)), "max_batches": 1, "input_shape": (1, 8, 8)}),
    "aslib.studies.layers.stability_table": lambda: (studies.stability_table, ({"loss": _fitted()},),
                                                     {"ranks": (1,), "n_boot": 2}),
    "aslib.studies.layers.compare_estimators": lambda: (studies.compare_estimators, (
        {"exact": _fitted()}, _fitted(), torch.linalg.qr(torch.randn(6, 2))[0]), {"rank": 2}),
    "aslib.studies.layers.fd_bound_table": lambda: (studies.fd_bound_table, (
        torch.randn(12, 6, generator=torch.Generator().manual_seed(0)), [_fitted("frequent_directions")]), {}),
    "aslib.studies.layers.count_conventions": lambda: (studies.count_conventions, (
        torch.tensor([3.0, 2.0, 1.0, 0.5, 0.2, 0.1]), {"exact": _fitted()}), {"deltas": (0.9,)}),
    "aslib.studies.layers.cut_neurons": lambda: (studies.cut_neurons, (models.build("lenet"), (1, 28, 28)), {}),
    "aslib.studies.layers.layer_table": lambda: (studies.layer_table, ({"fc1": _fitted()},), {"deltas": (0.9,)}),
    "aslib.studies.layers.count_reliability": lambda: (studies.count_reliability, (torch.randn(12, 6),),
                                                       {"sizes": [6, 12], "sketch_sizes": [4]}),
    "aslib.studies.layers.count_by_images": lambda: (studies.count_by_images, (torch.randn(12, 6),),
                                                     {"sizes": [6, 12], "draws": 3}),
    "aslib.studies.layers.captured_energy": lambda: (studies.captured_energy, (torch.randn(12, 6), _fitted(), 2), {}),
    "aslib.studies.layers.compare_subspaces": lambda: (studies.compare_subspaces, (
        {"other": _fitted()}, _fitted(), torch.randn(12, 6)), {"ranks": [1, 2], "rank": 2}),
    "aslib.studies.layers.authors_counts": lambda: (studies.authors_counts, ({"fc1": _fitted()},), {"delta": 0.9}),
    "aslib.studies.asnet.agreement": lambda: (studies.agreement, (torch.randn(4, 3), torch.randn(4, 3)), {}),
    "aslib.studies.asnet.fit_quality": lambda: (studies.fit_quality, (_tiny_asnet()[1], _tiny_pair()), {
        "teacher_logits": inference.predict_logits(_tiny_asnet()[0], _tiny_pair()[0])}),
    "aslib.studies.asnet.build_asnets": lambda: (studies.build_asnets, (_tiny_asnet()[0], ["conv1"], _tiny_pair(20),
                                                                        _tiny_pair(10, 20)),
                                                 {"rank": 2, "degree": 1, "method": "exact"}),
    "aslib.studies.asnet.rank_degree_sweep": lambda: (studies.rank_degree_sweep, (
        _tiny_asnet()[0], "conv1", _tiny_pair(20), _tiny_pair(10, 20)), {"ranks": [1, 2], "degrees": [1], "subspace":
        layer_analysis.layer_subspaces(_tiny_asnet()[0], ["conv1"], _tiny_pair(20), method="exact")["conv1"]}),
    "aslib.studies.asnet.asnet_active_variables": lambda: (studies.asnet_active_variables, (_tiny_asnet()[1], _tiny_pair()[0]),
                                                     {"batch_size": 4}),
    "aslib.studies.asnet.linear_reproduction": lambda: (studies.linear_reproduction, (
        _tiny_asnet()[0], "conv1", _tiny_pair(20), _tiny_pair(10, 20)), {"rank": 2}),
    "aslib.studies.asnet.build_study": lambda: (studies.build_study, (_tiny_asnet()[0], "conv1", _tiny_asnet()[2],
                                                                      _tiny_pair(10, 20)),
                                                {"settings": [(10, 1, False)], "rank": 2, "degree": 1,
                                                 "batch_size": 10}),
    "aslib.studies.asnet.projection_accuracy": lambda: (studies.projection_accuracy, (
        _tiny_asnet()[0], "conv1", _tiny_pair(20), _tiny_pair(10, 20)), {"ranks": [1, 2]}),
    "aslib.linalg.stats.incomplete_beta": lambda: (stats.incomplete_beta, (2.0, 3.0, 0.4), {}),
    "aslib.linalg.stats.t_cdf": lambda: (stats.t_cdf, (1.5, 4), {}),
    "aslib.attacks.evaluation.valid_bounds": lambda: (attacks.valid_bounds, ("cifar10",), {"device": "cpu"}),
    "aslib.fitting.training.quick_fit": lambda: (training.quick_fit, (models.build("lenet"),), {
        "n_images": 20, "root": _archive_root()}),
    "aslib.fitting.training.quick_lenet": lambda: (training.quick_lenet, (), {"n_images": 20, "root": _archive_root()}),
    "aslib.studies.records.recorded_accuracy": lambda: (studies.recorded_accuracy, (
        models.build("lenet").eval(), aslib.data.load("fashion_mnist", "test", _archive_root()),
        zoo.entry("lenet_fashion_mnist")), {}),
    "aslib.attacks.uap.uap": lambda: (attacks.uap, (*_attack_problem(), 1.0), {"max_passes": 1,
                                                                                       "df_max_iter": 3}),
    "aslib.attacks.sgd_uap.sgd_uap": lambda: (attacks.sgd_uap, (*_attack_problem(), 1.0), {"epochs": 1,
                                                                                           "init": torch.zeros(4)}),
    "aslib.attacks.deepfool_batched.deepfool": lambda: (attacks.deepfool, _attack_problem()[:2], {"max_iter": 3}),
    "aslib.attacks.random_direction.random_attack": lambda: (attacks.random_attack, (*_attack_problem(), 1.0), {}),
    "aslib.attacks.checkerboard.checkerboard_attack": lambda: (attacks.checkerboard_attack,
                                                               (*_image_problem(), 1.0), {"cell": 2}),
    "aslib.attacks.as_attack.dominant_direction": lambda: (attacks.dominant_direction, (
        torch.randn(5, 4, generator=torch.Generator().manual_seed(0)),), {"solver": "randomized"}),
    "aslib.attacks.evaluation.attack_ratio": lambda: (attacks.attack_ratio, (*_attack_problem(), torch.zeros(4)),
                                                      {"batch_size": 2}),
    "aslib.attacks.evaluation.fooling_rate": lambda: (attacks.fooling_rate, (_attack_problem()[0], _attack_problem()[1],
                                                                             torch.zeros(4)), {}),
    "aslib.attacks.evaluation.clean_predictions": lambda: (attacks.evaluation.clean_predictions,
                                                           _attack_problem()[:2], {}),
    "aslib.attacks.evaluation.perturbation_norms": lambda: (attacks.perturbation_norms, (torch.ones(1, 4, 4), "mnist"),
                                                            {}),
    "aslib.attacks.random_direction.random_perturbation": lambda: (attacks.random_perturbation, ((3, 4, 4), 1.0),
                                                                   {"norm": "linf"}),
    "aslib.attacks.checkerboard.checkerboard_perturbation": lambda: (attacks.checkerboard_perturbation,
                                                                     ((3, 8, 8), 2.0), {"cell": 2}),
    "aslib.fitting.finetuning.distillation_loss": lambda: (finetuning.distillation_loss, (
        torch.randn(4, 3), torch.randn(4, 3), torch.tensor([0, 1, 2, 0])), {"alpha": 0.5, "temperature": 2.0}),
    "aslib.fitting.finetuning.soft_threshold_": lambda: (finetuning.soft_threshold_, (torch.randn(3, 3), 0.1), {}),
    "aslib.fitting.finetuning.accuracy_key": lambda: (finetuning.accuracy_key, ([{"test_accuracy": 0.5}],), {}),
    "aslib.fitting.finetuning.phase_checkpoint": lambda: (finetuning.phase_checkpoint, ("run/finetune.pt", "distill"), {}),
    "aslib.fitting.finetuning.finetune": lambda: (finetuning.finetune, (
        torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 10)), torch.nn.Sequential(
            torch.nn.Flatten(), torch.nn.Linear(784, 10)), random_images(20), random_images(10, split="test"),
        finetuning.FinetuneConfig(kd_epochs=0, sparse_epochs=0, batch_size=10)),
        {"input_shape": (1, 28, 28), "progress": False}),
    "aslib.studies.baselines.shipped_rows": lambda: (studies.shipped_rows, (
        recipes.SHIPPED_ASNETS[1:], _cifar_pair()), {"input_shape": (3, 32, 32)}),
    "aslib.studies.baselines.selection_rows": lambda: (studies.selection_rows, (recipes.BASELINES[0],), {}),
    "aslib.studies.baselines.accuracy_difference": lambda: (studies.accuracy_difference, (
        _attack_problem()[0], torch.nn.Linear(4, 3), _attack_problem()[1:]), {}),
    "aslib.studies.baselines.baseline_comparison": lambda: (studies.baseline_comparison, (
        recipes.BASELINES[:2], _cifar_pair()), {"input_shape": (3, 32, 32)}),
    "aslib.studies.baselines.frontier_rows": lambda: (studies.frontier_rows, (
        {"ASNet": recipes.SHIPPED_ASNETS[1:]}, _shipped(zoo.entry(recipes.SHIPPED_ASNETS[1])["base_model"]),
        _cifar_pair()), {"input_shape": (3, 32, 32)}),
    "aslib.nets.counts.nonzero_weights": lambda: (counts.nonzero_weights, (torch.nn.Linear(3, 2),), {}),
    "aslib.nets.counts.complexity": lambda: (counts.complexity, (torch.nn.Linear(3, 2), (3,)), {"sparse": True}),
    "aslib.nets.counts.sparse_macs_counter": lambda: (counts.sparse_macs_counter, (torch.nn.Linear(3, 2), (3,)), {}),
    "aslib.nets.counts.complexity_table": lambda: (counts.complexity_table, ({"a": torch.nn.Linear(3, 2)}, {"a": (3,)}),
                                               {"total": False}),
    "aslib.nets.counts.reduction": lambda: (counts.reduction, ({"params": 4, "macs": 4, "nonzero_params": 4,
                                                             "sparse_macs": 4},) * 2, {}),
    "aslib.studies.tables.format_table": lambda: (tables.format_table, ([{"a": 1.5}], ["a"]), {"digits": 1}),
    "aslib.studies.tables.aggregate": lambda: (tables.aggregate, ([{"m": "x", "v": 1.0}, {"m": "x", "v": 2.0}], ["m"]), {}),
    "aslib.studies.tables.pivot": lambda: (tables.pivot, ([{"t": "a", "s": "b", "v": 1.0}], "t", "s", "v"), {}),
    "aslib.studies.tables.mean_std": lambda: (tables.mean_std, ({"v_mean": 1.0, "v_std": 0.5, "count": 2}, "v"), {"digits": 1}),
    "aslib.nets.pruning.magnitude_prune_": lambda: (pruning.magnitude_prune_, (torch.nn.Linear(3, 2), 3), {}),
    "aslib.nets.pruning.channel_pruned": lambda: (pruning.channel_pruned, (_vgg(), 40_000, "params", (3, 32, 32)), {}),
    "aslib.nets.inference.predict_logits": lambda: (inference.predict_logits, (torch.nn.Linear(4, 3), torch.randn(5, 4)),
                                               {"batch_size": 2}),
    "aslib.data.pixels.to_pixels": lambda: (aslib.data.to_pixels, (torch.zeros(2, 1, 3, 3), "mnist"), {}),
    "aslib.data.pixels.from_pixels": lambda: (aslib.data.from_pixels, (torch.zeros(3, 4, 4), "cifar10"), {}),
    "aslib.data.pixels.denormalize": lambda: (aslib.data.denormalize, (torch.zeros(1, 3, 4, 4),), {}),
    "aslib.data.pixels.pixel_scale": lambda: (aslib.data.pixel_scale, ("fashion_mnist",), {}),
    "aslib.nets.gradients.layer_gradients": lambda: (gradients.layer_gradients, (*_attack_problem()[:1], ["input"],
                                                                            _attack_problem()[1:]), {"batch_size": 2}),
    "aslib.nets.gradients.input_gradients": lambda: (gradients.input_gradients, _attack_problem(), {"function": "logit"}),
    "aslib.data.images.load": lambda: (aslib.data.load, ("fashion_mnist", "test", _archive_root()), {}),
    "aslib.data.images.tensors": lambda: (aslib.data.tensors, ("fashion_mnist", "test", 4),
                                          {"classes": [1, 2], "root": _archive_root()}),
    "aslib.data.images.subset_indices": lambda: (aslib.data.subset_indices, (torch.tensor([0, 1, 1, 2]), 2), {}),
    "aslib.data.images.validation_split": lambda: (aslib.data.validation_split, (random_images(200),), {"images": 20}),
    "aslib.linalg.stats.t_quantile": lambda: (stats.t_quantile, (0.9, 3), {}),
    "aslib.linalg.stats.beta_quantile": lambda: (stats.beta_quantile, (0.5, 1.0, 2.0), {}),
    "aslib.linalg.stats.estimate": lambda: (stats.estimate, ([0.1, 0.2, 0.4],), {"level": 0.9}),
    "aslib.linalg.stats.paired_difference": lambda: (stats.paired_difference, ([0.1, 0.2], [0.0, 0.3]), {}),
    "aslib.linalg.stats.random_share_p_value": lambda: (stats.random_share_p_value, ([0.01, 0.02], 4, 100), {"draws": 100}),
    "aslib.linalg.stats.normal_quantile": lambda: (stats.normal_quantile, (0.9,), {}),
    "aslib.linalg.stats.proportion_interval": lambda: (stats.proportion_interval, (3, 10), {}),
    "aslib.linalg.stats.difference_of_proportions": lambda: (stats.difference_of_proportions, (0.5, 0.4, 10, 12), {}),
    "aslib.fitting.finetuning.FinetuneConfig.__init__": lambda: (finetuning.FinetuneConfig, (), {"kd_epochs": 1}),
    "aslib.fitting.recipes.TrainingRecipe.__init__": lambda: (recipes.TrainingRecipe, ("lenet", "fashion_mnist"), {"epochs": 2}),
    "aslib.fitting.training.train": lambda: (training.train, (recipes.TrainingRecipe("lenet", "fashion_mnist", batch_size=8),
                                                      Path(tempfile.mkdtemp()) / "lenet.pt"),
                                     {"root": _archive_root(), "max_batches": 1, "progress": False}),
    "aslib.fitting.epoch_loop.EpochLoop.__init__": lambda: (epoch_loop.EpochLoop, _epoch_loop_args(), {
        "state_path": None, "shuffle_epoch": lambda index, epoch: epoch, "batches_per_epoch": 2}),
    "aslib.fitting.epoch_loop.EpochLoop.run": lambda: (epoch_loop.EpochLoop(*_epoch_loop_args(), state_path=None,
                                                                    shuffle_epoch=lambda i, e: e).run, (), {
        "max_steps": 1}),
    "aslib.fitting.runs.run": lambda: (runs.run, ("vgg19_bn_w025_cifar10_asnet_conv6",
                                                                Path(tempfile.mkdtemp())), {"progress": False}),
    "aslib.fitting.runs.select": lambda: (runs.select, (["vgg19_bn_w025_cifar10_asnet_conv6_val14",
                                                                        "vgg19_bn_w025_cifar10_asnet_conv5_val14"],
                                                                       Path(tempfile.mkdtemp())), {}),
    "aslib.tools.book.build": lambda: (aslib.tools.book.build, (Path(tempfile.mkdtemp()), Path(tempfile.mkdtemp())), {}),
    "aslib.cli.main": lambda: (aslib.cli.main, (["zoo"],), {}),
    "aslib.cli.parser.build_parser": lambda: (aslib.cli.parser.build_parser, ("usage",), {}),
    **contract_examples_a.EXAMPLES,
    **contract_examples_b.EXAMPLES,
}
"""A valid call of every contracted function: ``name -> () -> (callable, args, kwargs)``."""

NAMED = {ClassIndices: st.one_of(st.just([]), st.just("1"), st.just([-1]), st.just([1.5]), st.just([True]),
                                st.integers()),
         Count: st.one_of(st.integers(max_value=0), st.floats(), st.booleans(), st.text(max_size=3)),
         CountOrZero: st.one_of(st.integers(max_value=-1), st.floats(), st.booleans()),
         Fraction: st.one_of(st.floats(max_value=0.0), st.floats(min_value=1.0), st.booleans(), st.text(max_size=3)),
         PositiveReal: st.one_of(st.floats(max_value=0.0), st.just(math.nan), st.just(math.inf), st.booleans()),
         Proportion: st.one_of(st.floats(max_value=-1e-300), st.floats(min_value=1.0000001), st.just(math.nan),
                               st.booleans(), st.text(max_size=3)),
         PositiveReals: st.one_of(st.just([]), st.just([1.0, 0.0]), st.just([math.nan]), st.just([True]),
                                  st.just("5"), st.floats()),
         Counts: st.one_of(st.just([]), st.just([10, 0]), st.just([2.5]), st.just([True]), st.integers()),
         Shape: st.one_of(st.integers(), st.sampled_from([(), (3, 0), (2.5,), "ab", (True,)])),
         FiniteReal: st.one_of(st.just(math.nan), st.just(math.inf), st.just(-math.inf), st.booleans(),
                               st.text(max_size=3)),
         NonNegativeReal: st.one_of(st.floats(max_value=-1e-300), st.just(math.nan), st.just(-math.inf),
                                    st.booleans())}


def _runtime_class(annotation):
    """The class an isinstance check of ``annotation`` uses: a named type's base, a generic's origin, or itself."""
    if typing.get_origin(annotation) is typing.Annotated:
        return typing.get_args(annotation)[0]
    return typing.get_origin(annotation) or annotation


def bad_values(annotation, good):
    """A strategy of values that break ``annotation`` (``good`` meets it): out-of-range or mistyped numbers for a
    named type, a near miss for a choice, a scalar, an extra axis or the wrong dtype for a tensor, an object of
    another type for a plain class (a union: of none of its classes); None when nothing can break it."""
    if annotation is Any:
        return None
    if annotation in NAMED:
        return NAMED[annotation]
    if typing.get_origin(annotation) is Literal:
        choices = typing.get_args(annotation)
        return st.text(max_size=12).filter(lambda s: s not in choices)
    if isinstance(annotation, type) and issubclass(annotation, AbstractArray):
        if not isinstance(good, torch.Tensor):
            return None
        variants = [good.new_zeros(())]  # a scalar: every declared shape here has at least one axis
        if "..." not in annotation.dim_str and "*" not in annotation.dim_str:  # a variadic axis takes any number
            variants.append(good[None])  # one axis too many
        kind = annotation.dtype.__name__
        if kind in ("Float", "Inexact"):
            variants.append(good.long())
        elif kind in ("Int", "Integer"):
            variants.append(good.float())
        elif kind == "Real":
            variants.append(good.bool())
        return st.sampled_from(variants)
    items = typing.get_args(annotation)
    sequence = typing.get_origin(annotation) in (collections.abc.Sequence, list) and len(items) == 1 or \
        typing.get_origin(annotation) is tuple and len(items) == 2 and items[1] is Ellipsis
    if sequence and items[0] in NAMED:
        prefix = list(good)[:1] if isinstance(good, (list, tuple)) else []  # a good first item: every item is checked
        return NAMED[items[0]].map(lambda v: prefix + [v])
    union = typing.get_origin(annotation) in (typing.Union, types.UnionType)
    options = [a for a in typing.get_args(annotation) if a is not type(None)] if union else [annotation]
    if len(options) == 1 and union:  # X | None: what breaks X, None excepted
        inner = bad_values(options[0], good)
        return None if inner is None else inner.filter(lambda v: v is not None)
    classes = tuple(_runtime_class(o) for o in typing.get_args(annotation)) if union else \
        (_runtime_class(annotation),)
    if not all(isinstance(c, type) for c in classes):
        return None
    return st.sampled_from([object(), 1.5, "x", None, [1]]).filter(lambda v: not isinstance(v, classes))


def cases() -> list[tuple[str, str]]:
    out = []
    for name, function in sorted(contracted().items()):
        hints = typing.get_type_hints(function.__aslib_contract__, include_extras=True)
        for parameter, declared in inspect.signature(function.__aslib_contract__).parameters.items():
            variadic = declared.kind in (declared.VAR_POSITIONAL, declared.VAR_KEYWORD)  # e.g. **kwargs: Any
            if parameter not in ("self", "cls") and parameter in hints and not variadic:
                out.append((name, parameter))
    return out


LONG = {"aslib.fitting.runs.run", "aslib.fitting.runs.select", "aslib.tools.book.build"}
"""Contracted functions whose every valid call is long (a fine-tuning run, a Sphinx build): their example is bound
to the signature here, not run; the generated tests still call them with a broken argument, which the contract
answers before any work starts."""


def test_every_contracted_function_has_an_example():
    names = contracted()
    assert len(names) >= 15, f"the walk found only {sorted(names)}"
    assert sorted(set(names) - set(EXAMPLES)) == [], "add a valid example call for each contracted function"
    for name, example in EXAMPLES.items():
        function, args, kwargs = example()
        if name in LONG:
            inspect.signature(names[name].__aslib_contract__).bind(*args, **kwargs)
            continue
        function(*args, **kwargs)  # the example itself meets the contract
        plt.close("all")


@pytest.mark.parametrize("name, parameter", cases(), ids=[f"{n.removeprefix('aslib.')}:{p}" for n, p in cases()])
@settings(max_examples=15, deadline=None)
@given(data=st.data())
def test_a_value_that_breaks_the_declared_contract_is_answered_in_words(name, parameter, data):
    function, args, kwargs = EXAMPLES[name]()
    original = contracted()[name].__aslib_contract__
    signature = inspect.signature(original)
    bound_to = [p for p in signature.parameters if p in ("self", "cls")]  # the instance or class: already bound
    bound = signature.bind_partial(*((None,) if bound_to else ()), *args, **kwargs)
    bound.apply_defaults()
    for key, value in list(bound.arguments.items()):
        if value is getattr(dataclasses, "_HAS_DEFAULT_FACTORY"):  # a dataclass field with a default_factory
            del bound.arguments[key]
    hints = typing.get_type_hints(original, include_extras=True)
    strategy = bad_values(hints[parameter], bound.arguments.get(parameter))
    if strategy is None:
        return  # nothing declared that a value could break
    bound.arguments[parameter] = data.draw(strategy, label=parameter)
    call_args = list(bound.args[1:] if bound_to else bound.args)
    with pytest.raises(ContractError, match=rf"\b{parameter} must be .*, got .*; ") as info:
        function(*call_args, **bound.kwargs)
    frames = traceback.extract_tb(info.value.__traceback__)
    assert ASLIB_DIR in Path(frames[-1].filename).resolve().parents


def test_messages_name_the_argument_what_was_expected_what_came_and_the_fix():
    @contract
    def f(rows: Float[torch.Tensor, "m n"], labels: Int[torch.Tensor, " m"], k: Count = 1,
          convention: Literal["code", "paper"] = "code") -> int:
        return k

    x, y = torch.randn(3, 4), torch.zeros(3, dtype=torch.long)
    assert f(x, y) == 1
    wrong = [((torch.randn(3), y), "rows must be a floating-point tensor of shape (m, n), got a float32 tensor of "
                                   "shape (3,); it has 1 axis, (m, n) has 2: reshape it (e.g. y[:, None]"),
             ((x.long(), y), "rows must be a floating-point tensor of shape (m, n), got an int64 tensor of shape "
                             "(3, 4); convert with x.float()"),
             ((x, y[:2]), "labels must be an integer tensor of shape (m,), got an int64 tensor of shape (2,); its "
                          "axes (m,) must agree with the other arguments (m=3, n=4 from the arguments before it)"),
             ((x, y.float()), "convert class indices with y.long()"),
             ((x, y, 2.5), "k must be a whole number >= 1, got float 2.5; pass an int such as 1, 2, 3"),
             ((x, y, True), "k must be a whole number >= 1, got bool True"),
             ((x, y, 1, "papr"), "convention must be one of 'code', 'paper', got str 'papr'; did you mean 'paper'?")]
    for args, message in wrong:
        with pytest.raises(ContractError) as info:
            f(*args)
        assert str(info.value).startswith("test_messages_name") and message in str(info.value), str(info.value)
        assert isinstance(info.value, ValueError) and isinstance(info.value, TypeError)


def test_named_types_accept_what_they_name():
    @contract
    def g(n: Count, m: CountOrZero, p: Fraction, s: PositiveReal, t: NonNegativeReal) -> float:
        return n + m + p + s + t

    import numpy as np

    assert g(np.int64(2), 0, 0.5, 3, 0.0) == pytest.approx(5.5)  # numpy integers, ints for reals
    for bad in ((0, 0, 0.5, 1, 0), (1, -1, 0.5, 1, 0), (1, 0, 1.0, 1, 0), (1, 0, 0.5, math.inf, 0),
                (1, 0, 0.5, 1, math.nan)):
        with pytest.raises(ContractError):
            g(*bad)
