"""Training: named recipes, seeded runs, resumable checkpoints.

A training run writes ``<out>.state.pt`` every ``save_every`` seconds (model, optimiser,
scheduler, epoch and batch position); rerunning the same command after an interruption
continues from there, batch for batch. The finished model is written to ``<out>`` with its
metadata (architecture, dataset, recipe, seed, epochs, test accuracy, wall time); every
checkpoint loads with ``torch.load(..., weights_only=True)``.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.optim import swa_utils
from tqdm.auto import tqdm

from . import data as data_mod
from ._utils import (atomic_save, check_choice, check_device, check_fraction, check_positive, chunks, default_device,
                     load_resumed, load_tensors, model_device, seeded)
from .contracts import Count, contract
from .inference import evaluate
from .models import build
from .zoo import save_checkpoint


SCHEDULES = ("onecycle", "step")
"""The learning-rate schedules of a :class:`Recipe`: one-cycle (cosine annealing) or the paper's steps."""


@dataclass(frozen=True)
class Recipe:
    """Everything that defines a training run (hyper-parameters in the optimiser's units).

    ``swa_epochs`` > 0 adds stochastic weight averaging after the schedule: that many more
    epochs of SGD at the constant rate ``swa_lr`` (a fresh optimiser), averaging the weights at
    the end of each, then batch-norm statistics recomputed for the average
    (``torch.optim.swa_utils``). The averaged network is the result.
    """

    arch: str
    dataset: str
    arch_kwargs: dict[str, Any] = field(default_factory=dict)
    epochs: int = 30
    batch_size: int = 128
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 5e-4
    schedule: str = "onecycle"
    label_smoothing: float = 0.0
    seed: int = 0
    swa_epochs: int = 0
    swa_lr: float = 0.01

    def __post_init__(self) -> None:
        check_positive("epochs", self.epochs, integer=True)
        check_positive("batch_size", self.batch_size, integer=True)
        check_positive("lr", self.lr)
        for name in ("momentum", "weight_decay"):
            check_positive(name, getattr(self, name), allow_zero=True)
        check_fraction("label_smoothing", self.label_smoothing, low_open=False, high_open=True)
        check_choice("schedule", self.schedule, SCHEDULES)
        if self.swa_epochs < 0 or (self.swa_epochs and self.swa_lr <= 0):
            raise ValueError(f"swa_epochs must be >= 0 (0 turns weight averaging off) and swa_lr > 0, "
                             f"got {self.swa_epochs} and {self.swa_lr}")


RECIPES: dict[str, Recipe] = {
    "vgg19_bn_w025_cifar10": Recipe("vgg19_bn", "cifar10", {"width": 0.25}, epochs=120, lr=0.1,
                                     weight_decay=2.5e-4, label_smoothing=0.1, swa_epochs=8, swa_lr=0.01),
    "resnet20_cifar10": Recipe("resnet20", "cifar10", epochs=60, lr=0.2, weight_decay=5e-4),
    "lenet_fashion_mnist": Recipe("lenet", "fashion_mnist", epochs=8, lr=0.05, weight_decay=5e-4),
    "smoke_lenet_fashion_mnist": Recipe("lenet", "fashion_mnist", epochs=1, lr=0.05),
    # GPU presets of the paper's networks (documented, not shipped).
    "paper_vgg19_bn_cifar10": Recipe("vgg19_bn", "cifar10", epochs=164, lr=0.1, schedule="step",
                                     weight_decay=5e-4),
    "paper_resnet110_cifar10": Recipe("resnet110", "cifar10", epochs=200, lr=0.1, schedule="step",
                                      weight_decay=1e-4),
    "paper_vgg19_bn_cifar100": Recipe("vgg19_bn", "cifar100", {"num_classes": 100}, epochs=164, lr=0.1,
                                      schedule="step"),
    "paper_resnet110_cifar100": Recipe("resnet110", "cifar100", {"num_classes": 100}, epochs=200, lr=0.1,
                                       schedule="step", weight_decay=1e-4),
}


def _optimizer(model: nn.Module, recipe: Recipe, steps_per_epoch: int, phase: str = "main"):
    """SGD and its schedule: the recipe's for ``phase="main"``, constant ``swa_lr`` for ``"swa"``."""
    decay = [p for n, p in model.named_parameters() if p.ndim > 1]
    no_decay = [p for n, p in model.named_parameters() if p.ndim <= 1]
    opt = torch.optim.SGD([{"params": decay, "weight_decay": recipe.weight_decay},
                           {"params": no_decay, "weight_decay": 0.0}],
                          lr=recipe.swa_lr if phase == "swa" else recipe.lr, momentum=recipe.momentum,
                          nesterov=recipe.momentum > 0)
    total = recipe.epochs * steps_per_epoch
    if phase == "swa":
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: 1.0)
    elif recipe.schedule == "onecycle":
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=recipe.lr, total_steps=total, pct_start=0.25)
    else:
        sched = torch.optim.lr_scheduler.MultiStepLR(
            opt, [int(0.5 * total), int(0.75 * total)], gamma=0.1)
    return opt, sched


def train(recipe: Recipe | str, out: str | Path, *, root: str | None = None, device: str | torch.device | None = None,
          save_every: float = 60.0, progress: bool = True, max_batches: int | None = None,
          amp: bool | None = None) -> dict[str, Any]:
    """Train a recipe (or a name from :data:`RECIPES`) and write the final checkpoint to ``out``.

    ``amp`` turns on mixed precision with channels-last images: float16 with a gradient scaler
    on CUDA (the default there), bfloat16 on a CPU (opt-in; for CPUs with AVX-512 BF16:
    the width-1/4 CIFAR VGG trains at 36 s instead of 69 s per epoch on 2 cores). Weights, optimiser state and
    evaluation stay in float32.

    Resumes from ``<out>.state.pt`` when present. ``max_batches`` stops after that many
    optimiser steps in this call (for tests and time-boxed runs; the state is saved so the
    next call continues). Returns the metadata written with the model (``done`` is False if
    stopped early).
    """
    if max_batches is not None:
        check_positive("max_batches (optimiser steps in this call; None for no limit)", max_batches, integer=True)
    if isinstance(recipe, str):
        check_choice("recipe", recipe, RECIPES)
        recipe_name, recipe = recipe, RECIPES[recipe]
    else:
        recipe_name = "custom"
    device = check_device(device) if device is not None else default_device()
    out = Path(out)
    state_path = out.with_name(out.name + ".state.pt")
    with seeded(recipe.seed, device):  # the caller's random state is left as it was
        train_set = data_mod.load(recipe.dataset, "train", root)
        test_set = data_mod.load(recipe.dataset, "test", root)
        kwargs = dict(recipe.arch_kwargs)
        kwargs.setdefault("num_classes", train_set.num_classes)
        model = build(recipe.arch, **kwargs).to(device)
        cuda = device.type == "cuda"
        amp = cuda if amp is None else amp
        amp_dtype = torch.float16 if cuda else torch.bfloat16
        if amp:
            model = model.to(memory_format=torch.channels_last)
        loader = data_mod.BatchLoader(train_set, recipe.batch_size, shuffle=True, augment=True,
                                      seed=recipe.seed, drop_last=True, device=device)
        scaler = torch.amp.GradScaler("cuda", enabled=amp and cuda)
        epoch, position, elapsed, history = 0, 0, 0.0, []
        state = load_tensors(state_path, "training state", device) if state_path.exists() else None
        if state is not None:
            load_resumed(model, state["model"], state_path, "write this run to another out path")
            epoch, position, elapsed, history = state["epoch"], state["position"], state["elapsed"], state["history"]

        def start_phase(name: str):
            """Fresh optimiser and schedule for phase ``name``, plus the running average in ``"swa"``."""
            return (name, *_optimizer(model, recipe, len(loader), name),
                    swa_utils.AveragedModel(model) if name == "swa" else None)

        phase, opt, sched, averaged = start_phase("swa" if epoch >= recipe.epochs else "main")
        if state is not None and state.get("phase", "main") == phase:  # else: the SWA phase starts afresh
            opt.load_state_dict(state["optimizer"])
            sched.load_state_dict(state["scheduler"])
            if averaged is not None:
                averaged.load_state_dict(state["averaged"])

        def snapshot():
            atomic_save({"model": model.state_dict(), "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
                         "phase": phase, "averaged": averaged.state_dict() if averaged is not None else None,
                         "epoch": epoch, "position": position, "elapsed": elapsed + time.time() - start,
                         "history": history}, state_path)

        start, last_save, steps = time.time(), time.time(), 0
        stopped = False
        total_epochs = recipe.epochs + recipe.swa_epochs
        while epoch < total_epochs and not stopped:
            if epoch >= recipe.epochs and phase == "main":
                phase, opt, sched, averaged = start_phase("swa")
            loader.set_epoch(epoch)
            model.train()
            running, seen = 0.0, 0
            bar = tqdm(total=len(loader), initial=position, disable=not progress,
                       desc=f"epoch {epoch + 1}/{total_epochs}")
            for i, (x, y) in enumerate(loader):
                if i < position:
                    continue
                if amp:
                    x = x.contiguous(memory_format=torch.channels_last)
                with torch.autocast(device.type, dtype=amp_dtype, enabled=amp):
                    loss = F.cross_entropy(model(x), y, label_smoothing=recipe.label_smoothing)
                opt.zero_grad(set_to_none=True)
                scaler.scale(loss).backward()
                scaler.step(opt)
                scaler.update()
                sched.step()
                running += loss.item() * len(y)
                seen += len(y)
                position, steps = i + 1, steps + 1
                bar.update(1)
                bar.set_postfix(loss=f"{running / seen:.3f}")
                if time.time() - last_save > save_every:
                    snapshot()
                    last_save = time.time()
                if max_batches is not None and steps >= max_batches:
                    stopped = True
                    break
            bar.close()
            if not stopped:
                if averaged is not None:
                    averaged.update_parameters(model)
                test = evaluate(model, test_set, batch_size=500)
                history.append({"epoch": epoch + 1, "phase": phase, "train_loss": running / max(seen, 1),
                                "test_accuracy": test["accuracy"]})
                if progress:
                    tqdm.write(f"epoch {epoch + 1}: train loss {running / max(seen, 1):.4f}, "
                               f"test accuracy {test['accuracy']:.4f}")
                epoch, position = epoch + 1, 0
            snapshot()
            last_save = time.time()
        wall = elapsed + time.time() - start
        meta = {"arch": recipe.arch, "arch_kwargs": kwargs, "dataset": recipe.dataset, "data_source": train_set.source,
                "recipe_name": recipe_name, "recipe": asdict(recipe), "seed": recipe.seed, "epochs": epoch,
                "wall_time_s": round(wall, 1), "history": history, "device": str(device),
                "precision": str(amp_dtype).removeprefix("torch.") if amp else "float32", "done": not stopped}
        if not stopped:
            if averaged is not None:
                swa_utils.update_bn(data_mod.BatchLoader(train_set, 500, augment=True, seed=recipe.seed, device=device),
                                    averaged)
                model = averaged.module
            meta["test_accuracy"] = evaluate(model, test_set)["accuracy"]
            save_checkpoint(model, meta, out)
            state_path.unlink(missing_ok=True)
        return meta


@contract
def quick_fit(model: nn.Module, dataset: str = "fashion_mnist", n_images: Count = 6000, seed: int = 0,
              root: str | Path | None = None) -> nn.Module:
    """Train ``model`` (any ``nn.Module`` mapping ``(B, C, H, W)`` normalised images of ``dataset`` to logits
    ``(B, K)``) in place by one pass of Adam (lr 2e-3, batches of 100) over ``n_images`` seeded training
    images, and return it in eval mode: a few seconds on a CPU for a LeNet-sized network.

    For tests, benchmarks and notebooks that need a trained network quickly (your own, or a stand-in
    when the zoo's is absent); a real training run is :func:`train`. Seeded with ``seed`` inside a fork of torch's
    generator: the caller's random state is left as it was.
    """
    x, y = data_mod.tensors(dataset, "train", n=n_images, seed=seed, root=root)
    device = model_device(model)
    with seeded(seed, device):
        opt = torch.optim.Adam(model.parameters(), lr=2e-3)
        model.train()
        for part in chunks(len(x), 100):
            loss = F.cross_entropy(model(x[part].to(device)), y[part].to(device))
            opt.zero_grad()
            loss.backward()
            opt.step()
    return model.eval()


@contract
def quick_lenet(n_images: Count = 6000, seed: int = 0, root: str | Path | None = None) -> nn.Module:
    """The LeNet of :func:`aslib.models.build` after :func:`quick_fit` on Fashion-MNIST (about 85 % test
    accuracy with the defaults); eval mode. The caller's random state is left as it was."""
    with seeded(seed):
        model = build("lenet")
    return quick_fit(model, "fashion_mnist", n_images, seed, root)
