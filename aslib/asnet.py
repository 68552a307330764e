"""ASNet: pre-model -> active-subspace layer -> polynomial chaos head.

``build_asnet`` implements steps 1-2 of Algorithm 3.1: one pass over the data estimates the
active subspace of the cut layer (gradients of the loss by default), a second pass collects the
active variables ``z = V_1^T x_l`` and the original network's logits, standardises ``z`` and
fits the PCE coefficients by least squares. ``finetune`` is step 3: knowledge distillation from
the original network (KL with ``batchmean`` reduction), then l1-proximal sparse retraining.
"""
from __future__ import annotations

import copy
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from ._utils import NonFiniteError, atomic_save, check_positive, load_tensors, model_device, model_mode
from .data import Batches, BatchLoader, ImageDataset, batches, local_share
from .distributed import barrier, is_main_process, rank_and_world, sum_across_ranks
from .models import cut_points
from .pce import HermiteBasis, Standardize, fit_least_squares, num_terms, r2_score
from .subspace import ActiveSubspace, layer_subspaces


def split_model(model: nn.Module, layer: str) -> tuple[nn.Sequential, nn.Sequential]:
    """Split a sequential model after the child named ``layer`` into ``(pre_model, post_model)``.

    The parts share the model's modules (copy the model first to keep it unchanged).
    """
    if not isinstance(model, nn.Sequential):
        raise TypeError(f"{type(model).__name__} is not an nn.Sequential; ASNet cuts sequential models "
                        "(the zoo's VGG, ResNet at block boundaries and LeNet)")
    names = [n for n, _ in model.named_children()]
    valid = cut_points(model)
    if layer not in valid:
        raise KeyError(f"cannot cut after {layer!r}; valid cut points: {valid}")
    k = names.index(layer) + 1
    return model[:k], model[k:]


class ASNet(nn.Module):
    """``x -> pre(x).flatten(1) -> projection (n -> r) -> standardize -> basis (r -> N_b) -> head (N_b -> K)``.

    Attributes ``pre``, ``projection`` (``Linear(n, r, bias=False)``), ``standardize``
    (frozen), ``basis`` (:class:`~aslib.pce.HermiteBasis`, no parameters), ``head``
    (``Linear(N_b, K, bias=False)``). Input as the original network, output logits ``(B, K)``.
    """

    def __init__(self, pre: nn.Module, projection: nn.Linear, standardize: Standardize, basis: HermiteBasis,
                 head: nn.Linear):
        super().__init__()
        self.pre, self.projection, self.standardize, self.basis, self.head = pre, projection, standardize, basis, head

    @classmethod
    def empty(cls, pre: nn.Module, neurons: int, rank: int, degree: int, num_classes: int) -> "ASNet":
        """An ASNet with the given sizes and untrained AS/PCE weights (e.g. to load a state dict)."""
        return cls(pre, nn.Linear(neurons, rank, bias=False), Standardize(torch.zeros(rank), torch.ones(rank)),
                   HermiteBasis(rank, degree), nn.Linear(num_terms(rank, degree), num_classes, bias=False))

    def active_variables(self, x: torch.Tensor) -> torch.Tensor:
        """Standardised active variables ``(B, r)``."""
        return self.standardize(self.projection(self.pre(x).flatten(1)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.basis(self.active_variables(x)))

    def parts(self) -> dict[str, nn.Module]:
        """The three parts counted in the complexity table."""
        return {"pre-model": self.pre, "AS layer": self.projection, "PCE layer": nn.Sequential(self.basis, self.head)}


@dataclass
class BuildInfo:
    """What :func:`build_asnet` measured: the layer's subspace and the PCE fit quality."""

    layer: str
    neurons: int
    rank: int
    degree: int
    terms: int
    samples: int
    r2: float
    subspace: ActiveSubspace
    wall_time_s: float


@torch.no_grad()
def _collect(pre: nn.Module, post: nn.Module, components: torch.Tensor, data: Batches, batch_size: int,
             max_batches: int | None, device) -> tuple[torch.Tensor, torch.Tensor]:
    zs, logits = [], []
    for i, (x, _) in enumerate(batches(data, batch_size, device)):
        if max_batches is not None and i >= max_batches:
            break
        act = pre(x)
        out = post(act)
        if out.ndim != 2:
            raise ValueError(f"the model must output logits (B, K); got shape {tuple(out.shape)}")
        zs.append(act.flatten(1) @ components)
        logits.append(out)
    if not zs:
        raise ValueError("no data for the PCE regression")
    return torch.cat(zs), torch.cat(logits)


def build_asnet(model: nn.Module, layer: str, data: Batches, *, rank: int = 50, degree: int = 2,
                method: str = "frequent_directions", function="loss", sketch_size: int | None = None,
                ridge: float = 0.0, batch_size: int = 128, max_batches: int | None = None,
                subspace: ActiveSubspace | None = None, progress: bool = False) -> tuple[ASNet, BuildInfo]:
    """Steps 1-2 of Algorithm 3.1: AS layer from the gradients, PCE head fitted to the logits.

    Args:
        model: trained sequential classifier (not modified; its pre-model is copied).
        layer: cut point (``aslib.models.cut_points(model)``).
        data: training data (dataset, ``(x, y)`` batches or a tensor pair) used for both passes.
        rank: number of active directions ``r`` (AS layer width); degree: total PCE degree ``p``.
        method, function, sketch_size: active-subspace estimation (see :func:`layer_subspaces`).
        ridge: optional ridge penalty of the least-squares fit.
        subspace: a precomputed estimator for this layer (skips step 1).
    Returns:
        ``(asnet in eval mode, BuildInfo)``.
    """
    if degree < 1:
        raise ValueError(f"PCE degree p must be >= 1, got degree={degree}")
    if rank < 1:
        raise ValueError(f"the number of active directions r must be >= 1, got rank={rank}")
    start = time.time()
    model = copy.deepcopy(model).eval()
    device, dtype = model_device(model), next(model.parameters()).dtype
    pre, post = split_model(model, layer)
    if subspace is None:
        subspace = layer_subspaces(model, [layer], data, method=method, function=function, sketch_size=sketch_size,
                                   batch_size=batch_size, max_batches=max_batches, progress=progress)[layer]
    neurons = subspace.dim
    if rank > neurons:
        raise ValueError(f"rank={rank} is larger than the {neurons} neurons of layer {layer!r}; "
                         f"choose rank <= {neurons}")
    if rank > subspace.components.shape[1]:
        raise ValueError(f"rank={rank} but only {subspace.components.shape[1]} directions were estimated; "
                         "use a larger sketch_size or more samples")
    components = subspace.components[:, :rank].to(device, dtype)
    z, targets = _collect(pre, post, components, data, batch_size, max_batches, device)
    terms = num_terms(rank, degree)
    if len(z) < terms and ridge == 0:
        raise ValueError(f"the PCE with rank={rank}, degree={degree} has {terms} terms but only {len(z)} samples "
                         f"were given; pass at least {terms} samples (or ridge > 0)")
    standardize = Standardize.from_data(z)
    basis = HermiteBasis(rank, degree).to(device, dtype)
    features = basis(standardize(z))
    weights = fit_least_squares(features, targets, ridge=ridge)
    projection = nn.Linear(neurons, rank, bias=False).to(device, dtype)
    head = nn.Linear(terms, targets.shape[1], bias=False).to(device, dtype)
    with torch.no_grad():
        projection.weight.copy_(components.T)
        head.weight.copy_(weights.T)
    asnet = ASNet(pre, projection, standardize.to(device, dtype), basis, head).eval()
    info = BuildInfo(layer, neurons, rank, degree, terms, len(z), r2_score(features @ weights, targets), subspace,
                     time.time() - start)
    return asnet, info


@dataclass(frozen=True)
class FinetuneConfig:
    """Step 3 of Algorithm 3.1 (defaults: the paper's VGG-19 / CIFAR-10 run)."""

    kd_epochs: int = 20
    sparse_epochs: int = 100
    batch_size: int = 300
    kd_lr: tuple[float, float, float] = (1e-4, 1e-5, 1e-5)
    sparse_lr: tuple[float, float, float] = (1e-4, 1e-5, 1e-5)
    alpha: float = 0.1
    temperature: float = 1.0
    l1: float = 0.2
    l1_pre: float = 0.2
    augment: bool = True
    seed: int = 0
    max_batches: int | None = None


def distillation_loss(student: torch.Tensor, teacher: torch.Tensor, labels: torch.Tensor, *, alpha: float,
                      temperature: float) -> torch.Tensor:
    """``alpha T^2 KL(softmax(t/T) || softmax(s/T))`` (batchmean) ``+ (1 - alpha) CE(s, y)``."""
    check_positive("temperature", temperature)
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha weighs distillation against cross-entropy and must lie in [0, 1], got {alpha!r}")
    kd = F.kl_div(F.log_softmax(student / temperature, 1), F.log_softmax(teacher / temperature, 1),
                  reduction="batchmean", log_target=True)
    return alpha * temperature**2 * kd + (1 - alpha) * F.cross_entropy(student, labels)


@torch.no_grad()
def soft_threshold_(weight: torch.Tensor, threshold: float) -> None:
    """In place ``w <- sign(w) max(|w| - threshold, 0)`` (the l1 proximal step, ``threshold >= 0``)."""
    check_positive("threshold (l1 weight x learning rate)", threshold, allow_zero=True)
    weight.copy_(weight.sign() * (weight.abs() - threshold).clamp_min(0))


def _param_groups(asnet: ASNet, lrs: tuple[float, float, float]) -> list[dict]:
    return [{"params": list(asnet.pre.parameters()), "lr": lrs[0], "name": "pre"},
            {"params": list(asnet.projection.parameters()), "lr": lrs[1], "name": "AS"},
            {"params": list(asnet.head.parameters()), "lr": lrs[2], "name": "PCE"}]


def _prox(asnet: ASNet, opt: torch.optim.Optimizer, cfg: FinetuneConfig) -> None:
    lr_pre, lr_as, lr_pce = (g["lr"] for g in opt.param_groups)
    for module in asnet.pre.modules():
        if isinstance(module, nn.Conv2d):
            soft_threshold_(module.weight, lr_pre * cfg.l1_pre)
    soft_threshold_(asnet.projection.weight, lr_as * cfg.l1)
    soft_threshold_(asnet.head.weight, lr_pce * cfg.l1)


def finetune(asnet: ASNet, teacher: nn.Module, train_data: ImageDataset, test_data: Batches,
             config: FinetuneConfig = FinetuneConfig(), *, checkpoint: str | Path | None = None,
             input_shape: tuple[int, ...] | None = None, progress: bool = True) -> list[dict[str, Any]]:
    """Step 3: distillation (Adam) then l1-proximal sparse retraining (SGD), epoch by epoch.

    Learning rates follow the authors' ``lr_e = lr_0 / (e + 1)`` within each phase. With
    ``checkpoint`` the state is saved after every epoch and a rerun resumes after the last
    completed epoch (a rerun with more epochs extends the run; optimiser moments restart at
    each resumed phase). Returns
    one row per epoch (phase, epoch, test accuracy, nonzero parameters and MACs when
    ``input_shape`` is given); the row with ``epoch == 0`` is the starting point.

    Under ``torch.distributed`` (e.g. ``torchrun``) the ASNet is wrapped in
    ``DistributedDataParallel`` and each rank trains on its share of every global batch of
    ``config.batch_size`` (:class:`~aslib.data.BatchLoader` ``shard``); losses are weighted so that
    the averaged gradient is the gradient of the global batch, as in one process. Batch-norm
    layers of the pre-model use their rank's statistics (plain DDP). Test accuracy is computed
    on disjoint test shards and summed; rank 0 writes the checkpoint and every rank resumes from it.

    ``asnet`` is trained in place; the teacher is used in eval mode and left as it was passed in.
    """
    with model_mode(teacher):
        return _finetune(asnet, teacher, train_data, test_data, config, checkpoint, input_shape, progress)


def _finetune(asnet: ASNet, teacher: nn.Module, train_data: ImageDataset, test_data: Batches,
              config: FinetuneConfig, checkpoint: str | Path | None, input_shape: tuple[int, ...] | None,
              progress: bool) -> list[dict[str, Any]]:
    from .metrics import complexity
    from .training import evaluate

    device = model_device(asnet)
    rank, world = rank_and_world()
    loader = BatchLoader(train_data, config.batch_size, shuffle=True, augment=config.augment, seed=config.seed,
                         device=device, shard=(rank, world))
    model = asnet
    if world > 1:
        model = nn.parallel.DistributedDataParallel(asnet, device_ids=[device.index] if device.type == "cuda" else None)
    progress = progress and is_main_process()
    test_shard = local_share(test_data, 500)
    phases = [("distill", config.kd_epochs, config.kd_lr), ("sparse", config.sparse_epochs, config.sparse_lr)]
    history: list[dict[str, Any]] = []
    path = Path(checkpoint) if checkpoint else None
    if path is not None and path.exists():
        state = load_tensors(path, "ASNet fine-tuning checkpoint", device)
        asnet.load_state_dict(state["asnet"])
        history = state["history"]

    def measure(phase: str, epoch: int) -> dict[str, Any]:
        result = evaluate(asnet, test_shard)
        correct, total = sum_across_ranks([result["accuracy"] * result["samples"], result["samples"]])
        row = {"phase": phase, "epoch": epoch, "test_accuracy": correct / total}
        if input_shape is not None:
            c = complexity(asnet, input_shape)
            row.update({"nonzero_params": c["nonzero_params"], "sparse_macs": c["sparse_macs"],
                        "params": c["params"], "macs": c["macs"]})
        return row

    if not history:
        history.append(measure("start", 0))
    for index, (phase, epochs, lrs) in enumerate(phases):
        done = [row["epoch"] for row in history if row["phase"] == phase]
        later = any(row["phase"] == p for row in history for p, _, _ in phases[index + 1:])
        if later:
            continue
        groups = _param_groups(asnet, lrs)
        opt = torch.optim.Adam(groups) if phase == "distill" else torch.optim.SGD(groups)
        for epoch in range(max(done, default=0), epochs):
            for group, lr in zip(opt.param_groups, lrs):
                group["lr"] = lr / (epoch + 1)
            loader.set_epoch(index * 10_000 + epoch)
            asnet.train()
            for b, (x, y) in enumerate(tqdm(loader, disable=not progress, desc=f"{phase} {epoch + 1}/{epochs}",
                                           leave=False)):
                if config.max_batches is not None and b >= config.max_batches:
                    break
                out = model(x)
                if phase == "distill":
                    with torch.no_grad():
                        target = teacher(x)
                    loss = distillation_loss(out, target, y, alpha=config.alpha, temperature=config.temperature)
                else:
                    loss = F.cross_entropy(out, y)
                if sum_across_ranks([float(not torch.isfinite(loss))])[0]:  # every rank stops, none hangs
                    raise NonFiniteError(f"non-finite loss in {phase} epoch {epoch + 1} (on at least one rank); "
                                             "lower the learning rates")
                opt.zero_grad(set_to_none=True)
                (loss * (len(y) * world / _global_batch_size(loader, b))).backward()
                opt.step()
                if phase == "sparse":
                    _prox(asnet, opt, config)
            asnet.eval()
            history.append(measure(phase, epoch + 1))
            if progress:
                tqdm.write(f"{phase} epoch {epoch + 1}: " + ", ".join(
                    f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in history[-1].items()
                    if k not in ("phase", "epoch")))
            if path is not None and is_main_process():
                atomic_save({"asnet": asnet.state_dict(), "history": history}, path)
            barrier()
    return history


def _global_batch_size(loader: BatchLoader, index: int) -> int:
    """Size of the ``index``-th global batch of ``loader`` (before any rank's share is taken)."""
    n = len(loader.indices)
    return min(loader.batch_size, n - index * loader.batch_size)


__all__ = ["ASNet", "BuildInfo", "FinetuneConfig", "build_asnet", "distillation_loss", "finetune",
           "soft_threshold_", "split_model"]
