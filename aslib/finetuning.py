"""Step 3 of Algorithm 3.1: fine-tuning an ASNet (or any network) against its original.

Phase ``distill``: knowledge distillation from the original network (KL with ``batchmean`` reduction plus
cross-entropy, :func:`distillation_loss`). Phase ``sparse``: l1-proximal sparse retraining (soft-thresholding after
each step, :func:`soft_threshold_`) towards a nonzero-weight target, optionally with weight averaging. Runs are
resumable (:func:`finetune`'s ``checkpoint``) and snapshot the end of each phase (:func:`phase_checkpoint`).
"""
from __future__ import annotations

import math
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
from tqdm.auto import tqdm

from .asnet import ASNet
from ._utils import (NonFiniteError, atomic_save, check_finite, check_fraction, check_positive,
                     load_resumed, load_tensors, model_device, model_mode)
from .contracts import NonNegativeReal, PositiveReal, Proportion, Shape, contract
from .data import Batches, BatchLoader, ImageDataset, local_share
from .distributed import barrier, is_main_process, process_rank_and_world, sum_across_ranks
from .inference import evaluate
from .metrics import complexity, nonzero_weights, sparse_macs_counter


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
    :func:`aslib.metrics.complexity`, Hermite basis included) are at most that many, and their zero pattern is
    fixed from then on, while the AS and PCE layers go on towards ``target_params``. Learning rates per group
    (pre-model, AS, PCE) follow ``schedule``: ``"harmonic"`` ``lr_0 / (e + 1)`` (the authors') or ``"cosine"``
    ``lr_0 (1 + cos(pi e / E)) / 2`` within each phase. ``precision="bfloat16"`` runs the forward
    passes (teacher and student) under autocast. ``swa_epochs`` > 0 averages the weights at the end of
    each of the last ``swa_epochs`` sparse epochs whose zero pattern is fixed (so it needs
    ``target_params``, reached before those epochs; ``torch.optim.swa_utils``; the average of weights
    with one zero pattern keeps it), and the average, with its batch-norm statistics recomputed over
    the training data, is the result.
    """

    kd_epochs: int = 20
    sparse_epochs: int = 100
    batch_size: int = 300
    kd_lr: tuple[float, float, float] = (1e-4, 1e-5, 1e-5)
    sparse_lr: tuple[float, float, float] = (1e-4, 1e-5, 1e-5)
    alpha: float = 0.1
    temperature: float = 1.0
    l1: float = 0.2
    l1_pre: float = 0.2
    l1_growth: float = 1.0
    target_params: int | None = None
    target_macs: int | None = None
    sparse_optimizer: str = "sgd"
    sparse_momentum: float = 0.0
    sparse_loss: str = "ce"
    schedule: str = "harmonic"
    precision: str = "float32"
    swa_epochs: int = 0
    augment: bool = True
    seed: int = 0
    max_batches: int | None = None

    def __post_init__(self) -> None:
        choices = {"sparse_optimizer": ("sgd", "adam"), "sparse_loss": ("ce", "distill"),
                   "schedule": ("harmonic", "cosine"), "precision": ("float32", "bfloat16")}
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"FinetuneConfig.{name} must be one of {allowed}, got {getattr(self, name)!r}")
        for name in ("kd_epochs", "sparse_epochs", "swa_epochs"):
            check_positive(name, getattr(self, name), integer=True, allow_zero=True)
        if self.swa_epochs > self.sparse_epochs:
            raise ValueError(f"swa_epochs ({self.swa_epochs}) averages the last sparse epochs: at most sparse_epochs "
                             f"({self.sparse_epochs})")
        check_positive("batch_size", self.batch_size, integer=True)
        for name in ("l1", "l1_pre", "sparse_momentum"):
            check_positive(name, getattr(self, name), allow_zero=True)
        check_positive("l1_growth", self.l1_growth)
        check_positive("temperature", self.temperature)
        check_fraction("alpha", self.alpha, low_open=False)
        for name in ("kd_lr", "sparse_lr"):
            rates = getattr(self, name)
            if len(rates) != 3:
                raise ValueError(f"{name} holds the (pre-model, AS, PCE) learning rates: 3 numbers, got {rates!r}")
            for rate in rates:
                check_positive(f"each of {name}", rate, allow_zero=True)
        for name in ("target_params", "target_macs"):
            if getattr(self, name) is not None:
                check_positive(name, getattr(self, name), integer=True)
        if self.max_batches is not None:
            check_positive("max_batches (batches per epoch; None for all)", self.max_batches, integer=True)

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
    progress = progress and is_main_process()
    eval_shard = local_share(eval_data, 500)
    key = ACCURACY_KEYS[0] if getattr(eval_data, "split", None) == "validation" else ACCURACY_KEYS[1]
    phases = [("distill", config.kd_epochs), ("sparse", config.sparse_epochs)]
    history: list[dict[str, Any]] = []
    path = Path(checkpoint) if checkpoint else None
    averaged = torch.optim.swa_utils.AveragedModel(asnet) if config.swa_epochs else None
    if path is not None and path.exists():
        state = load_tensors(path, "ASNet fine-tuning checkpoint", device)
        load_resumed(asnet, state["asnet"], path, "pass another checkpoint path (aslib asnet --out DIR)")
        history = state["history"]
        if averaged is not None and state.get("averaged") is not None:
            averaged.load_state_dict(state["averaged"])

    def save(target: Path) -> None:
        atomic_save({"asnet": asnet.state_dict(), "history": history,
                     "averaged": None if averaged is None else averaged.state_dict()}, target)

    def measure(phase: str, epoch: int) -> dict[str, Any]:
        result = evaluate(asnet, eval_shard)
        correct, total = sum_across_ranks([result["accuracy"] * result["samples"], result["samples"]])
        row = {"phase": phase, "epoch": epoch, key: correct / total}
        if input_shape is not None:
            c = complexity(asnet, input_shape)
            row.update({"nonzero_params": c["nonzero_params"], "sparse_macs": c["sparse_macs"],
                        "params": c["params"], "macs": c["macs"]})
        return row

    if not history:
        history.append(measure("start", 0))
    bf16 = config.precision == "bfloat16"
    for index, (phase, epochs) in enumerate(phases):
        done = [row["epoch"] for row in history if row["phase"] == phase]
        if any(row["phase"] == p for row in history for p, _ in phases[index + 1:]):
            continue
        groups = _param_groups(asnet, config.learning_rates(phase, 0))
        if phase == "distill" or config.sparse_optimizer == "adam":
            opt = torch.optim.Adam(groups)
        else:
            opt = torch.optim.SGD(groups, momentum=config.sparse_momentum)
        frozen = any(row.get("frozen") for row in history if row["phase"] == phase)
        masks = [w != 0 for w in _sparse_weights(asnet)] if frozen else None
        pre_frozen = any(row.get("pre frozen") for row in history if row["phase"] == phase)
        pre_masks = [w != 0 for w in _pre_weights(asnet)] if pre_frozen else None
        sparse_macs = (sparse_macs_counter(asnet, input_shape)
                       if phase == "sparse" and config.target_macs is not None else None)
        distill = phase == "distill" or config.sparse_loss == "distill"
        for epoch in range(max(done, default=0), epochs):
            started = time.time()
            for group, lr in zip(opt.param_groups, config.learning_rates(phase, epoch)):
                group["lr"] = lr
            loader.set_epoch(index * 10_000 + epoch)
            asnet.train()
            for b, (x, y) in enumerate(tqdm(loader, disable=not progress, desc=f"{phase} {epoch + 1}/{epochs}",
                                           leave=False)):
                if config.max_batches is not None and b >= config.max_batches:
                    break
                with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
                    out = model(x).float()
                    if distill:
                        with torch.no_grad():
                            target = teacher(x).float()
                if distill:
                    loss = distillation_loss(out, target, y, alpha=config.alpha, temperature=config.temperature)
                else:
                    loss = F.cross_entropy(out, y)
                if sum_across_ranks([float(not torch.isfinite(loss))])[0]:  # every rank stops, none hangs
                    raise NonFiniteError(f"non-finite loss in {phase} epoch {epoch + 1} (on at least one rank); "
                                             "lower the learning rates")
                opt.zero_grad(set_to_none=True)
                (loss * (len(y) * world / _global_batch_size(loader, b))).backward()
                opt.step()
                if phase != "sparse":
                    continue
                if masks is None:
                    _prox(asnet, opt, config, config.l1_scale(epoch), pre=pre_masks is None)
                    if pre_masks is not None:
                        with torch.no_grad():
                            for weight, mask in zip(_pre_weights(asnet), pre_masks):
                                weight.mul_(mask)
                    elif sparse_macs is not None and sparse_macs() <= config.target_macs:
                        pre_masks = [w != 0 for w in _pre_weights(asnet)]
                    if config.target_params is not None and nonzero_weights(asnet) <= config.target_params:
                        masks = [w != 0 for w in _sparse_weights(asnet)]
                else:
                    with torch.no_grad():
                        for weight, mask in zip(_sparse_weights(asnet), masks):
                            weight.mul_(mask)
            averaging = phase == "sparse" and averaged is not None and masks is not None \
                and epoch >= epochs - config.swa_epochs
            if averaging:
                averaged.update_parameters(asnet)
            asnet.eval()
            history.append({**measure(phase, epoch + 1), "seconds": round(time.time() - started, 2)})
            if phase == "sparse":
                history[-1].update({"l1 scale": config.l1_scale(epoch), "frozen": masks is not None,
                                    "averaged": averaging})
                if config.target_macs is not None:
                    history[-1]["pre frozen"] = pre_masks is not None or masks is not None
            if progress:
                tqdm.write(f"{phase} epoch {epoch + 1}: " + ", ".join(
                    f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in history[-1].items()
                    if k not in ("phase", "epoch")))
            if path is not None and is_main_process():
                save(path)
            barrier()
        if path is not None and epochs and is_main_process():
            save(phase_checkpoint(path, phase))
    if averaged is not None and not int(averaged.n_averaged):
        warnings.warn(f"swa_epochs={config.swa_epochs}: no sparse epoch in the averaging window had a fixed zero "
                      "pattern (set target_params, reached before the window), so nothing was averaged")
    elif averaged is not None and not history[-1].get("swa"):
        started = time.time()
        asnet.load_state_dict(averaged.module.state_dict())
        torch.optim.swa_utils.update_bn(loader, asnet)
        asnet.eval()
        history.append({**measure("sparse", history[-1]["epoch"]), "seconds": round(time.time() - started, 2),
                        "swa": int(averaged.n_averaged)})
        if path is not None and is_main_process():
            save(path)
        barrier()
    return history


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
