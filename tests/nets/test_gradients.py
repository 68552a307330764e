"""Per-sample gradients at named layers and at the input."""
import pytest
import torch

from aslib.nets.gradients import input_gradients, layer_gradients, resolve_layers
from aslib.nets.models import build


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


def test_an_in_place_operation_after_the_layer_leaves_its_gradients_and_activations_alone():
    from torch import nn
    from torchvision.models import resnet18

    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 5), nn.ReLU(inplace=True), nn.Linear(5, 3))
    x, y = torch.randn(8, 4), torch.randint(0, 3, (8,))
    got = next(layer_gradients(net, ["0"], (x, y), return_activations=True))
    # closed form of the loss gradient at the Linear's own output (before the ReLU that overwrites it)
    pre = net[0](x).detach()
    dlogits = torch.softmax(net[2](pre.relu()), 1) - torch.nn.functional.one_hot(y, 3)
    expected = (dlogits @ net[2].weight) * (pre > 0)
    assert torch.allclose(got["0"], expected.detach(), atol=1e-6)
    assert torch.equal(got["0:activation"], pre)  # negative values kept: the output before the ReLU
    # torchvision's ResNet-18: bn1 is followed by ReLU(inplace=True); the same net without in-place ReLUs agrees
    model = resnet18(num_classes=4).eval()
    plain = resnet18(num_classes=4).eval()
    plain.load_state_dict(model.state_dict())
    for module in plain.modules():
        if isinstance(module, nn.ReLU):
            module.inplace = False
    images, labels = torch.randn(3, 3, 32, 32), torch.tensor([0, 1, 3])
    a, b = (next(layer_gradients(m, ["bn1", "layer1.0.bn2"], (images, labels), return_activations=True))
            for m in (model, plain))
    for key in a:
        assert torch.allclose(a[key], b[key], atol=1e-6, rtol=1e-5), key
    assert (a["bn1:activation"] < 0).any()
