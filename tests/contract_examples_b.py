"""Valid example calls of contracted functions (part b), merged into ``test_contracts.EXAMPLES``:
``name -> () -> (callable, args, kwargs)``."""
from __future__ import annotations

import functools
import json
import tempfile
from pathlib import Path
from types import SimpleNamespace

import torch
from conftest import random_images
from matplotlib.figure import Figure

import aslib
from aslib import studies
from aslib.fitting import recipes, runs
from aslib.linalg import pce, subspace
from aslib.nets import asnet, models
from aslib.store import reproduction, vectors
from aslib.teach import exercises, nb, presets, recording, resources, widgets
from aslib.teach.exercises import grading
from aslib.tools import book, report


def _tmp() -> Path:
    return Path(tempfile.mkdtemp())


def _not_implemented(*args, **kwargs):
    """A learner's stub (the student notebooks' ``raise NotImplementedError``): a check answers "not implemented
    yet" without grading anything."""
    raise NotImplementedError


def _notebook() -> nb.Notebook:
    return nb.Notebook("01_x", SimpleNamespace(n=1), torch.device("cpu"), "smoke")


def _table_page() -> Path:
    page = _tmp() / "README.md"
    page.write_text(f"intro\n{report.TABLE_MARKERS[0]}\nold\n{report.TABLE_MARKERS[1]}\nrest\n")
    return page


@functools.lru_cache(maxsize=1)
def _executed_report() -> tuple[Path, Path]:
    """A report folder in which a one-cell notebook is already executed with the current stamp (preset smoke), and
    that notebook: :func:`aslib.tools.report.run_report` skips it, so the call executes nothing."""
    folder = _tmp()
    notebook = folder / "01_toy.ipynb"
    notebook.write_text(json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    out = folder / "report"
    out.mkdir()
    (out / notebook.name).write_text(notebook.read_text())
    (out / f"{notebook.stem}.stamp.json").write_text(json.dumps({
        "notebook": notebook.name, "preset": "smoke", "seconds": 1.0, "stamp": report._stamp(notebook, "smoke")}))
    return out, notebook


def _html_page() -> Path:
    page = _tmp() / "index.html"
    page.write_text('<a href="docs/a.html#top">a</a><img src="b.png"><a href="https://example.org">x</a>')
    return page


@functools.lru_cache(maxsize=1)
def _crafting_root() -> Path:
    """A data root holding a random Fashion-MNIST-shaped archive with 200 training images (the all-class crafting
    set's size): no data needed."""
    root = _tmp()
    aslib.data.write_archive(root / "fashion_mnist.npz", {"train": random_images(200, (1, 28, 28)),
                                                          "test": random_images(20, (1, 28, 28), split="test")})
    return root


def _shipped_random_record() -> dict:
    return vectors.records("lenet_fashion_mnist", method="random", experiment="allclass", xi=10.0)[0]


def _craft_shipped() -> tuple:
    """A call of :func:`aslib.store.vectors.craft_vectors` whose one vector is shipped already: it crafts nothing and
    writes nothing (the crafting set is drawn from a random archive)."""
    record = _shipped_random_record()
    return (vectors.craft_vectors, (record["model"],), {
        "xis": [record["xi"]], "repeats": 1, "experiment": record["experiment"], "methods": [record["method"]],
        "norm": record["norm"], "device": "cpu", "progress": False, "root": _crafting_root()})


def _fitted() -> subspace.ActiveSubspace:
    return subspace.ActiveSubspace("exact").fit(torch.randn(12, 6, generator=torch.Generator().manual_seed(0)))


def _slider_problem() -> tuple:
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 3)).eval()
    return model, torch.randn(3, 2, 2), torch.randn(3, 2, 2), ["a", "b", "c"]


def _empty_asnet() -> asnet.ASNet:
    return asnet.ASNet.empty(torch.nn.Flatten(), 4, 2, 1, 3)


def _check(name: str):
    return lambda: (getattr(exercises, name), (_not_implemented,), {})


_CHECKS = {"asnet": ["check_hermite", "check_soft_threshold", "check_distillation_loss", "check_asnet_head"],
           "attacks": ["check_deepfool_step", "check_fooling_rate", "check_as_attack"],
           "networks": ["check_vgg_parameter_count", "check_vgg_macs"],
           "subspaces": ["check_active_subspace", "check_randomized_subspace", "check_count_active",
                         "check_frequent_directions", "check_energy_share"]}


EXAMPLES: dict = {
    # aslib.tools.report
    "aslib.teach.recording.record_table": lambda: (recording.record_table, ("01_x", "t", "| a |\n|---|\n| 1 |"), {}),
    "aslib.teach.recording.record_value": lambda: (recording.record_value, ("01_x", "v", 0.5), {}),
    "aslib.teach.recording.record_claim": lambda: (recording.record_claim, ("01_x", "asnet_accuracy_drop"), {
        "measured": 0.01, "preset": "smoke", "n": 10, "ci95": (0.0, 0.02), "source": "live", "note": "toy"}),
    "aslib.teach.recording.record_figure": lambda: (recording.record_figure, ("01_x", "f", Figure()), {}),
    "aslib.tools.report.execute": lambda: (report.execute, ([], _tmp()), {"preset": "smoke", "force": False,
                                                                    "parameters": {"n": 1}}),
    "aslib.tools.report.collect_claims": lambda: (report.collect_claims, (_tmp(),), {}),
    "aslib.tools.report.write_report": lambda: (report.write_report, (_tmp(), [{"notebook": "01_x.ipynb", "preset": "smoke",
                                                                          "seconds": 1.0, "skipped": True}]), {}),
    "aslib.tools.report.notebook_subject": lambda: (report.notebook_subject, (resources.notebooks(only=["01"])[0],), {}),
    "aslib.tools.report.notebook_table": lambda: (report.notebook_table, ({"smoke": _tmp()},),
                                            {"notebooks": resources.notebooks(only=["01"])}),
    "aslib.tools.report.write_notebook_table": lambda: (report.write_notebook_table, (_table_page(), {"smoke": _tmp()}), {}),
    "aslib.tools.report.run_report": lambda: (report.run_report, (_executed_report()[0], "smoke"), {
        "force": False, "notebooks": [_executed_report()[1]], "only": ["01"]}),
    # aslib.teach.nb, aslib.teach.presets
    "aslib.teach.nb.Notebook.__init__": lambda: (nb.Notebook, ("01_x", SimpleNamespace(n=1), torch.device("cpu")),
                                           {"preset": "smoke"}),
    "aslib.teach.nb.Notebook.table": lambda: (_notebook().table, ([{"a": 1.5, "b": "x"}],), {
        "columns": ["a"], "digits": 1, "key": None, "caption": "c"}),
    "aslib.teach.nb.Notebook.figure": lambda: (_notebook().figure, (Figure(),), {"key": None}),
    "aslib.teach.nb.Notebook.claim": lambda: (_notebook().claim, ("asnet_accuracy_drop", 0.01), {
        "n": 10, "ci95": (0.0, 0.02), "source": "live", "note": "toy"}),
    "aslib.teach.nb.Notebook.value": lambda: (_notebook().value, ("k", 1), {}),
    "aslib.teach.nb.start": lambda: (nb.start, ("01_x", "smoke", {"n": 2}), {"seed": 0, "smoke": {"n": 1},
                                                                        "default": {"n": 3}}),
    "aslib.teach.presets.choose": lambda: (presets.choose, ("smoke", {"n": 2}), {"smoke": {"n": 1}, "default": {"n": 3}}),
    # aslib.teach.widgets, aslib.tools.book
    "aslib.teach.widgets.spectrum_browser": lambda: (widgets.spectrum_browser, ({"a": _fitted()},),
                                               {"interactive": False, "top": 5}),
    "aslib.teach.widgets.noise_slider": lambda: (widgets.noise_slider, _slider_problem(), {
        "to_display": lambda x: x.clamp(0, 1), "xis": (0, 1.5), "interactive": False, "start": None}),
    "aslib.tools.book.cell_kind": lambda: (book.cell_kind, ({"cell_type": "code", "metadata": {}, "source": ["x = 1"]},), {}),
    "aslib.tools.book.local_links": lambda: (book.local_links, (_html_page(),), {}),
    # aslib.store.vectors
    "aslib.store.vectors.experiment_options": lambda: (vectors.experiment_options, ("cifar10", "oneclass", "as"), {}),
    "aslib.store.vectors.record_id": lambda: (vectors.record_id, ("lenet_fashion_mnist", "allclass", "as", 10.0, 0),
                                        {"norm": "l2", "solver": "authors"}),
    "aslib.store.vectors.craft_vectors": _craft_shipped,
    # aslib.studies
    "aslib.studies.sweeps.method_label": lambda: (studies.sweeps.method_label, ("sgd_uap",), {}),
    "aslib.studies.sweeps.as_pair": lambda: (studies.sweeps.as_pair, ("test", (torch.zeros(2, 3), torch.zeros(2))),
                                             {}),
    "aslib.studies.sweeps.check_method_kwargs": lambda: (studies.sweeps.check_method_kwargs, (
        {"as": {"step_max": 3.0}},), {"methods": ["as", "uap"]}),
    "aslib.studies.attacks.EigenDirections.__init__": lambda: (studies.EigenDirections, (), {
        "eigen": [0.2, 0.3], "random": torch.tensor([0.1, 0.15]), "recursive": 0.5, "clean": 0.1,
        "lambdas": [0.5, 0.2], "captured": torch.tensor([0.1, 0.2]), "cosine": 0.1, "dim": 48, "n_eval": 5}),
    # aslib.teach.exercises
    **{f"aslib.teach.exercises.{module}.{name}": _check(name) for module, names in _CHECKS.items() for name in names},
    "aslib.teach.exercises.grading.expect": lambda: (grading.expect, (True, "the answer is right"), {}),
    "aslib.teach.exercises.grading.answer_tensor": lambda: (grading.answer_tensor, (torch.zeros(2, 3), "the table", (2, 3)),
                                                      {}),
    # aslib.nets.asnet, aslib.fitting, aslib.store.reproduction
    "aslib.nets.asnet.ASNet.__init__": lambda: (asnet.ASNet, (
        torch.nn.Flatten(), torch.nn.Linear(4, 2, bias=False), pce.Standardize(torch.zeros(2), torch.ones(2)),
        pce.HermiteBasis(2, 1), torch.nn.Linear(3, 3, bias=False)), {}),
    "aslib.nets.asnet.ASNet.empty": lambda: (asnet.ASNet.empty, (torch.nn.Flatten(), 4, 2, 1, 3), {}),
    "aslib.nets.asnet.ASNet.active_variables": lambda: (_empty_asnet().active_variables, (torch.randn(5, 4),), {}),
    "aslib.nets.asnet.BuildInfo.__init__": lambda: (asnet.BuildInfo, (
        "conv1", 8, 2, 1, 3, 20, 0.9, 0.8, 0.0, [{"ridge_per_sample": 0.0, "r2_heldout": 0.8}], None, 1.5), {}),
    "aslib.fitting.runs.directions": lambda: (runs.directions, (
        models.build("lenet").eval(), "conv2", [(torch.randn(2, 1, 28, 28), torch.tensor([0, 1]))],
        recipes.ASNetRecipe("lenet_fashion_mnist", "conv2", rank=2, projection="random")), {}),
    "aslib.store.reproduction.Check.__init__": lambda: (reproduction.Check, ("accuracy", 0.9, 0.91, 0.02, "spread"),
                                                  {"binding": False}),
}
