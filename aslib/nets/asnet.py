"""ASNet: pre-model -> active-subspace layer -> polynomial chaos head.

``build_asnet`` implements steps 1-2 of Algorithm 3.1: one pass over the data estimates the
active subspace of the cut layer (gradients of the loss by default), a second pass collects the
active variables ``z = V_1^T x_l`` and the original network's logits, standardises ``z`` and
fits the PCE coefficients by least squares. Step 3 (distillation and l1-proximal sparse retraining) is
:mod:`aslib.fitting.finetuning`.
"""
from __future__ import annotations

import copy
import functools
import itertools
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch
from torch import nn
from tqdm.auto import tqdm

from jaxtyping import Float
from torch import Tensor

from aslib._utils import check_choice, model_device
from aslib.contracts import Count, CountOrZero, NonNegativeReal, contract
from aslib.data import Batches, BatchLoader, ImageDataset, batches
from aslib.linalg.pce import HermiteBasis, NormalEquations, Standardize, num_terms
from aslib.linalg.subspace import ActiveSubspace, Method, leading_directions
from aslib.nets.gradients import ScalarFunction
from aslib.nets.layer_analysis import layer_subspaces
from aslib.nets.models import cut_points


@contract
def split_model(model: nn.Module, layer: str) -> tuple[nn.Sequential, nn.Sequential]:
    """Split a sequential model after the child named ``layer`` into ``(pre_model, post_model)``.

    The parts share the model's modules (copy the model first to keep it unchanged).
    """
    if not isinstance(model, nn.Sequential):
        raise TypeError(f"{type(model).__name__} is not an nn.Sequential; ASNet cuts sequential models "
                        "(the zoo's VGG, ResNet at block boundaries and LeNet)")
    names = [n for n, _ in model.named_children()]
    check_choice("cut point", layer, cut_points(model), " (the layer after which the network is cut)")
    k = names.index(layer) + 1
    return model[:k], model[k:]


@contract
class ASNet(nn.Module):
    """``x -> pre(x).flatten(1) -> projection (n -> r) -> standardize -> basis (r -> N_b) -> head (N_b -> K)``.

    Attributes ``pre``, ``projection`` (``Linear(n, r, bias=False)``), ``standardize``
    (frozen), ``basis`` (:class:`~aslib.linalg.pce.HermiteBasis`, no parameters), ``head``
    (``Linear(N_b, K, bias=False)``). Input as the original network, output logits ``(B, K)``.
    """

    def __init__(self, pre: nn.Module, projection: nn.Linear, standardize: Standardize, basis: HermiteBasis,
                 head: nn.Linear):
        super().__init__()
        self.pre, self.projection, self.standardize, self.basis, self.head = pre, projection, standardize, basis, head

    @classmethod
    @contract
    def empty(cls, pre: nn.Module, neurons: Count, rank: Count, degree: Count, num_classes: Count) -> "ASNet":
        """An ASNet with the given sizes and untrained AS/PCE weights (e.g. to load a state dict)."""
        return cls(pre, nn.Linear(neurons, rank, bias=False), Standardize(torch.zeros(rank), torch.ones(rank)),
                   HermiteBasis(rank, degree), nn.Linear(num_terms(rank, degree), num_classes, bias=False))

    @contract
    def active_variables(self, x: Float[Tensor, "b *sample"]) -> torch.Tensor:  # noqa: F821
        """Standardised active variables ``(B, r)`` of the inputs ``x`` ``(B, ...)``."""
        return self._active_variables(x)

    def _active_variables(self, x: torch.Tensor) -> torch.Tensor:
        return self.standardize(self.projection(self.pre(x).flatten(1)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.basis(self._active_variables(x)))

    def parts(self) -> dict[str, nn.Module]:
        """The three parts counted in the complexity table."""
        return {"pre-model": self.pre, "AS layer": self.projection, "PCE layer": nn.Sequential(self.basis, self.head)}


@contract
@dataclass
class BuildInfo:
    """What :func:`build_asnet` measured: the layer's subspace and the PCE fit quality.

    ``samples`` counts the rows of the regression (images x passes); ``r2`` is the in-sample R²,
    ``r2_heldout`` the cross-validated one of the chosen ``ridge_per_sample``, and ``ridge_scores``
    one row per candidate ridge (``{"ridge_per_sample", "r2_heldout"}``).
    """

    layer: str
    neurons: Count
    rank: Count
    degree: Count
    terms: Count
    samples: Count
    r2: float
    r2_heldout: float
    ridge_per_sample: NonNegativeReal
    ridge_scores: list[dict[str, float]]
    subspace: ActiveSubspace | None
    wall_time_s: NonNegativeReal


def _passes(data: Batches, passes: int, augment: bool, seed: int, batch_size: int, max_batches: int | None,
            device, dtype) -> Iterator[Iterator[tuple[torch.Tensor, torch.Tensor]]]:
    """One iterator of ``(x, y)`` batches per pass; a dataset is read in order, with fresh augmentation draws
    (``seed + pass``) on every pass, so the ``j``-th sample of each pass is image ``j``."""
    if not isinstance(data, ImageDataset) and (passes > 1 or augment):
        raise ValueError("several passes and augmentation need an ImageDataset (aslib.data.load(...)); "
                         f"got {type(data).__name__}: pass the dataset, or passes=1 and augment=False")
    for index in range(passes):
        source = data
        if isinstance(data, ImageDataset):
            source = BatchLoader(data, batch_size, augment=augment, seed=seed)
            source.set_epoch(index)
        yield itertools.islice(batches(source, batch_size, device, dtype), max_batches)


@torch.no_grad()
def _standardize(pre: nn.Module, components: torch.Tensor, stream) -> Standardize:
    """Mean and population std of the active variables ``x_l V_1`` over one pass, in float64."""
    count, total, squares = 0, 0.0, 0.0
    for x, _ in stream:
        z = (pre(x).flatten(1) @ components).double()
        count, total, squares = count + len(z), total + z.sum(0), squares + (z * z).sum(0)
    if count < 2:
        raise ValueError("no data for the PCE regression (need at least 2 samples)")
    mean = total / count
    std = (squares / count - mean**2).clamp_min(0).sqrt()
    return Standardize(mean.to(components.dtype), std.to(components.dtype))


@torch.no_grad()
def _normal_equations(pre: nn.Module, post: nn.Module, projection: nn.Module, basis: HermiteBasis,
                      streams, folds: int, device) -> NormalEquations:
    equations = None
    for stream in streams:
        position = 0
        for x, _ in stream:
            act = pre(x)
            out = post(act)
            if out.ndim != 2:
                raise ValueError(f"the model must output logits (B, K); got shape {tuple(out.shape)}")
            if equations is None:
                equations = NormalEquations(basis.num_terms, out.shape[1], folds=folds, device=device)
            fold = torch.arange(position, position + len(x), device=device) % folds
            equations.add(basis(projection(act.flatten(1))), out, fold)
            position += len(x)
    if equations is None:
        raise ValueError("no data for the PCE regression")
    return equations


@contract
def build_asnet(model: nn.Module, layer: str, data: Batches, *, rank: Count = 50, degree: Count = 2,
                method: Method = "frequent_directions", function: ScalarFunction = "loss",
                sketch_size: Count | None = None, ridge_per_sample: NonNegativeReal | Sequence[NonNegativeReal] = 0.0,
                folds: Count = 5, passes: Count = 1, augment: bool = False, seed: CountOrZero = 0,
                batch_size: Count = 128, max_batches: Count | None = None, subspace: ActiveSubspace | None = None,
                directions: Float[Tensor, "neurons k"] | None = None,
                progress: bool = False) -> tuple[ASNet, BuildInfo]:
    """Steps 1-2 of Algorithm 3.1: AS layer from the gradients, PCE head fitted to the logits, streamed.

    Step 1 streams the gradients of one pass through the subspace estimator; step 2 makes one pass to
    standardise the active variables ``z = V_1^T x_l`` and ``passes`` passes that accumulate the normal
    equations of the PCE least squares (:class:`~aslib.linalg.pce.NormalEquations`, float64; memory independent
    of the number of images), with every image in one of ``folds`` folds (``index % folds``).

    Args:
        model: trained sequential classifier (not modified; its pre-model is copied).
        layer: cut point (``aslib.nets.models.cut_points(model)``).
        data: training data: a dataset (read in order; ``passes`` and ``augment`` apply), ``(x, y)``
            batches or a tensor pair (one pass, no augmentation).
        rank: number of active directions ``r`` (AS layer width); degree: total PCE degree ``p``.
        method, function, sketch_size: active-subspace estimation (see :func:`layer_subspaces`).
        ridge_per_sample: ridge penalty divided by the number of regression rows (the features have unit
            second moments, so ``1e-3`` adds 0.1 % to the diagonal); with several values the one with the
            best cross-validated R² is used.
        passes, augment, seed: passes of the regression over a dataset, with the training augmentation
            (random crop and flip; fresh draws ``seed + pass`` on every pass, pass 0 also feeds step 1).
        max_batches: batches per pass (``None``: all).
        subspace: a precomputed estimator for this layer (skips step 1).
        directions: ``(neurons, >= rank)`` orthonormal columns used instead of the active subspace (the
            baselines of :mod:`aslib.fitting`; skips step 1, ``BuildInfo.subspace`` is ``None``).
    Returns:
        ``(asnet in eval mode, BuildInfo)``.
    """
    ridges = [float(r) for r in (ridge_per_sample if isinstance(ridge_per_sample, Sequence) else [ridge_per_sample])]
    if not ridges or any(not r >= 0 for r in ridges):
        raise ValueError(f"ridge_per_sample must be >= 0 (one value or a non-empty list), got {ridge_per_sample!r}")
    if len(ridges) > 1 and folds < 2:
        raise ValueError(f"choosing among {len(ridges)} ridges needs cross-validation folds >= 2, got folds={folds}")
    start = time.time()
    model = copy.deepcopy(model).eval()
    device, dtype = model_device(model), next(model.parameters()).dtype
    pre, post = split_model(model, layer)
    stream = functools.partial(_passes, data, augment=augment, seed=seed, batch_size=batch_size,
                               max_batches=max_batches, device=device, dtype=dtype)
    if subspace is None and directions is None:
        subspace = layer_subspaces(model, [layer], next(stream(1)), method=method, function=function,
                                   sketch_size=sketch_size, batch_size=batch_size, progress=progress)[layer]
    if subspace is not None and directions is not None:
        raise ValueError("pass either subspace (an active-subspace estimator) or directions, not both")
    found = leading_directions(subspace, min(rank, subspace.dim)) if directions is None else directions
    neurons = found.shape[0]
    if rank > neurons:
        raise ValueError(f"rank={rank} is larger than the {neurons} neurons of layer {layer!r}; "
                         f"choose rank <= {neurons}")
    if rank > found.shape[1]:
        raise ValueError(f"rank={rank} but only {found.shape[1]} directions were given or estimated; "
                         "use a larger sketch_size or more samples")
    components = found[:, :rank].to(device, dtype)
    standardize = _standardize(pre, components, next(stream(1))).to(device)
    projection = nn.Linear(neurons, rank, bias=False).to(device, dtype)
    with torch.no_grad():
        projection.weight.copy_(components.T)
    basis = HermiteBasis(rank, degree).to(device, dtype)
    equations = _normal_equations(pre, post, nn.Sequential(projection, standardize), basis,
                                  tqdm(stream(passes), total=passes, disable=not progress, desc="PCE passes",
                                       leave=False), folds, device)
    terms, n = basis.num_terms, equations.samples
    if n < terms and min(ridges) == 0:
        raise ValueError(f"the PCE with rank={rank}, degree={degree} has {terms} terms but only {n} samples "
                         f"were given; pass at least {terms} samples (or ridge_per_sample > 0)")
    scores = [{"ridge_per_sample": r, "r2_heldout": row["r2_heldout"]}
              for r, row in zip(ridges, equations.cross_validate([r * n for r in ridges]))] if folds > 1 else []
    best = max(scores, key=lambda row: row["r2_heldout"]) if scores else {"ridge_per_sample": ridges[0],
                                                                          "r2_heldout": float("nan")}
    weights = equations.solve(best["ridge_per_sample"] * n)
    head = nn.Linear(terms, weights.shape[1], bias=False).to(device, dtype)
    with torch.no_grad():
        head.weight.copy_(weights.T)
    asnet = ASNet(pre, projection, standardize, basis, head).eval()
    info = BuildInfo(layer, neurons, rank, degree, terms, n, equations.r2(weights), best["r2_heldout"],
                     best["ridge_per_sample"], scores, subspace, time.time() - start)
    return asnet, info


__all__ = ["ASNet", "BuildInfo", "build_asnet", "split_model"]
