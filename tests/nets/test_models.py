import pytest
import torch

from aslib.nets.models import build, count_parameters, cut_points


def test_closed_form_parameter_counts():
    assert count_parameters(build("vgg19_bn")) == 20_040_522
    assert count_parameters(build("resnet110")) == 1_727_962
    assert count_parameters(build("resnet20")) == 269_722
    lenet = 20 * 25 + 20 + 50 * 20 * 25 + 50 + 800 * 500 + 500 + 500 * 10 + 10
    assert count_parameters(build("lenet")) == lenet
    assert count_parameters(build("vgg19_bn", num_classes=100)) == 20_086_692


@pytest.mark.parametrize("arch", ["vgg11", "vgg13_bn", "vgg16_bn", "vgg19_bn", "resnet20", "resnet32", "resnet44",
                                  "resnet56"])
def test_forward_shapes(arch):
    model = build(arch, width=0.25).eval()
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)


def test_cut_points_and_neuron_counts():
    vgg = build("vgg19_bn")
    points = cut_points(vgg)
    assert points[:3] == ["conv1", "conv2", "conv3"] and points[-1] == "flatten" and len(points) == 17
    x = torch.randn(1, 3, 32, 32)
    k = [n for n, _ in vgg.named_children()].index("conv5") + 1
    assert vgg[:k](x).numel() == 256 * 8 * 8
    k8 = [n for n, _ in vgg.named_children()].index("conv8") + 1
    assert vgg[:k8](x).numel() == 256 * 4 * 4
    resnet = build("resnet110")
    assert "block54" in cut_points(resnet) and "block55" not in cut_points(resnet)
    assert cut_points(build("lenet")) == ["conv1", "conv2", "flatten", "fc1"]
    assert build("lenet")(torch.randn(3, 1, 28, 28)).shape == (3, 10)


def test_unknown_names_raise():
    with pytest.raises(ValueError, match="unknown architecture"):
        build("alexnet")
    with pytest.raises(ValueError, match="6n\\+2"):
        build("resnet21")
