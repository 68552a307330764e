"""The one resumable epoch loop: :func:`aslib.fitting.training.train` and :func:`aslib.fitting.finetuning.finetune`
both run on it.

A run is a list of phases, each a number of epochs over the batches of a :class:`~aslib.data.BatchLoader`. At the
start of a phase (or on resuming inside one) the caller's ``begin(phase, history)`` returns a :class:`Stepper`,
which takes that phase's optimiser steps. After every epoch the loop adds the weights to a running average
(:class:`torch.optim.swa_utils.AveragedModel`) when the stepper says so, appends a history row (the caller's
``measure`` and the stepper's own entries) and saves its state: the model, the history, where it is (phase,
epochs done in it, batches done in the current epoch), the stepper's state, the average and the wall time. A
rerun with the same ``state_path`` continues where the last one stopped, batch for batch; a rerun with more epochs
in a phase extends it. Under ``torch.distributed`` only the main process writes, and every process waits for it.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable, Protocol, Sequence

import torch
from torch import nn
from torch.optim import swa_utils
from tqdm.auto import tqdm

from aslib._utils import atomic_save, load_resumed, load_tensors, model_device
from aslib.contracts import Count, CountOrZero, PositiveReal, contract
from aslib.data import BatchLoader
from aslib.distributed import barrier, is_main_process


class Stepper(Protocol):
    """The optimiser steps of one phase (returned by the ``begin`` callback of :class:`EpochLoop`)."""

    def begin_epoch(self, epoch: int) -> None:
        """Called before epoch ``epoch`` (0-based within the phase), e.g. to set its learning rates."""

    def step(self, x: torch.Tensor, y: torch.Tensor, batch: int) -> torch.Tensor:
        """One optimiser step on the images ``x`` ``(B, C, H, W)`` and labels ``y`` ``(B,)`` of batch number
        ``batch`` of the epoch; returns the loss (a 0-d tensor)."""

    def averages(self, epoch: int) -> bool:
        """Whether the weights at the end of epoch ``epoch`` join the running average."""

    def row(self, epoch: int, averaged: bool) -> dict[str, Any]:
        """The stepper's own entries of the history row of epoch ``epoch`` (``averaged``: whether it joined)."""

    def state_dict(self) -> dict[str, Any] | None:
        """What a resumed run restores inside this phase (optimiser and schedule), or None: they restart."""

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""


Measure = Callable[[str, int, float], dict[str, Any]]
"""``measure(phase, epoch, train_loss)``: the history row of the model after ``epoch`` (1-based) of ``phase``
(``train_loss``: the mean loss over the epoch's batches)."""


class EpochLoop:
    """Run ``phases`` (``(name, epochs)`` pairs, in order) of epochs of ``loader`` on ``model``, resumable.

    ``shuffle_epoch(phase_index, epoch)`` is the epoch number given to ``loader.set_epoch`` (its order and
    augmentation); ``batches_per_epoch`` caps every epoch at that many batches; ``save_every`` (seconds) also saves
    inside an epoch (None: after each epoch only); ``start_row()`` is the first history row of a fresh run (e.g.
    the starting accuracy); ``end_phase(phase)`` runs after each phase of at least one epoch, also when a resumed
    run finds it complete; ``state_path`` None keeps nothing (the run cannot resume).
    ``what`` and ``fix`` name the state file in the error for a state that does not fit ``model``.
    """

    @contract
    def __init__(self, model: nn.Module, loader: BatchLoader, phases: Sequence[tuple[str, CountOrZero]],
                 begin: Callable[[str, list[dict[str, Any]]], Stepper], measure: Measure, *,
                 state_path: Path | None, shuffle_epoch: Callable[[int, int], int],
                 batches_per_epoch: Count | None = None, save_every: PositiveReal | None = None,
                 start_row: Callable[[], dict[str, Any]] | None = None, end_phase: Callable[[str], None] | None = None,
                 progress: bool = True, what: str = "training state", fix: str = "write this run elsewhere") -> None:
        if not phases:
            raise ValueError("phases must name at least one phase, e.g. [('main', 10)]")
        self.model, self.loader, self.phases, self.begin, self.measure = model, loader, list(phases), begin, measure
        self.state_path, self.shuffle_epoch, self.batches_per_epoch = state_path, shuffle_epoch, batches_per_epoch
        self.save_every, self.end_phase, self.progress = save_every, end_phase, progress
        self.history: list[dict[str, Any]] = []
        self.averaged: swa_utils.AveragedModel | None = None
        self.phase, self.epoch, self.position, self.elapsed = self.phases[0][0], 0, 0, 0.0
        self.running, self.seen = 0.0, 0  # the current epoch's summed batch losses (x batch size) and samples
        self._stepper_state: dict[str, Any] | None = None
        self._stepper: Stepper | None = None
        self._started = time.time()
        if state_path is not None and state_path.exists():
            state = load_tensors(state_path, what, model_device(model))
            if "running" not in state:
                raise ValueError(f"{state_path} was written by an older version of aslib and cannot be resumed; "
                                 f"delete it to start afresh, or {fix}")
            load_resumed(model, state["model"], state_path, fix)
            self.history, self.phase, self.epoch = state["history"], state["phase"], state["epoch"]
            self.position, self.elapsed, self._stepper_state = state["position"], state["elapsed"], state["stepper"]
            self.running, self.seen = state["running"], state["seen"]
            if state["averaged"] is not None:
                self.averaged = swa_utils.AveragedModel(model)
                self.averaged.load_state_dict(state["averaged"])
        elif start_row is not None:
            self.history.append(start_row())

    @property
    def seconds(self) -> float:
        """Wall time of the run so far, over every call (s)."""
        return self.elapsed + time.time() - self._started

    def save(self) -> None:
        """Write the state (main process only; every process waits)."""
        if self.state_path is not None and is_main_process():
            atomic_save({"model": self.model.state_dict(), "history": self.history, "phase": self.phase,
                         "epoch": self.epoch, "position": self.position, "running": self.running,
                         "seen": self.seen, "elapsed": self.seconds,
                         "stepper": None if self._stepper is None else self._stepper.state_dict(),
                         "averaged": None if self.averaged is None else self.averaged.state_dict()}, self.state_path)
        barrier()

    @contract
    def run(self, max_steps: Count | None = None) -> bool:
        """Run (or continue) the phases; stop right after ``max_steps`` optimiser steps in this call, before any
        end of epoch (the state is saved, so the next call continues). Returns whether every phase is complete."""
        names = [name for name, _ in self.phases]
        first = names.index(self.phase) if self.phase in names else 0
        steps, last_save = 0, time.time()
        for index, (phase, epochs) in enumerate(self.phases[first:], start=first):
            if index > first or self.phase != phase:
                self.phase, self.epoch, self.position, self._stepper_state = phase, 0, 0, None
            self._stepper = self.begin(phase, self.history)
            if self._stepper_state is not None:
                self._stepper.load_state_dict(self._stepper_state)
                self._stepper_state = None
            while self.epoch < epochs:
                self._stepper.begin_epoch(self.epoch)
                self.loader.set_epoch(self.shuffle_epoch(index, self.epoch))
                self.model.train()
                if not self.position:
                    self.running, self.seen = 0.0, 0
                total = len(self.loader) if self.batches_per_epoch is None else \
                    min(len(self.loader), self.batches_per_epoch)
                bar = tqdm(total=total, initial=self.position, disable=not self.progress, leave=False,
                           desc=f"{phase} {self.epoch + 1}/{epochs}")
                for batch, (x, y) in enumerate(self.loader):
                    if self.batches_per_epoch is not None and batch >= self.batches_per_epoch:
                        break
                    if batch < self.position:
                        continue
                    loss = self._stepper.step(x, y, batch)
                    self.running += loss.item() * len(y)
                    self.seen += len(y)
                    self.position, steps = batch + 1, steps + 1
                    bar.update(1)
                    if max_steps is not None and steps >= max_steps:  # before the epoch's end: the next call ends it
                        bar.close()
                        self.save()
                        return False
                    if self.save_every is not None and time.time() - last_save > self.save_every:
                        self.save()
                        last_save = time.time()
                bar.close()
                averaging = self._stepper.averages(self.epoch)
                if averaging:
                    if self.averaged is None:
                        self.averaged = swa_utils.AveragedModel(self.model)
                    self.averaged.update_parameters(self.model)
                self.model.eval()
                self.history.append({**self.measure(phase, self.epoch + 1, self.running / max(self.seen, 1)),
                                     **self._stepper.row(self.epoch, averaging)})
                if self.progress:
                    tqdm.write(f"{phase} epoch {self.epoch + 1}: " + ", ".join(
                        f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in self.history[-1].items()
                        if k not in ("phase", "epoch")))
                self.epoch, self.position = self.epoch + 1, 0
                self.save()
                last_save = time.time()
            if epochs and self.end_phase is not None:
                self.end_phase(phase)
        return True


__all__ = ["EpochLoop", "Measure", "Stepper"]
