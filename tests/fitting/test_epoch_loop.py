"""The one resumable epoch loop (aslib.fitting.epoch_loop): stopped anywhere and resumed, a run equals the straight
one."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from conftest import random_images
from torch import nn

from aslib.data import BatchLoader
from aslib.fitting.epoch_loop import EpochLoop


class _Sgd:
    """SGD with momentum (state a resumed run must restore); phase ``b`` averages its epochs."""

    def __init__(self, model: nn.Module, phase: str) -> None:
        self.model, self.phase = model, phase
        self.opt = torch.optim.SGD(model.parameters(), lr=0.1 if phase == "a" else 0.02, momentum=0.9)

    def begin_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def step(self, x, y, batch):
        loss = F.cross_entropy(self.model(x), y)
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()
        return loss.detach()

    def averages(self, epoch: int) -> bool:
        return self.phase == "b"

    def row(self, epoch: int, averaged: bool) -> dict:
        return {"averaged": averaged}

    def state_dict(self) -> dict:
        return {"opt": self.opt.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.opt.load_state_dict(state["opt"])


def _loop(state_path, *, width: int = 3, ended: list | None = None, batches_per_epoch: int | None = None):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, width))
    images = random_images(40, (1, 4, 4), num_classes=3)
    loader = BatchLoader(images, 8, shuffle=True, augment=False, seed=0)
    return EpochLoop(model, loader, [("a", 2), ("b", 2)], lambda phase, history: _Sgd(model, phase),
                     lambda phase, epoch, loss: {"phase": phase, "epoch": epoch, "train_loss": loss},
                     state_path=state_path, shuffle_epoch=lambda index, epoch: 10 * index + epoch,
                     start_row=lambda: {"phase": "start", "epoch": 0},
                     end_phase=None if ended is None else ended.append, batches_per_epoch=batches_per_epoch)


def test_a_run_stopped_anywhere_and_resumed_equals_the_straight_run(tmp_path):
    straight = _loop(tmp_path / "straight.pt")
    assert straight.run()
    for budget in (3, 5, 7, 1, 4):  # 5 batches per epoch: stops mid-epoch, at an epoch's end, across phases
        path = tmp_path / f"chain{budget}.pt"
        calls = 0
        while True:
            calls += 1
            chained = _loop(path)
            if chained.run(max_steps=budget):
                break
            assert chained.seen == 0 or chained.position > 0, "a stop saves the partial epoch's losses"
        assert calls == -(-20 // budget) + (20 % budget == 0), budget
        assert chained.history == straight.history, budget
        for key, value in straight.model.state_dict().items():
            assert torch.equal(chained.model.state_dict()[key], value), (budget, key)
        for key, value in straight.averaged.state_dict().items():
            assert torch.equal(chained.averaged.state_dict()[key], value), (budget, key)
    assert [(r["phase"], r["epoch"]) for r in straight.history] == \
        [("start", 0), ("a", 1), ("a", 2), ("b", 1), ("b", 2)]
    assert [r.get("averaged") for r in straight.history] == [None, False, False, True, True]
    assert int(straight.averaged.n_averaged) == 2


def test_phases_end_after_their_epochs_and_a_cap_shortens_every_epoch(tmp_path):
    ended = []
    loop = _loop(tmp_path / "run.pt", ended=ended, batches_per_epoch=2)
    assert loop.run() and ended == ["a", "b"]
    assert loop.seen == 16  # the last epoch's two batches of 8 images
    again = _loop(tmp_path / "run.pt", ended=ended, batches_per_epoch=2)
    assert again.run() and again.history == loop.history  # nothing trained twice
    assert ended == ["a", "b", "b"]  # the phase it resumed in ends again (e.g. its snapshot is rewritten)


def test_a_state_of_another_model_or_format_is_refused_with_the_way_out(tmp_path):
    _loop(tmp_path / "run.pt").run(max_steps=2)
    with pytest.raises(ValueError, match="write this run elsewhere"):
        _loop(tmp_path / "run.pt", width=4)
    torch.save({"asnet": {}, "history": []}, tmp_path / "old.pt")
    with pytest.raises(ValueError, match="older version of aslib.*delete it to start afresh"):
        _loop(tmp_path / "old.pt")
    with pytest.raises(ValueError, match="at least one phase"):
        EpochLoop(nn.Linear(2, 2), BatchLoader(random_images(8, (1, 4, 4)), 4), [], lambda p, h: None,
                  lambda p, e, t: {}, state_path=None, shuffle_epoch=lambda i, e: e)
