"""Step 3 of Algorithm 3.1: fine-tuning an ASNet (or any network) against its original.

Phase ``distill``: knowledge distillation from the original network (KL with ``batchmean`` reduction plus
cross-entropy, :func:`distillation_loss`). Phase ``sparse``: l1-proximal sparse retraining (soft-thresholding after
each step, :func:`soft_threshold_`) towards a nonzero-weight target, optionally with weight averaging. Runs are
resumable (:func:`finetune`'s ``checkpoint``) and snapshot the end of each phase (:func:`phase_checkpoint`).
"""
from __future__ import annotations

import math
import shutil
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args

import torch
import torch.nn.functional as F
from torch import nn
from jaxtyping import Float, Integer
from torch import Tensor

from aslib._utils import NonFiniteError, check_finite, model_device, model_mode
from aslib.contracts import Count, CountOrZero, NonNegativeReal, PositiveReal, Proportion, Shape, contract
from aslib.data import Batches, BatchLoader, ImageDataset, local_share
from aslib.distributed import is_main_process, process_rank_and_world, sum_across_ranks
from aslib.fitting.epoch_loop import EpochLoop
from aslib.nets.asnet import ASNet
from aslib.nets.counts import complexity, nonzero_weights, sparse_macs_counter
from aslib.nets.inference import evaluate


GroupRates = tuple[NonNegativeReal, NonNegativeReal, NonNegativeReal]
"""The (pre-model, AS, PCE) learning rates of a phase: three finite numbers >= 0."""


@contract
@dataclass(frozen=True)
class FinetuneConfig:
    """Step 3 of Algorithm 3.1 (defaults: the paper's VGG-19 / CIFAR-10 run).

    Phase ``distill``: ``kd_epochs`` of Adam on the distillation loss. Phase ``sparse``:
    ``sparse_epochs`` of ``sparse_optimizer`` (``"sgd"``, with ``sparse_momentum``, or ``"adam"``) on
    ``sparse_loss`` (``"ce"`` as the authors, or ``"distill"``), each step followed by the l1 proximal
    step ``w <- sign(w) max(|w| - lr l1_e, 0)`` with ``l1_e = l1 * l1_growth**e`` in sparse epoch ``e``
    (``l1_pre`` likewise for the pre-model's convolutions). With ``target_params`` the proximal step
    stops once the ASNet's nonzero Conv/Linear weights are at most that many, and the zero pattern is
    kept fixed for the rest of the phase. With ``target_macs`` the proximal step on the pre-model's
    convolutions stops earlier, once the ASNet's sparse MACs per sample (the rule of
    :func:`aslib.nets.counts.complexity`, Hermite basis included) are at most that many, and their zero pattern is
    fixed from then on, while the AS and PCE layers go on towards ``target_params``. Learning rates per group
    (pre-model, AS, PCE) follow ``schedule``: ``"harmonic"`` ``lr_0 / (e + 1)`` (the authors') or ``"cosine"``
    ``lr_0 (1 + cos(pi e / E)) / 2`` within each phase. ``precision="bfloat16"`` runs the forward
    passes (teacher and student) under autocast. ``swa_epochs`` > 0 averages the weights at the end of
    each of the last ``swa_epochs`` sparse epochs whose zero pattern is fixed (so it needs
    ``target_params``, reached before those epochs; ``torch.optim.swa_utils``; the average of weights
    with one zero pattern keeps it), and the average, with its batch-norm statistics recomputed over
    the training data, is the result.
    """

    kd_epochs: CountOrZero = 20
    sparse_epochs: CountOrZero = 100
    batch_size: Count = 300
    kd_lr: GroupRates = (1e-4, 1e-5, 1e-5)
    sparse_lr: GroupRates = (1e-4, 1e-5, 1e-5)
    alpha: Proportion = 0.1
    temperature: PositiveReal = 1.0
    l1: NonNegativeReal = 0.2
    l1_pre: NonNegativeReal = 0.2
    l1_growth: PositiveReal = 1.0
    target_params: Count | None = None
    target_macs: Count | None = None
    sparse_optimizer: Literal["sgd", "adam"] = "sgd"
    sparse_momentum: NonNegativeReal = 0.0
    sparse_loss: Literal["ce", "distill"] = "ce"
    schedule: Literal["harmonic", "cosine"] = "harmonic"
    precision: Literal["float32", "bfloat16"] = "float32"
    swa_epochs: CountOrZero = 0
    augment: bool = True
    seed: int = 0
    max_batches: Count | None = None

    def __post_init__(self) -> None:
        if self.swa_epochs > self.sparse_epochs:
            raise ValueError(f"swa_epochs ({self.swa_epochs}) averages the last sparse epochs: at most sparse_epochs "
                             f"({self.sparse_epochs})")

    def learning_rates(self, phase: str, epoch: int) -> tuple[float, float, float]:
        """The (pre-model, AS, PCE) learning rates of ``epoch`` (0-based) of ``phase``."""
        lrs, epochs = (self.kd_lr, self.kd_epochs) if phase == "distill" else (self.sparse_lr, self.sparse_epochs)
        if self.schedule == "harmonic":
            factor = 1 / (epoch + 1)
        else:
            factor = (1 + math.cos(math.pi * epoch / max(epochs, 1))) / 2
        return tuple(lr * factor for lr in lrs)

    def l1_scale(self, epoch: int) -> float:
        """The factor ``l1_growth**epoch`` of the l1 strengths in sparse epoch ``epoch`` (0-based)."""
        return self.l1_growth**epoch


Phase = Literal["distill", "sparse"]
"""A phase of :func:`finetune`."""
PHASES = get_args(Phase)
"""The two phases of :func:`finetune`, in order: distillation, then l1-proximal sparsification."""


@contract
def distillation_loss(student: Float[Tensor, "b k"], teacher: Float[Tensor, "b k"], labels: Integer[Tensor, " b"], *,
                      alpha: Proportion, temperature: PositiveReal) -> Tensor:
    """``alpha T^2 KL(softmax(t/T) || softmax(s/T))`` (batchmean) ``+ (1 - alpha) CE(s, y)`` of the student's and
    the teacher's logits ``(B, K)`` and the labels ``(B,)``; ``alpha`` weighs distillation against cross-entropy."""
    check_finite(student, "student logits")
    check_finite(teacher, "teacher logits")
    kd = F.kl_div(F.log_softmax(student / temperature, 1), F.log_softmax(teacher / temperature, 1),
                  reduction="batchmean", log_target=True)
    return alpha * temperature**2 * kd + (1 - alpha) * F.cross_entropy(student, labels)


@torch.no_grad()
@contract
def soft_threshold_(weight: Float[Tensor, "out ..."], threshold: NonNegativeReal) -> None:
    """In place ``w <- sign(w) max(|w| - threshold, 0)`` (the l1 proximal step; ``threshold`` = l1 strength x
    learning rate)."""
    weight.copy_(weight.sign() * (weight.abs() - threshold).clamp_min(0))


def _param_groups(asnet: nn.Module, lrs: tuple[float, float, float]) -> list[dict]:
    if not isinstance(asnet, ASNet):  # a plain network (the pruning baseline): one group at the pre-model's rate
        return [{"params": [p for p in asnet.parameters() if p.requires_grad], "lr": lrs[0], "name": "network"}]
    return [{"params": list(asnet.pre.parameters()), "lr": lrs[0], "name": "pre"},
            {"params": list(asnet.projection.parameters()), "lr": lrs[1], "name": "AS"},
            {"params": list(asnet.head.parameters()), "lr": lrs[2], "name": "PCE"}]


def _prox(asnet: ASNet, opt: torch.optim.Optimizer, cfg: FinetuneConfig, scale: float, *, pre: bool = True) -> None:
    lr_pre, lr_as, lr_pce = (g["lr"] for g in opt.param_groups)
    for weight in _pre_weights(asnet) if pre else ():
        soft_threshold_(weight, lr_pre * cfg.l1_pre * scale)
    soft_threshold_(asnet.projection.weight, lr_as * cfg.l1 * scale)
    soft_threshold_(asnet.head.weight, lr_pce * cfg.l1 * scale)


def _pre_weights(asnet: ASNet) -> list[torch.Tensor]:
    """The pre-model's convolution weights (the proximal step's ``l1_pre`` group)."""
    return [m.weight for m in asnet.pre.modules() if isinstance(m, nn.Conv2d)]


def _sparse_weights(asnet: ASNet) -> list[torch.Tensor]:
    """The weights the proximal step acts on: pre-model convolutions, AS layer, PCE layer."""
    return _pre_weights(asnet) + [asnet.projection.weight, asnet.head.weight]


@contract
def finetune(asnet: nn.Module, teacher: nn.Module, train_data: ImageDataset, eval_data: Batches,
             config: FinetuneConfig = FinetuneConfig(), *, checkpoint: str | Path | None = None,
             input_shape: Shape | None = None, progress: bool = True) -> list[dict[str, Any]]:
    """Step 3: distillation (Adam) then l1-proximal sparse retraining (SGD), epoch by epoch.

    Learning rates follow ``config.schedule`` within each phase (:class:`FinetuneConfig`). With
    ``checkpoint`` the state is saved after every epoch and a rerun resumes after the last
    completed epoch (a rerun with more epochs extends the run; optimiser moments restart at
    each resumed phase), and the state at the end of each phase is kept beside it
    (:func:`phase_checkpoint`). Returns
    one row per epoch (phase, epoch, accuracy on ``eval_data``, wall ``seconds``, nonzero parameters and MACs when
    ``input_shape`` is given; in the sparse phase also the ``l1 scale``, whether the zero pattern is
    ``frozen`` (with ``target_macs`` also whether the pre-model's is, ``pre frozen``) and whether the epoch was
    ``averaged``); the row with ``epoch == 0`` is the starting point,
    and with ``swa_epochs`` a last row (``"swa"``: the number of epochs averaged) is the averaged ASNet.
    The accuracy's key names the split it was measured on (:func:`accuracy_key`): ``"validation_accuracy"``
    when ``eval_data`` is a validation split (:func:`aslib.data.validation_split`, for runs whose choices
    read the history), else ``"test_accuracy"``.

    Under ``torch.distributed`` (e.g. ``torchrun``) the ASNet is wrapped in
    ``DistributedDataParallel`` and each rank trains on its share of every global batch of
    ``config.batch_size`` (:class:`~aslib.data.BatchLoader` ``shard``); losses are weighted so that
    the averaged gradient is the gradient of the global batch, as in one process. Batch-norm
    layers of the pre-model use their rank's statistics (plain DDP). Accuracy is computed
    on disjoint shards of ``eval_data`` and summed; rank 0 writes the checkpoint and every rank resumes from it.

    ``asnet`` is trained in place; the teacher is used in eval mode and left as it was passed in.
    Any other network may be distilled the same way (``sparse_epochs=0``; one parameter group at the
    pre-model's learning rate), e.g. a network pruned with ``torch.nn.utils.prune``, whose masks stay fixed.
    """
    if not isinstance(asnet, ASNet) and config.sparse_epochs:
        raise ValueError(f"the l1-sparse phase acts on an ASNet's layers; got a {type(asnet).__name__}: "
                         "use sparse_epochs=0 to distil another network")
    if config.target_macs is not None and input_shape is None:
        raise ValueError("target_macs counts MACs per sample: pass input_shape (one sample's shape, e.g. (3, 32, 32))")
    with model_mode(teacher):
        return _finetune(asnet, teacher, train_data, eval_data, config, checkpoint, input_shape, progress)


def _finetune(asnet: nn.Module, teacher: nn.Module, train_data: ImageDataset, eval_data: Batches,
              config: FinetuneConfig, checkpoint: str | Path | None, input_shape: tuple[int, ...] | None,
              progress: bool) -> list[dict[str, Any]]:
    device = model_device(asnet)
    process_rank, world = process_rank_and_world()
    loader = BatchLoader(train_data, config.batch_size, shuffle=True, augment=config.augment, seed=config.seed,
                         device=device, shard=(process_rank, world))
    model = asnet
    if world > 1:
        model = nn.parallel.DistributedDataParallel(asnet, device_ids=[device.index] if device.type == "cuda" else None)
    eval_shard = local_share(eval_data, 500)
    key = ACCURACY_KEYS[0] if getattr(eval_data, "split", None) == "validation" else ACCURACY_KEYS[1]

    def measure(phase: str, epoch: int, train_loss: float = math.nan) -> dict[str, Any]:
        result = evaluate(asnet, eval_shard)
        correct, total = sum_across_ranks([result["accuracy"] * result["samples"], result["samples"]])
        row = {"phase": phase, "epoch": epoch, key: correct / total}
        if input_shape is not None:
            c = complexity(asnet, input_shape)
            row.update({"nonzero_params": c["nonzero_params"], "sparse_macs": c["sparse_macs"],
                        "params": c["params"], "macs": c["macs"]})
        return row

    path = Path(checkpoint) if checkpoint else None
    loop = EpochLoop(asnet, loader, [("distill", config.kd_epochs), ("sparse", config.sparse_epochs)],
                     lambda phase, history: _FinetuneSteps(asnet, model, teacher, loader, config, phase, history,
                                                           input_shape),
                     measure, state_path=path, shuffle_epoch=lambda index, epoch: index * 10_000 + epoch,
                     batches_per_epoch=config.max_batches, start_row=lambda: measure("start", 0),
                     end_phase=None if path is None else lambda phase: _keep(loop, phase_checkpoint(path, phase)),
                     progress=progress and is_main_process(), what="ASNet fine-tuning checkpoint",
                     fix="pass another checkpoint path (aslib asnet --out DIR)")
    loop.run()
    history = loop.history
    if config.swa_epochs and (loop.averaged is None or not int(loop.averaged.n_averaged)):
        warnings.warn(f"swa_epochs={config.swa_epochs}: no sparse epoch in the averaging window had a fixed zero "
                      "pattern (set target_params, reached before the window), so nothing was averaged")
    elif config.swa_epochs and not history[-1].get("swa"):
        started = time.time()
        asnet.load_state_dict(loop.averaged.module.state_dict())
        torch.optim.swa_utils.update_bn(loader, asnet)
        asnet.eval()
        history.append({**measure("sparse", history[-1]["epoch"]), "seconds": round(time.time() - started, 2),
                        "swa": int(loop.averaged.n_averaged)})
        loop.save()
    return history


def _keep(loop: EpochLoop, target: Path) -> None:
    """Copy the state of ``loop`` at the end of a phase to ``target`` (main process only)."""
    if is_main_process():
        shutil.copyfile(loop.state_path, target)


class _FinetuneSteps:
    """The optimiser steps of one phase of :func:`finetune` (a :class:`~aslib.fitting.epoch_loop.Stepper`): Adam on the
    distillation loss (``distill``); in ``sparse``, each step followed by the l1 proximal step until the
    nonzero targets are met, then by the fixed zero pattern. ``model`` is ``asnet``, or its
    ``DistributedDataParallel`` wrapper. Which zero patterns are fixed is read back from ``history``."""

    def __init__(self, asnet: nn.Module, model: nn.Module, teacher: nn.Module, loader: BatchLoader,
                 config: FinetuneConfig, phase: str, history: list[dict[str, Any]],
                 input_shape: tuple[int, ...] | None) -> None:
        self.asnet, self.model, self.teacher, self.loader, self.config = asnet, model, teacher, loader, config
        self.phase, self.device = phase, model_device(asnet)
        self.epochs = config.kd_epochs if phase == "distill" else config.sparse_epochs
        groups = _param_groups(asnet, config.learning_rates(phase, 0))
        if phase == "distill" or config.sparse_optimizer == "adam":
            self.opt = torch.optim.Adam(groups)
        else:
            self.opt = torch.optim.SGD(groups, momentum=config.sparse_momentum)
        frozen = any(row.get("frozen") for row in history if row["phase"] == phase)
        self.masks = [w != 0 for w in _sparse_weights(asnet)] if frozen else None
        pre_frozen = any(row.get("pre frozen") for row in history if row["phase"] == phase)
        self.pre_masks = [w != 0 for w in _pre_weights(asnet)] if pre_frozen else None
        self.sparse_macs = (sparse_macs_counter(asnet, input_shape)
                            if phase == "sparse" and config.target_macs is not None else None)
        self.distill = phase == "distill" or config.sparse_loss == "distill"
        self.world = process_rank_and_world()[1]

    def begin_epoch(self, epoch: int) -> None:
        self.epoch, self.started = epoch, time.time()
        for group, lr in zip(self.opt.param_groups, self.config.learning_rates(self.phase, epoch)):
            group["lr"] = lr

    def step(self, x: torch.Tensor, y: torch.Tensor, batch: int) -> torch.Tensor:
        config, asnet = self.config, self.asnet
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=config.precision == "bfloat16"):
            out = self.model(x).float()
            if self.distill:
                with torch.no_grad():
                    target = self.teacher(x).float()
        if self.distill:
            loss = distillation_loss(out, target, y, alpha=config.alpha, temperature=config.temperature)
        else:
            loss = F.cross_entropy(out, y)
        if sum_across_ranks([float(not torch.isfinite(loss))])[0]:  # every rank stops, none hangs
            raise NonFiniteError(f"non-finite loss in {self.phase} epoch {self.epoch + 1} (on at least one rank); "
                                 "lower the learning rates")
        self.opt.zero_grad(set_to_none=True)
        (loss * (len(y) * self.world / _global_batch_size(self.loader, batch))).backward()
        self.opt.step()
        if self.phase != "sparse":
            return loss.detach()
        if self.masks is None:
            _prox(asnet, self.opt, config, config.l1_scale(self.epoch), pre=self.pre_masks is None)
            if self.pre_masks is not None:
                with torch.no_grad():
                    for weight, mask in zip(_pre_weights(asnet), self.pre_masks):
                        weight.mul_(mask)
            elif self.sparse_macs is not None and self.sparse_macs() <= config.target_macs:
                self.pre_masks = [w != 0 for w in _pre_weights(asnet)]
            if config.target_params is not None and nonzero_weights(asnet) <= config.target_params:
                self.masks = [w != 0 for w in _sparse_weights(asnet)]
        else:
            with torch.no_grad():
                for weight, mask in zip(_sparse_weights(asnet), self.masks):
                    weight.mul_(mask)
        return loss.detach()

    def averages(self, epoch: int) -> bool:
        return self.phase == "sparse" and self.config.swa_epochs > 0 and self.masks is not None \
            and epoch >= self.epochs - self.config.swa_epochs

    def row(self, epoch: int, averaged: bool) -> dict[str, Any]:
        row: dict[str, Any] = {"seconds": round(time.time() - self.started, 2)}
        if self.phase == "sparse":
            row.update({"l1 scale": self.config.l1_scale(epoch), "frozen": self.masks is not None,
                        "averaged": averaged})
            if self.config.target_macs is not None:
                row["pre frozen"] = self.pre_masks is not None or self.masks is not None
        return row

    def state_dict(self) -> None:
        return None  # optimiser moments restart when a run resumes

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass


ACCURACY_KEYS = ("validation_accuracy", "test_accuracy")
"""The accuracy column of a :func:`finetune` history: measured on a validation split, or on the test split."""


@contract
def accuracy_key(history: list[dict[str, Any]]) -> str:
    """Which of :data:`ACCURACY_KEYS` the rows of a :func:`finetune` history carry (all rows carry the same)."""
    keys = {key for row in history for key in ACCURACY_KEYS if key in row}
    if len(keys) != 1:
        raise ValueError(f"a fine-tuning history's rows carry one accuracy column of {ACCURACY_KEYS}; these rows "
                         f"carry {sorted(keys) or 'none'}")
    return keys.pop()


@contract
def phase_checkpoint(checkpoint: str | Path, phase: Phase) -> Path:
    """Where :func:`finetune` keeps the state at the end of ``phase`` next to ``checkpoint``
    (``finetune.pt`` -> ``finetune_distill.pt``): copied to a new run's ``checkpoint``, it starts that
    run's sparse phase from the same distilled ASNet."""
    path = Path(checkpoint)
    if path.is_dir() or not path.suffix:
        raise ValueError(f"checkpoint must be the path of a file such as run/finetune.pt, got {path}")
    return path.with_name(f"{path.stem}_{phase}{path.suffix}")


def _global_batch_size(loader: BatchLoader, index: int) -> int:
    """Size of the ``index``-th global batch of ``loader`` (before any rank's share is taken)."""
    n = len(loader.indices)
    return min(loader.batch_size, n - index * loader.batch_size)


__all__ = ["ACCURACY_KEYS", "FinetuneConfig", "PHASES", "Phase", "accuracy_key", "distillation_loss", "finetune",
           "phase_checkpoint", "soft_threshold_"]
