"""Checks of the network-counting exercises of notebook 02: parameters and MACs of a VGG."""
from __future__ import annotations

from collections.abc import Callable


from aslib.contracts import contract
from aslib.nets.counts import complexity
from aslib.nets.models import VGG, VGG_CONFIGS, count_parameters
from aslib.teach.exercises.grading import ExerciseError, exercise, expect

__all__ = ["check_vgg_macs", "check_vgg_parameter_count"]


def _vgg_config(depth: int, width: float) -> list[int | str]:
    """The kit's VGG configuration list at ``width`` (channels rounded as :class:`aslib.nets.models.VGG` does)."""
    return [c if c == "M" else max(1, int(round(c * width))) for c in VGG_CONFIGS[depth]]


@contract
@exercise(VGG, count_parameters)
def check_vgg_parameter_count(solution: Callable) -> None:
    """``solution(config, in_channels, num_classes, batch_norm)`` returns the number of parameters of the kit's
    CIFAR VGG: 3x3 convolutions with bias (channels from ``config``, ``"M"`` a max-pool), batch norm after
    each when ``batch_norm``, and one ``Linear(last channels, num_classes)``."""
    for depth, width, batch_norm in ((11, 1.0, True), (19, 1.0, True), (19, 0.25, True), (13, 0.5, False)):
        config = _vgg_config(depth, width)
        expected = count_parameters(VGG(depth, 10, batch_norm, width))
        got = solution(list(config), 3, 10, batch_norm)
        expect(isinstance(got, int), f"return an int (a count), got {type(got).__name__}")
        convs = [c for c in config if c != "M"]
        if got != expected:
            diff = expected - got
            hint = ""
            if batch_norm and diff == 2 * sum(convs):
                hint = ": batch norm adds 2 parameters per channel (a scale and a shift)"
            elif diff == sum(convs):
                hint = ": every convolution has a bias, one per output channel"
            elif diff == convs[-1] * 10 + 10:
                hint = ": the classifier is Linear(last channels, num_classes), with a bias"
            raise ExerciseError(f"VGG-{depth} at width {width} (batch norm {batch_norm}): you count {got:,}, the "
                                f"network has {expected:,} ({diff:+,}){hint}")


@contract
@exercise(VGG, complexity)
def check_vgg_macs(solution: Callable) -> None:
    """``solution(config, in_channels, num_classes)`` returns the multiply-accumulates (MACs) of one forward of a
    ``32 x 32`` image through the kit's CIFAR VGG (the network of :func:`check_vgg_parameter_count`): a 3x3
    convolution with padding 1 costs ``C_in * 9 * C_out * H * W``, a max-pool halves ``H`` and ``W``, the
    classifier ``Linear(C, K)`` costs ``C * K``; biases, batch norm, ReLU and pooling are free (the rule of
    :func:`aslib.nets.counts.complexity`, which measures it with ``torch.utils.flop_counter``)."""
    for depth, width in ((11, 1.0), (16, 0.5), (19, 0.25)):
        config = _vgg_config(depth, width)
        expected = complexity(VGG(depth, 10, True, width), (3, 32, 32))["macs"]
        got = solution(list(config), 3, 10)
        expect(isinstance(got, int), f"return an int (a count), got {type(got).__name__}")
        if got == expected:
            continue
        convs = [c for c in config if c != "M"]
        hint = ""
        if expected - got == convs[-1] * 10:
            hint = ": add the classifier, Linear(last channels, 10), which costs its in * out weights"
        elif got > 4 * expected:
            hint = ": after each max-pool the image is half as high and half as wide (32, 16, 8, 4, 2, 1)"
        elif got > expected:
            hint = ": biases, batch norm and activations are not counted (only the products of the weights)"
        raise ExerciseError(f"VGG-{depth} at width {width}: you count {got:,} MACs, the network needs {expected:,} "
                            f"({got - expected:+,}){hint}")
