"""Per-sample gradients at named layers and at the input."""
import pytest
import torch

from aslib.gradients import input_gradients, layer_gradients, resolve_layers
from aslib.models import build


def test_layer_gradients_match_per_sample_autograd():
    torch.manual_seed(0)
    model = build("lenet").eval()
    x, y = torch.randn(6, 1, 28, 28), torch.randint(0, 10, (6,))
    batch = next(layer_gradients(model, ["conv2", "fc1", "input"], (x, y), batch_size=6))
    for i in range(6):
        xi = x[i:i + 1].clone().requires_grad_()
        loss = torch.nn.functional.cross_entropy(model(xi), y[i:i + 1])
        (gx,) = torch.autograd.grad(loss, xi)
        assert torch.allclose(batch["input"][i], gx.flatten(), atol=1e-6)
    assert batch["conv2"].shape == (6, 800) and batch["fc1"].shape == (6, 500)


def test_layer_gradients_restore_model_and_report_errors():
    model = build("vgg11_bn", width=0.125).train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x, y = torch.randn(8, 3, 32, 32), torch.randint(0, 10, (8,))
    list(layer_gradients(model, ["conv2"], (x, y), train_mode=True))
    assert model.training and all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert not model.conv2[0]._forward_hooks
    with pytest.raises(ValueError, match="unknown layer.*conv1"):
        resolve_layers(model, ["conv99"])
    with pytest.raises(ValueError, match="labels must be in"):
        list(layer_gradients(model, ["conv1"], (x, y + 10)))
    assert model.training and not model.conv1._forward_hooks
    with pytest.raises(ValueError, match="no data"):
        list(layer_gradients(model, ["conv1"], []))
    bad = build("vgg11_bn", width=0.125).eval()
    with torch.no_grad():
        bad.fc.weight.fill_(float("nan"))
    with pytest.raises(FloatingPointError, match="NaN"):
        list(layer_gradients(bad, ["conv1"], (x, y)))


def test_a_suspended_generator_leaves_the_model_as_it_was_passed_in():
    """Between two batches the caller holds the model: mode (every submodule), hooks and batch-norm
    statistics are its own, and the gradients are those of a fresh call."""
    model = build("vgg11_bn", width=0.125).train()
    model.conv1[1].eval()  # a frozen batch norm inside a train-mode model
    before = {k: v.clone() for k, v in model.state_dict().items()}
    modes = {name: m.training for name, m in model.named_modules()}
    x, y = torch.randn(8, 3, 32, 32), torch.randint(0, 10, (8,))
    stream = layer_gradients(model, ["conv2"], (x, y), train_mode=True, batch_size=4)
    first = next(stream)
    assert {name: m.training for name, m in model.named_modules()} == modes
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert not model.conv2._forward_hooks
    second = next(stream)
    fresh = list(layer_gradients(model, ["conv2"], (x, y), train_mode=True, batch_size=4))
    assert torch.equal(first["conv2"], fresh[0]["conv2"]) and torch.equal(second["conv2"], fresh[1]["conv2"])


def test_input_gradients_are_the_input_layer_case():
    torch.manual_seed(1)
    model = build("lenet").eval()
    x, y = torch.randn(7, 1, 28, 28), torch.randint(0, 10, (7,))
    rows = input_gradients(model, x, y, batch_size=3)
    reference = torch.cat([g["input"] for g in layer_gradients(model, ["input"], (x, y), batch_size=7)])
    assert rows.shape == (7, 784)
    assert torch.allclose(rows, reference, atol=1e-7)
