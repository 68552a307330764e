"""Training a network from scratch: seeded, resumable runs of a :class:`~aslib.fitting.recipes.TrainingRecipe`.

A training run writes ``<out>.state.pt`` every ``save_every`` seconds (model, optimiser,
scheduler, epoch and batch position); rerunning the same command after an interruption
continues from there, batch for batch. The finished model is written to ``<out>`` with its
metadata (architecture, dataset, recipe, seed, epochs, test accuracy, wall time); every
checkpoint loads with ``torch.load(..., weights_only=True)``.
"""
from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.optim import swa_utils
from aslib import data as data_mod
from aslib._utils import check_choice, check_device, chunks, default_device, model_device, seeded
from aslib.contracts import Count, PositiveReal, contract
from aslib.fitting.epoch_loop import EpochLoop
from aslib.fitting.recipes import RECIPES, TrainingRecipe
from aslib.nets.inference import evaluate
from aslib.nets.models import build
from aslib.store.zoo import save_checkpoint


def _optimizer(model: nn.Module, recipe: TrainingRecipe, steps_per_epoch: int, phase: str = "main"):
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


@contract
def train(recipe: TrainingRecipe | str, out: str | Path, *, root: str | Path | None = None,
          device: str | torch.device | None = None, save_every: PositiveReal = 60.0, progress: bool = True,
          max_batches: Count | None = None, amp: bool | None = None) -> dict[str, Any]:
    """Train a recipe (or the name of a training recipe in :data:`~aslib.fitting.recipes.RECIPES`) and write the final
    checkpoint to ``out``.

    ``amp`` turns on mixed precision with channels-last images: float16 with a gradient scaler
    on CUDA (the default there), bfloat16 on a CPU (opt-in; for CPUs with AVX-512 BF16:
    the width-1/4 CIFAR VGG trains at 36 s instead of 69 s per epoch on 2 cores). Weights, optimiser state and
    evaluation stay in float32.

    Resumes from ``<out>.state.pt`` when present. ``max_batches`` stops after that many
    optimiser steps in this call (for tests and time-boxed runs; the state is saved so the
    next call continues). Returns the metadata written with the model (``done`` is False if
    stopped early).
    """
    if isinstance(recipe, str):
        check_choice("recipe", recipe, RECIPES)
        if not isinstance(RECIPES[recipe], TrainingRecipe):
            raise ValueError(f"recipe {recipe!r} compresses a trained network; run it with aslib.fitting.runs.run "
                             f"(or `aslib train --recipe {recipe}`)")
        recipe_name, recipe = recipe, RECIPES[recipe]
    else:
        recipe_name = "custom"
    device = check_device(device) if device is not None else default_device()
    out = Path(out)
    with seeded(recipe.seed, device):  # the caller's random state is left as it was
        train_set = data_mod.load(recipe.dataset, "train", root)
        test_set = data_mod.load(recipe.dataset, "test", root)
        kwargs = dict(recipe.arch_kwargs)
        kwargs.setdefault("num_classes", train_set.num_classes)
        model = build(recipe.arch, **kwargs).to(device)
        amp = device.type == "cuda" if amp is None else amp
        if amp:
            model = model.to(memory_format=torch.channels_last)
        loader = data_mod.BatchLoader(train_set, recipe.batch_size, shuffle=True, augment=True,
                                      seed=recipe.seed, drop_last=True, device=device)

        def measure(phase: str, epoch: int, train_loss: float) -> dict[str, Any]:
            return {"epoch": epoch + (recipe.epochs if phase == "swa" else 0), "phase": phase,
                    "train_loss": train_loss, "test_accuracy": evaluate(model, test_set, batch_size=500)["accuracy"]}

        loop = EpochLoop(model, loader, [("main", recipe.epochs), ("swa", recipe.swa_epochs)],
                         lambda phase, history: _TrainingSteps(model, recipe, len(loader), phase, amp), measure,
                         state_path=out.with_name(out.name + ".state.pt"), save_every=save_every, progress=progress,
                         shuffle_epoch=lambda index, epoch: epoch + (recipe.epochs if index else 0),
                         fix="write this run to another out path")
        done = loop.run(max_batches)
        meta = {"arch": recipe.arch, "arch_kwargs": kwargs, "dataset": recipe.dataset, "data_source": train_set.source,
                "recipe_name": recipe_name, "recipe": asdict(recipe), "seed": recipe.seed,
                "epochs": len(loop.history), "wall_time_s": round(loop.seconds, 1), "history": loop.history,
                "device": str(device), "done": done,
                "precision": str(_amp_dtype(device)).removeprefix("torch.") if amp else "float32"}
        if done:
            if loop.averaged is not None:
                swa_utils.update_bn(data_mod.BatchLoader(train_set, 500, augment=True, seed=recipe.seed, device=device),
                                    loop.averaged)
                model = loop.averaged.module
            meta["test_accuracy"] = evaluate(model, test_set)["accuracy"]
            save_checkpoint(model, meta, out)
            loop.state_path.unlink(missing_ok=True)
        return meta


def _amp_dtype(device: torch.device) -> torch.dtype:
    """Mixed precision's dtype: float16 on CUDA, bfloat16 elsewhere."""
    return torch.float16 if device.type == "cuda" else torch.bfloat16


class _TrainingSteps:
    """The optimiser steps of one phase of :func:`train` (a :class:`~aslib.fitting.epoch_loop.Stepper`): SGD on the
    (label-smoothed) cross-entropy, stepping its schedule after every batch; ``amp``: mixed precision."""

    def __init__(self, model: nn.Module, recipe: TrainingRecipe, steps_per_epoch: int, phase: str, amp: bool) -> None:
        self.model, self.recipe, self.phase, self.amp = model, recipe, phase, amp
        self.device = model_device(model)
        self.opt, self.sched = _optimizer(model, recipe, steps_per_epoch, phase)
        self.scaler = torch.amp.GradScaler("cuda", enabled=amp and self.device.type == "cuda")

    def begin_epoch(self, epoch: int) -> None:
        pass

    def step(self, x: torch.Tensor, y: torch.Tensor, batch: int) -> torch.Tensor:
        if self.amp:
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.autocast(self.device.type, dtype=_amp_dtype(self.device), enabled=self.amp):
            loss = F.cross_entropy(self.model(x), y, label_smoothing=self.recipe.label_smoothing)
        self.opt.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.step(self.opt)
        self.scaler.update()
        self.sched.step()
        return loss.detach()

    def averages(self, epoch: int) -> bool:
        return self.phase == "swa"

    def row(self, epoch: int, averaged: bool) -> dict[str, Any]:
        return {}

    def state_dict(self) -> dict[str, Any]:
        return {"optimizer": self.opt.state_dict(), "scheduler": self.sched.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.opt.load_state_dict(state["optimizer"])
        self.sched.load_state_dict(state["scheduler"])


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
    """The LeNet of :func:`aslib.nets.models.build` after :func:`quick_fit` on Fashion-MNIST (about 85 % test
    accuracy with the defaults); eval mode. The caller's random state is left as it was."""
    with seeded(seed):
        model = build("lenet")
    return quick_fit(model, "fashion_mnist", n_images, seed, root)
