"""The private plumbing every module shares: one model-mode manager, one non-finite error."""
import pytest
import torch
from torch import nn

from aslib._utils import NonFiniteError, atomic_save, check_finite, check_positive, model_mode


def nested_bn_model():
    """A train-mode model holding a batch-norm that is frozen in eval mode on its own."""
    model = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4), nn.Sequential(nn.BatchNorm1d(4), nn.Linear(4, 2)))
    model.train()
    model[2][0].eval()
    return model


@pytest.mark.parametrize("train", [False, True])
def test_model_mode_restores_every_submodule_and_the_buffers(train):
    model = nested_bn_model()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    modes = [m.training for m in model.modules()]
    with model_mode(model, train=train):
        assert all(m.training == train for m in model.modules())
        model(torch.randn(8, 4))
    assert [m.training for m in model.modules()] == modes
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_model_mode_restores_after_an_error():
    model = nested_bn_model()
    with pytest.raises(RuntimeError, match="boom"):
        with model_mode(model):
            model(torch.randn(8, 4))
            raise RuntimeError("boom")
    assert model.training and not model[2][0].training


def test_one_error_type_for_non_finite_values():
    with pytest.raises(NonFiniteError, match="the loss contain NaN"):
        check_finite(torch.tensor([1.0, float("nan")]), "the loss")
    assert issubclass(NonFiniteError, ValueError) and issubclass(NonFiniteError, FloatingPointError)
    check_finite(torch.ones(3), "ones")


@pytest.mark.parametrize("value, integer, allow_zero, ok", [
    (1, True, False, True), (0, True, True, True), (0, True, False, False), (1.5, True, False, False),
    (float("nan"), False, False, False), (-1.0, False, True, False), (True, True, False, False),
    (0.1, False, False, True),
])
def test_check_positive(value, integer, allow_zero, ok):
    if ok:
        check_positive("n", value, integer=integer, allow_zero=allow_zero)
    else:
        with pytest.raises(ValueError, match="n must be"):
            check_positive("n", value, integer=integer, allow_zero=allow_zero)


def test_atomic_save_leaves_no_temporary_file(tmp_path):
    atomic_save({"a": torch.ones(2)}, tmp_path / "sub" / "x.pt")
    assert [p.name for p in (tmp_path / "sub").iterdir()] == ["x.pt"]
    assert torch.equal(torch.load(tmp_path / "sub" / "x.pt", weights_only=True)["a"], torch.ones(2))



def test_seeded_seeds_every_generator_and_restores_them_also_after_an_error():
    import random

    import numpy as np

    from aslib._utils import seeded

    def draws():
        return random.random(), float(np.random.rand()), float(torch.rand(()))

    random.seed(5), np.random.seed(5), torch.manual_seed(5)
    expected_after = draws()
    random.seed(5), np.random.seed(5), torch.manual_seed(5)
    with seeded(3):
        first = draws()
    with pytest.raises(KeyError):
        with seeded(3):
            assert draws() == first  # the same seed gives the same draws
            raise KeyError("a failure inside the block")
    assert draws() == expected_after  # the caller's generators continue as if nothing had run


def test_atomic_write_json_replaces_the_file_whole_and_leaves_no_temporary(tmp_path):
    import json

    from aslib._utils import atomic_write_json

    path = tmp_path / "sub" / "manifest.json"
    atomic_write_json({"models": [1]}, path, indent=2)
    atomic_write_json({"models": [1, 2]}, path, indent=2)
    assert path.read_text() == json.dumps({"models": [1, 2]}, indent=2) + "\n"
    assert [p.name for p in path.parent.iterdir()] == ["manifest.json"]
