"""ASNet studies: fits against the cut, the rank and the degree, linear reproduction and projection accuracy.

Every study returns a tidy table (a list of plain dicts, one row per setting) that
:meth:`aslib.teach.nb.Notebook.table` or :func:`aslib.studies.tables.format_table` shows. Images are
``(N, C, H, W)`` tensors as :func:`aslib.data.tensors` returns them; work runs on the device of
the model (:func:`aslib.nets.inference.predict_logits`).
"""
from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from aslib._utils import chunks, model_device, model_mode
from jaxtyping import Float, Integer
from torch import Tensor

from aslib.contracts import Count, NonNegativeReal, PositiveReal, contract
from aslib.data import Batches, ImageDataset
from aslib.linalg.pce import num_terms, r2_score
from aslib.linalg.subspace import ActiveSubspace
from aslib.nets.asnet import ASNet, BuildInfo, build_asnet, split_model
from aslib.nets.counts import complexity
from aslib.nets.gradients import FUNCTIONS
from aslib.nets.inference import evaluate, predict_logits
from aslib.nets.layer_analysis import layer_subspaces

__all__ = ["agreement", "asnet_active_variables", "build_asnets", "build_study", "fit_quality", "linear_reproduction",
           "projection_accuracy", "rank_degree_sweep"]


Built = dict[str, tuple[ASNet, BuildInfo]]


TensorPair = tuple[Float[Tensor, "b *sample"], Integer[Tensor, " b"]]  # noqa: F821 (jaxtyping axes)
"""Images ``(N, *sample)`` and their labels ``(N,)``, normalised."""
FitPair = tuple[Float[Tensor, "m *sample"], Integer[Tensor, " m"]]  # noqa: F821 (jaxtyping axes)
"""The images ``(M, *sample)`` and labels ``(M,)`` a study fits on, beside a test pair of other length."""
Logits = Float[Tensor, "b k"]
"""The teacher's logits ``(N, K)`` on the test images of the same call."""


@contract
def agreement(student_logits: Float[Tensor, "n k"], teacher_logits: Float[Tensor, "n k"]) -> float:
    """Fraction in [0, 1] of samples on which two ``(N, K)`` logit tensors predict the same class."""
    return (student_logits.argmax(1) == teacher_logits.argmax(1)).float().mean().item()


@contract
def fit_quality(asnet: nn.Module, test: TensorPair, *, teacher_logits: Logits) -> dict[str, float]:
    """Held-out quality of a student: ``R2 test`` of its logits against ``teacher_logits`` ``(N, K)``
    (the teacher on ``test[0]``), test ``accuracy`` and ``agreement`` with the teacher's predictions."""
    student = predict_logits(asnet, test[0])
    return {"r2_test": r2_score(student, teacher_logits), "accuracy": evaluate(asnet, test)["accuracy"],
            "agreement": agreement(student, teacher_logits)}


@contract
def build_asnets(model: nn.Module, layers: Sequence[str], data: Batches, test: TensorPair, *, rank: Count,
                 degree: Count, teacher_logits: Logits | None = None, progress: bool = False,
                 **options: Any) -> tuple[Built, list[dict[str, Any]]]:
    """Build one ASNet per cut ``layer`` (steps 1-2 of Algorithm 3.1) and measure it.

    ``data`` feeds :func:`~aslib.nets.asnet.build_asnet` (both passes); ``test`` is an ``(images, labels)``
    pair. ``options`` go to ``build_asnet`` (``function=``, ``ridge_per_sample=``, ``passes=`` ...). Returns
    ``({layer: (asnet, info)}, rows)`` with one row per layer: cut, neurons, r, p, terms, samples,
    in-sample and held-out R², original and ASNet test accuracy, agreement with the original's
    predictions and the build's wall time in seconds.
    """
    if not layers:
        raise ValueError("no cut layers given; pass e.g. layers=['conv5']")
    if teacher_logits is None:
        teacher_logits = predict_logits(model, test[0])
    original = evaluate(model, test)["accuracy"]
    built: Built = {}
    rows = []
    for layer in layers:
        net, info = build_asnet(model, layer, data, rank=rank, degree=degree, progress=progress, **options)
        built[layer] = (net, info)
        quality = fit_quality(net, test, teacher_logits=teacher_logits)
        rows.append({"cut": layer, "neurons": info.neurons, "rank": info.rank, "degree": info.degree,
                     "terms": info.terms, "samples": info.samples, "r2_train": info.r2, "r2_test": quality["r2_test"],
                     "original_accuracy": original, "asnet_accuracy": quality["accuracy"],
                     "agreement": quality["agreement"], "seconds": info.wall_time_s})
    return built, rows


@contract
def rank_degree_sweep(model: nn.Module, layer: str, data: FitPair, test: TensorPair, *, ranks: Sequence[Count],
                      degrees: Sequence[Count], subspace: ActiveSubspace, known: tuple[ASNet, BuildInfo] | None = None,
                      teacher_logits: Logits | None = None) -> list[dict[str, Any]]:
    """ASNets at ``layer`` for every ``degree`` x ``rank`` (degrees outer), reusing ``subspace`` so each
    point only repeats the regression pass; ``known`` (an ``(asnet, info)`` already built) is reused
    where its rank and degree match.

    Combinations with more PCE terms than the ``len(data[0])`` training samples, or more directions
    than ``subspace`` estimated, are skipped (with a printed note). Each row: r, p, terms, dense
    params of the whole ASNet, in-sample and held-out R², test accuracy.
    """
    if not ranks or not degrees:
        raise ValueError(f"ranks and degrees must be non-empty, got ranks={ranks!r}, degrees={degrees!r}")
    if teacher_logits is None:
        teacher_logits = predict_logits(model, test[0])
    n_train, shape = len(data[0]), tuple(test[0].shape[1:])
    rows = []
    for degree in degrees:
        for rank in ranks:
            terms = num_terms(rank, degree)
            if terms > n_train or rank > subspace.components.shape[1]:
                print(f"skip r={rank}, p={degree}: {terms} terms for {n_train} samples")
                continue
            if known is not None and (known[1].rank, known[1].degree) == (rank, degree):
                candidate, fit = known
            else:
                candidate, fit = build_asnet(model, layer, data, rank=rank, degree=degree, subspace=subspace)
            quality = fit_quality(candidate, test, teacher_logits=teacher_logits)
            rows.append({"rank": rank, "degree": degree, "terms": terms,
                         "params": complexity(candidate, shape)["params"], "r2_train": fit.r2,
                         "r2_test": quality["r2_test"], "accuracy": quality["accuracy"]})
    return rows


@torch.no_grad()
@contract
def asnet_active_variables(asnet: ASNet, x: Float[Tensor, "b *sample"], *,  # noqa: F821 (jaxtyping axes)
                           batch_size: Count = 500) -> Tensor:
    """Standardised active variables ``(N, r)`` of the images ``x`` ``(N, *shape)``, batch by batch on
    the ASNet's device, returned on the CPU (eval mode, modes restored)."""
    device = model_device(asnet)
    with model_mode(asnet):
        return torch.cat([asnet.active_variables(x[part].to(device)).cpu() for part in chunks(len(x), batch_size)])


@contract
def linear_reproduction(model: nn.Module, layer: str, data: Batches, test: TensorPair, *, rank: Count,
                        degree: Count = 1, functions: Sequence[str] = FUNCTIONS,
                        atol: PositiveReal = 1e-3) -> dict[str, dict[str, Any]]:
    """Build an ASNet with each active-subspace ``function`` and compare it with ``model`` on ``test``.

    Meant for a cut before a linear post-model (LeNet after ``fc1``), where ``rank = K`` reproduces the
    network. Returns ``{function: {"nonzero_eigenvalues" (relative to the trace, > 1e-6), "accuracy",
    "same_predictions", "same_probabilities", "same_logits" (both within ``atol``), "r2"}}``.
    """
    if not functions:
        raise ValueError(f"no functions given; use some of {FUNCTIONS}")
    reference = predict_logits(model, test[0])
    checks = {}
    for function in functions:
        net, info = build_asnet(model, layer, data, rank=rank, degree=degree, function=function)
        out = predict_logits(net, test[0])
        eig = info.subspace.eigenvalues / info.subspace.trace
        checks[function] = {
            "nonzero_eigenvalues": int((eig > 1e-6).sum()), "accuracy": evaluate(net, test)["accuracy"],
            "same_predictions": bool((out.argmax(1) == reference.argmax(1)).all()),
            "same_probabilities": torch.allclose(out.log_softmax(1), reference.log_softmax(1), atol=atol),
            "same_logits": torch.allclose(out, reference, atol=atol), "r2": info.r2}
    return checks


@contract
def build_study(model: nn.Module, layer: str, data: ImageDataset, test: TensorPair, *,
                settings: Sequence[tuple[int, int, bool]], rank: Count, degree: Count,
                ridge_per_sample: Sequence[NonNegativeReal] = (0.0,), batch_size: Count = 500,
                subspace: ActiveSubspace | None = None, teacher_logits: Logits | None = None
                ) -> tuple[tuple[ASNet, BuildInfo], list[dict[str, Any]]]:
    """The PCE fit against its data: one ASNet per ``(images, passes, augment)`` setting, all with the same active
    subspace (``subspace``, or the one estimated in the first setting's first pass), so only the regression
    data change.

    ``images`` are the first images of ``data`` (a multiple of ``batch_size``, at most ``len(data)``).
    Rows: images, passes, augment, regression rows, ridge, R² in-sample / cross-validated / on ``test`` (the
    original's logits) and the test accuracy before fine-tuning. Returns ``((asnet, info) of the first
    setting, rows)``.
    """
    if not settings:
        raise ValueError("no settings given; pass e.g. settings=[(10000, 1, False), (50000, 2, True)]")
    for images, passes, _ in settings:
        if images % batch_size or not 0 < images <= len(data) or passes < 1:
            raise ValueError(f"each setting needs 0 < images <= {len(data)}, a multiple of batch_size={batch_size}, "
                             f"and passes >= 1; got images={images}, passes={passes}")
    if teacher_logits is None:
        teacher_logits = predict_logits(model, test[0])
    first, rows = None, []
    for images, passes, augment in settings:
        net, info = build_asnet(model, layer, data, rank=rank, degree=degree, passes=passes, augment=augment,
                                ridge_per_sample=list(ridge_per_sample), batch_size=batch_size,
                                max_batches=images // batch_size, subspace=subspace)
        first, subspace = first or (net, info), subspace or info.subspace
        quality = fit_quality(net, test, teacher_logits=teacher_logits)
        rows.append({"images": images, "passes": passes, "augment": augment, "rows": info.samples,
                     "ridge_per_sample": info.ridge_per_sample, "r2_train": info.r2, "r2_heldout": info.r2_heldout,
                     "r2_test": quality["r2_test"], "accuracy": quality["accuracy"], "seconds": info.wall_time_s})
    return first, rows


@torch.no_grad()
def _cut_activations(pre: nn.Module, x: torch.Tensor, batch_size: int) -> torch.Tensor:
    device = model_device(pre)
    return torch.cat([pre(x[part].to(device)).flatten(1) for part in chunks(len(x), batch_size)])


@contract
def projection_accuracy(model: nn.Module, layer: str, fit: FitPair, test: TensorPair, *, ranks: Sequence[Count],
                        subspace: ActiveSubspace | None = None, seed: int = 0,
                        batch_size: Count = 500) -> list[dict[str, Any]]:
    """Does the active subspace carry what the rest of the network needs? Test accuracy of ``model`` continued
    from its activation at ``layer`` projected onto ``r`` directions, ``x_l -> mu + V_r V_r^T (x_l - mu)``
    (``mu`` the mean activation over the ``fit`` images), for each ``r`` in ``ranks`` and three bases:

    * ``"active subspace"``: the leading eigenvectors of the loss-gradient covariance at ``layer`` (``subspace``,
      or estimated exactly from the ``fit`` images);
    * ``"PCA"``: the principal directions of the centred activations of the ``fit`` images;
    * ``"random"``: a seeded random orthonormal basis.

    ``fit`` and ``test`` are ``(x (N, C, H, W), y (N,))`` pairs; ``ranks`` at most the number of ``fit`` images
    and of the directions ``subspace`` keeps. Returns rows ``{"directions", "rank", "accuracy"}`` and one row
    ``{"directions": "none", "rank": neurons}`` for the unprojected network. The model is not changed.
    """
    if not ranks or min(ranks) < 1:
        raise ValueError(f"ranks must be positive integers (e.g. [1, 10, 50]), got {list(ranks)}")
    pre, post = split_model(copy.deepcopy(model).eval(), layer)
    acts = _cut_activations(pre, fit[0], batch_size)
    test_acts = _cut_activations(pre, test[0], batch_size)
    shape, neurons, largest = pre(fit[0][:1].to(model_device(pre))).shape[1:], acts.shape[1], max(ranks)
    if subspace is None:
        subspace = layer_subspaces(model, [layer], fit, method="exact", batch_size=batch_size)[layer]
    if largest > min(len(acts), subspace.components.shape[1]):
        raise ValueError(f"the largest rank {largest} exceeds the {len(acts)} fit images or the "
                         f"{subspace.components.shape[1]} directions of the subspace")
    mu = acts.mean(0)
    generator = torch.Generator().manual_seed(seed)
    bases = {"active subspace": subspace.components[:, :largest].to(acts),
             "PCA": torch.linalg.svd(acts - mu, full_matrices=False).Vh[:largest].T,
             "random": torch.linalg.qr(torch.randn(neurons, largest, generator=generator)).Q.to(acts)}
    y = test[1].to(acts.device)

    def accuracy(a: torch.Tensor) -> float:
        with torch.no_grad():
            logits = torch.cat([post(a[part].view(-1, *shape)) for part in chunks(len(a), batch_size)])
        return float((logits.argmax(1) == y).float().mean())

    rows = [{"directions": "none", "rank": neurons, "accuracy": accuracy(test_acts)}]
    for name, basis in bases.items():
        for r in ranks:
            v = basis[:, :r]
            rows.append({"directions": name, "rank": r, "accuracy": accuracy(mu + (test_acts - mu) @ v @ v.T)})
    return rows
