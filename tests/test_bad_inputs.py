"""Bad input at every public boundary gets a clear error raised by aslib itself.

One table per category of bad input (names, ranges, shapes and lengths, dtypes and finiteness,
files); every row is a plausible mistake a user makes. A row passes when the call raises one of
aslib's error types, from a line of aslib (not from deep inside torch or numpy), with a message
that names what was wrong. ``test_every_table_is_counted`` prints the number of rows, which the
validation issue asks for.
"""
from __future__ import annotations

import math
import traceback
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

import aslib
from aslib import attacks, data, distributed, studies
from aslib.fitting import finetuning, recipes, training
from aslib.linalg import frequent_directions, pce, stats, subspace
from aslib.nets import asnet, counts, gradients, inference, layer_analysis, models
from aslib.store import reproduction, vectors, zoo
from aslib.studies import tables
from aslib.teach import presets, recording, widgets
from aslib.tools import report

ASLIB_DIR = Path(aslib.__file__).resolve().parent
CLEAR = (ValueError, TypeError, LookupError, FileNotFoundError, RuntimeError)
CLAIM = "asnet_accuracy_drop"


def problem():
    """A linear classifier on 4 features with 3 classes, 6 samples."""
    torch.manual_seed(0)
    return nn.Linear(4, 3), torch.randn(6, 4), torch.tensor([0, 1, 2, 0, 1, 2])


def lenet():
    """A LeNet on 6 random 28x28 images with 10 classes."""
    torch.manual_seed(0)
    return models.build("lenet").eval(), torch.rand(6, 1, 28, 28), torch.tensor([0, 1, 2, 3, 4, 5])


def assert_clear(call, message: str) -> None:
    """``call()`` raises one of aslib's error types from a line of aslib, matching ``message`` (which a
    message of torch's own does not: a RuntimeError of a torch builtin also surfaces on aslib's line)."""
    with pytest.raises(CLEAR, match=message) as info:
        call()
    frames = traceback.extract_tb(info.value.__traceback__)
    origin = Path(frames[-1].filename).resolve()
    assert ASLIB_DIR in origin.parents, f"raised from {origin}:{frames[-1].lineno}, not by aslib: {info.value!r}"


def tiny_dataset(n: int = 8) -> data.ImageDataset:
    return data.ImageDataset(torch.zeros(n, 1, 28, 28, dtype=torch.uint8), torch.arange(n) % 10, mean=(0.5,),
                             std=(0.5,), classes=[str(i) for i in range(10)], name="fashion_mnist", split="train",
                             source="test")


NAMES = [
    ("absent GPU for a shipped model", lambda: zoo.pretrained("lenet_fashion_mnist", "cuda:99"),
     r"'cuda:99' is not on this machine"),
    ("absent GPU for training", lambda: training.train("smoke_lenet_fashion_mnist", "unused.pt", device="cuda:99"),
     r"not on this machine"),
    ("not a device", lambda: zoo.pretrained("lenet_fashion_mnist", "gpu"), r"'gpu' is not a device"),
    ("fine-tuning batches", lambda: finetuning.FinetuneConfig(max_batches=0), r"max_batches"),
    ("dataset", lambda: data.load("cifar11"), r"unknown dataset 'cifar11'.*did you mean 'cifar10'"),
    ("split", lambda: data.load("cifar10", "validation"),
     r"split must be one of 'train', 'test', got str 'validation'"),
    ("dataset in tensors", lambda: data.tensors("fasion_mnist"), r"did you mean 'fashion_mnist'"),
    ("dataset of pixel_scale", lambda: data.pixel_scale("svhn"), r"unknown dataset 'svhn'"),
    ("dataset of denormalize", lambda: data.denormalize(torch.zeros(1, 3, 2, 2), "cifar"), r"unknown dataset"),
    ("dataset of class_names", lambda: data.class_names("mnits"), r"did you mean 'mnist'"),
    ("dataset of available", lambda: data.available("cifar"), r"unknown dataset 'cifar'"),
    ("architecture", lambda: models.build("vgg19bn"), r"unknown architecture 'vgg19bn'.*did you mean 'vgg19_bn'"),
    ("architecture option", lambda: models.build("lenet", widht=2), r"'lenet' takes no option 'widht'"),
    ("zoo model", lambda: zoo.pretrained("vgg19_bn_cifar10"),
     r"unknown shipped model 'vgg19_bn_cifar10'; did you mean"),
    ("zoo entry", lambda: zoo.entry("lenet_mnist"), r"unknown shipped model 'lenet_mnist'"),
    ("torchvision model", lambda: zoo.resolve("torchvision:resnet999", dataset="cifar10"),
     r"'resnet999' is not a torchvision model"),
    ("training recipe", lambda: training.train("lenet_fashion_mnst", "unused.pt"),
     r"did you mean 'lenet_fashion_mnist'"),
    ("layer", lambda: gradients.resolve_layers(models.build("lenet"), "conv3"), r"unknown layer 'conv3'; did you mean"),
    ("layer of split_model", lambda: asnet.split_model(models.build("lenet"), "fc9"), r"unknown cut point 'fc9'"),
    ("scalar function", lambda: gradients.per_sample_function("logits"), r"did you mean 'logit'"),
    ("subspace method", lambda: subspace.ActiveSubspace("frequent-directions"), r"did you mean 'frequent_directions'"),
    ("count convention", lambda: subspace.count_active(torch.ones(3), 3.0, convention="author"), r"convention"),
    ("top_directions solver", lambda: subspace.top_directions(torch.randn(5, 3), 2, solver="svd"), r"solver"),
    ("fit_layers layer missing",
     lambda: layer_analysis.fit_layers({"fc1": subspace.ActiveSubspace()}, {"fc2": torch.ones(2, 3)}),
     r"missing \['fc1'\], unexpected \['fc2'\]; pass the same layer names"),
    ("attack method", lambda: attacks.craft("uap2", *problem(), 1.0),
     r"unknown attack method 'uap2'; did you mean 'uap'"),
    ("attack norm", lambda: attacks.project(torch.ones(3), 1.0, norm="l3"),
     r"norm must be one of 'l2', 'linf', got str 'l3'"),
    ("attack norm of random_perturbation", lambda: attacks.random_perturbation((3,), 1.0, norm="inf"), r"norm"),
    ("dominant direction solver", lambda: attacks.dominant_direction(torch.randn(5, 3), solver="svd"), r"solver"),
    ("dataset of valid_bounds", lambda: attacks.valid_bounds("cifar"), r"unknown dataset 'cifar'"),
    ("dataset of perturbation_norms", lambda: attacks.perturbation_norms(torch.ones(1, 4, 4), "mnist10"),
     r"unknown dataset"),
    ("fine-tuning schedule", lambda: finetuning.FinetuneConfig(schedule="cosin"), r"schedule"),
    ("fine-tuning precision", lambda: finetuning.FinetuneConfig(precision="fp8"), r"precision"),
    ("fine-tuning optimizer", lambda: finetuning.FinetuneConfig(sparse_optimizer="adamw"), r"sparse_optimizer"),
    ("fine-tuning loss", lambda: finetuning.FinetuneConfig(sparse_loss="kl"), r"sparse_loss"),
    ("checkpoint phase", lambda: finetuning.phase_checkpoint("run/finetune.pt", "distil"),
     r"phase must be one of 'distill', 'sparse', got str 'distil'; did you mean 'distill'"),
    ("shipped vectors model", lambda: vectors.shipped_vectors("vgg19_bn_w025_cifar", "as", 10.0),
     r"did you mean 'vgg19_bn_w025_cifar10'"),
    ("shipped vectors method", lambda: vectors.shipped_vectors("lenet_fashion_mnist", "asx", 10.0), r"method"),
    ("shipped vectors xi", lambda: vectors.shipped_vectors("lenet_fashion_mnist", "as", 11.0),
     r"no shipped 'as' vectors .* at xi=11"),
    ("vector records model", lambda: vectors.records("lenet_mnist"), r"did you mean 'lenet_fashion_mnist'"),
    ("preset", lambda: presets.choose("smok", smoke={"a": 1}, default={"a": 2}), r"did you mean 'smoke'"),
    ("preset override", lambda: presets.choose("smoke", {"b": 1}, smoke={"a": 1}, default={"a": 2}), r"'b'"),
    ("overrides as a string (papermill -p)", lambda: presets.choose("smoke", '{"a": 3}', smoke={"a": 1}),
     r"overrides must be a mapping of parameter names to values or None, got str .*papermill -y"),
    ("preset not a name", lambda: presets.choose(["smoke"], smoke={"a": 1}), r"preset must be a string, got list"),
    ("report preset", lambda: report.run_report("/tmp/unused-report", preset="full", notebooks=[]), r"preset"),
    ("table column", lambda: tables.format_table([{"a": 1}], ["b"]), r"'b'"),
    ("table group key", lambda: tables.aggregate([{"method": "as", "xi": 1.0, "v": 0.1}], by=("mthd",)), r"'mthd'"),
    ("pivot value", lambda: tables.pivot([{"target": "a", "source": "b", "v": 1.0}], value="w"), r"'w'"),
    ("sweep method", lambda: studies.noise_sweep(*problem()[:1], problem()[1:], problem()[1:], xis=[1.0],
                                                  n_samples=3, methods=["deepfool"],
                                                  settings=studies.SweepSettings(repeats=1)), r"deepfool"),
]

RANGES = [
    ("batch size", lambda: data.BatchLoader(tiny_dataset(), batch_size=0), r"batch_size"),
    ("loader indices", lambda: data.BatchLoader(tiny_dataset(), indices=torch.tensor([0, 99])), r"indices"),
    ("subset size", lambda: data.tensors("fashion_mnist", n=0), r"n must be a whole number >= 1"),
    ("subset class", lambda: data.tensors("fashion_mnist", n=3, classes=[10]), r"class"),
    ("crop draws", lambda: data.crop_flip_draws(0, torch.Generator()), r"batch_size"),
    ("crop padding", lambda: data.augment_batch(torch.zeros(2, 1, 4, 4), torch.Generator(), padding=-1), r"padding"),
    ("shard index", lambda: distributed.check_shard((2, 2)), r"shard"),
    ("shard count", lambda: distributed.check_shard((0, 0)), r"shard"),
    ("resnet depth", lambda: models.ResNet(depth=21), r"6n\+2"),
    ("vgg depth", lambda: models.build("vgg19_bn", depth=20), r"depth"),
    ("lenet classes", lambda: models.build("lenet", num_classes=0), r"num_classes"),
    ("resnet width", lambda: models.build("resnet20", width=-1), r"width"),
    ("evaluate batch", lambda: inference.evaluate(problem()[0], problem()[1:], batch_size=0), r"batch_size"),
    ("evaluate topk", lambda: inference.evaluate(problem()[0], problem()[1:], topk=(5,)), r"topk"),
    ("predict batch", lambda: inference.predict_logits(problem()[0], problem()[1], batch_size=-2), r"batch_size"),
    ("quick_fit images", lambda: training.quick_fit(models.build("lenet"), n_images=0), r"n_images"),
    ("recipe epochs", lambda: recipes.TrainingRecipe("lenet", "fashion_mnist", epochs=0), r"epochs"),
    ("recipe lr", lambda: recipes.TrainingRecipe("lenet", "fashion_mnist", lr=-0.1), r"lr"),
    ("gradient batch", lambda: next(gradients.layer_gradients(*lenet()[:1], "conv1", lenet()[1:], batch_size=0)),
     r"batch_size"),
    ("gradient max_batches", lambda: next(gradients.layer_gradients(*lenet()[:1], "conv1", lenet()[1:],
                                                                    max_batches=0)), r"max_batches"),
    ("gradient labels", lambda: gradients.input_gradients(*problem()[:2], torch.tensor([0, 1, 2, 0, 1, 7])),
     r"labels"),
    ("subspace rank", lambda: subspace.ActiveSubspace("randomized", rank=0), r"rank"),
    ("subspace sketch", lambda: subspace.ActiveSubspace("frequent_directions", sketch_size=0), r"sketch_size"),
    ("subspace power iterations", lambda: subspace.ActiveSubspace("randomized", rank=2, power_iters=-1),
     r"power_iters"),
    ("subspace oversampling", lambda: subspace.ActiveSubspace("randomized", rank=2, oversample=-1), r"oversample"),
    ("delta above 1", lambda: subspace.ActiveSubspace().fit(torch.randn(9, 3)).n_active(1.5), r"delta"),
    ("delta zero", lambda: subspace.count_active(torch.ones(3), 3.0, delta=0.0), r"delta"),
    ("energy total", lambda: subspace.relative_energy(torch.ones(3), -1.0), r"total"),
    ("top_directions k", lambda: subspace.top_directions(torch.randn(5, 3), 0), r"k"),
    ("sketch ell", lambda: frequent_directions.shrink(torch.randn(4, 3), 0), r"ell"),
    ("bound k", lambda: frequent_directions.frequent_directions_bound(torch.randn(9, 5), 2, 3), r"k"),
    ("hermite dim", lambda: pce.HermiteBasis(0, 2), r"dim"),
    ("hermite degree", lambda: pce.HermiteBasis(2, -1), r"degree"),
    ("pce terms", lambda: pce.num_terms(2, -1), r"degree"),
    ("ridge", lambda: pce.NormalEquations(2, 1).solve(ridge=-1.0), r"ridge"),
    ("normal equation folds", lambda: pce.NormalEquations(3, 2, folds=0), r"folds"),
    ("normal equation terms", lambda: pce.NormalEquations(0, 2), r"terms"),
    ("asnet rank", lambda: asnet.build_asnet(*lenet()[:1], "conv1", lenet()[1:], rank=0), r"rank"),
    ("asnet degree", lambda: asnet.build_asnet(*lenet()[:1], "conv1", lenet()[1:], rank=2, degree=-1), r"degree"),
    ("asnet ridge", lambda: asnet.build_asnet(*lenet()[:1], "conv1", lenet()[1:], rank=2, ridge_per_sample=-1.0),
     r"ridge"),
    ("kd_epochs", lambda: finetuning.FinetuneConfig(kd_epochs=-1), r"kd_epochs"),
    ("kd alpha", lambda: finetuning.FinetuneConfig(alpha=2.0), r"alpha"),
    ("kd temperature", lambda: finetuning.FinetuneConfig(temperature=0.0), r"temperature"),
    ("fine-tuning batch", lambda: finetuning.FinetuneConfig(batch_size=0), r"batch_size"),
    ("l1 weight", lambda: finetuning.FinetuneConfig(l1=-1.0), r"l1"),
    ("l1 growth", lambda: finetuning.FinetuneConfig(l1_growth=0.0), r"l1_growth"),
    ("swa epochs", lambda: finetuning.FinetuneConfig(sparse_epochs=2, swa_epochs=3), r"swa_epochs"),
    ("threshold nan", lambda: finetuning.soft_threshold_(torch.ones(3), math.nan), r"threshold"),
    ("attack xi zero", lambda: attacks.as_attack(*problem(), 0.0), r"xi"),
    ("attack xi nan", lambda: attacks.as_attack(*problem(), math.nan), r"xi"),
    ("attack iterations", lambda: attacks.as_attack(*problem(), 1.0, max_iter=0), r"max_iter"),
    ("attack patience", lambda: attacks.as_attack(*problem(), 1.0, patience=0), r"patience"),
    ("attack batch", lambda: attacks.as_attack(*problem(), 1.0, batch_size=0), r"batch_size"),
    ("uap target", lambda: attacks.uap(*problem(), 1.0, target_fooling=1.5), r"target_fooling"),
    ("uap passes", lambda: attacks.uap(*problem(), 1.0, max_passes=0), r"max_passes"),
    ("uap minibatch", lambda: attacks.uap(*problem(), 1.0, minibatch=0), r"minibatch"),
    ("sgd-uap epochs", lambda: attacks.sgd_uap(*problem(), 1.0, epochs=0), r"epochs"),
    ("sgd-uap step", lambda: attacks.sgd_uap(*problem(), 1.0, step_size=-1.0), r"step_size"),
    ("random xi", lambda: attacks.random_attack(*problem(), -1.0), r"xi"),
    ("random perturbation xi", lambda: attacks.random_perturbation((3,), math.inf), r"xi"),
    ("deepfool candidates", lambda: attacks.deepfool(problem()[0], problem()[1], num_candidates=1),
     r"num_candidates"),
    ("deepfool overshoot", lambda: attacks.deepfool(problem()[0], problem()[1], overshoot=-0.5), r"overshoot"),
    ("deepfool iterations", lambda: attacks.deepfool(problem()[0], problem()[1], max_iter=0), r"max_iter"),
    ("attack labels", lambda: attacks.as_attack(*problem()[:2], torch.tensor([0, 1, 2, 0, 1, 9]), 1.0), r"labels"),
    ("confidence level", lambda: stats.estimate([0.1, 0.2], level=1.5), r"level"),
    ("proportion successes", lambda: stats.proportion_interval(5, 3), r"successes"),
    ("proportion n", lambda: stats.proportion_interval(0, 0), r"n"),
    ("proportion of an accuracy", lambda: stats.proportion_interval(0.8, 100), r"successes is a count"),
    ("channels of denormalize", lambda: data.denormalize(torch.zeros(2, 1, 4, 4), "cifar10"), r"3 channel"),
    ("channels of perturbation_norms", lambda: attacks.perturbation_norms(torch.zeros(1, 4, 4), "cifar10"),
     r"3 channel"),
    ("NaN eigenvalues", lambda: subspace.count_active(torch.tensor([1.0, math.nan]), 3.0), r"NaN"),
    ("bootstrap rank", lambda: subspace.bootstrap(subspace.ActiveSubspace("exact").fit(torch.randn(9, 3)), n_boot=2,
                                                  rank=0),
     r"bootstrap: rank must be a whole number >= 1 or None, got int 0"),
    ("bootstrap rank too large", lambda: subspace.bootstrap(subspace.ActiveSubspace("exact").fit(torch.randn(9, 3)),
                                                            n_boot=2, rank=4), r"rank must be an int in 1..3"),
    ("proportion value", lambda: stats.difference_of_proportions(1.2, 0.5, 10, 10), r"p1"),
    ("t quantile p", lambda: stats.t_quantile(1.5, 3), r"p"),
    ("t degrees of freedom", lambda: stats.t_quantile(0.9, 0), r"df must be a finite number > 0"),
    ("normal quantile p", lambda: stats.normal_quantile(0.0), r"p"),
    ("incomplete beta x", lambda: stats.incomplete_beta(1.0, 1.0, 2.0), r"x"),
    ("sweep repeats", lambda: studies.SweepSettings(repeats=0), r"repeats"),
    ("sweep xis", lambda: studies.noise_sweep(problem()[0], problem()[1:], problem()[1:], xis=[], n_samples=3),
     r"xis"),
    ("sweep samples", lambda: studies.noise_sweep(problem()[0], problem()[1:], problem()[1:], xis=[1.0], n_samples=0),
     r"n_samples"),
    ("sample sweep sizes", lambda: studies.sample_sweep(problem()[0], problem()[1:], problem()[1:], ns=[0]),
     r"ns must be a non-empty list of whole numbers >= 1"),
    ("bootstrap count", lambda: studies.stability_table({"a": subspace.ActiveSubspace().fit(torch.randn(9, 3))},
                                                         n_boot=0), r"n_boot"),
    ("claim n", lambda: recording.record_claim("nb", CLAIM, measured=0.5, preset="smoke", n=0), r"n"),
    ("claim interval", lambda: recording.record_claim("nb", CLAIM, measured=0.5, preset="smoke", ci95=(0.6, 0.4)),
     r"ci95"),
    ("spectrum browser top", lambda: widgets.spectrum_browser({"a": subspace.ActiveSubspace().fit(torch.randn(9, 3))},
                                                              top=0, interactive=False), r"top"),
    ("as step_max NaN", lambda: attacks.as_attack(*problem(), 1.0, step_max=math.nan), r"step_max"),
    ("as step_max negative", lambda: attacks.as_attack(*problem(), 1.0, step_max=-1.0), r"step_max"),
    ("uap deepfool iterations", lambda: attacks.uap(*problem(), 1.0, df_max_iter=0), r"max_iter"),
    ("uap overshoot", lambda: attacks.uap(*problem(), 1.0, overshoot=-1), r"overshoot"),
    ("project negative xi", lambda: attacks.project(torch.ones(3), -1.0), r"xi"),
    ("project infinite xi", lambda: attacks.project(torch.ones(3), math.inf), r"xi"),
    ("distillation temperature", lambda: finetuning.distillation_loss(torch.zeros(2, 3), torch.zeros(2, 3),
                                                                      torch.zeros(2, dtype=torch.long), alpha=0.5,
                                                                      temperature=0.0), r"temperature"),
    ("distillation alpha", lambda: finetuning.distillation_loss(torch.zeros(2, 3), torch.zeros(2, 3),
                                                                torch.zeros(2, dtype=torch.long), alpha=1.5,
                                                                temperature=2.0), r"alpha"),
    ("negative threshold", lambda: finetuning.soft_threshold_(torch.ones(3), -1.0), r"threshold"),
    ("resnet width zero", lambda: models.build("resnet20", width=0), r"width"),
    ("resnet width too small", lambda: models.build("resnet20", width=0.01), r"width"),
    ("one class", lambda: models.build("vgg19_bn", num_classes=1), r"num_classes"),
    ("no input channels", lambda: models.build("lenet", in_channels=0), r"in_channels"),
    ("train on no batches", lambda: training.train("lenet_fashion_mnist", "unused.pt", max_batches=0), r"max_batches"),
    ("subset of none", lambda: data.subset_indices(problem()[2], 0), r"n must be a whole number >= 1"),
    ("fractional subset", lambda: data.subset_indices(problem()[2], 2.5), r"got float 2.5"),
    ("subset of an absent class", lambda: data.subset_indices(problem()[2], 5, [12]),
     r"no samples of class\(es\) \[12\]"),
    ("subset larger than the class", lambda: data.subset_indices(problem()[2], 100, [1]), r"only 2 match"),
]

SHAPES = [
    ("pairs of unequal length", lambda: list(data.batches((torch.zeros(4, 2), torch.zeros(3)))), r"4 .* 3"),
    ("evaluate lengths", lambda: inference.evaluate(problem()[0], (problem()[1], problem()[2][:3])), r"6 .* 3"),
    ("gradient lengths", lambda: gradients.input_gradients(*problem()[:2], problem()[2][:4]), r"\(4,\).*b=6"),
    ("images without batch axis", lambda: data.augment_batch(torch.zeros(1, 4, 4), torch.Generator()),
     r"shape \(b, c, h, w\), got a float32 tensor of shape \(1, 4, 4\)"),
    ("fit a vector", lambda: subspace.ActiveSubspace().fit(torch.randn(5)), r"\(m, n\)"),
    ("fit nothing", lambda: subspace.ActiveSubspace().fit(torch.zeros(0, 3)), r"no gradient rows"),
    ("partial fit of another width", lambda: subspace.ActiveSubspace("frequent_directions", sketch_size=2)
     .partial_fit(torch.randn(5, 3)).partial_fit(torch.randn(5, 4)), r"4 columns but this estimator holds 3"),
    ("spectrum before fit", lambda: subspace.ActiveSubspace().eigenvalues, r"no data yet: call fit"),
    ("distance of unequal spaces", lambda: subspace.subspace_distance(torch.randn(5, 2), torch.randn(6, 2)),
     r"b must be a floating-point tensor of shape \(n, r\), got a float32 tensor of shape \(6, 2\); .*n=5, r=2"),
    ("top_directions too many", lambda: subspace.top_directions(torch.randn(5, 3), 4), r"k"),
    ("hermite input width", lambda: pce.HermiteBasis(2, 2)(torch.randn(4, 3)), r"\(B, 2\), got \(4, 3\)"),
    ("least squares rows", lambda: pce.NormalEquations(2, 1).add(torch.randn(5, 2), torch.randn(4, 1)),
     r"targets must be .* of shape \(b, k\), got a float32 tensor of shape \(4, 1\); .*b=5"),
    ("r2 shapes", lambda: pce.r2_score(torch.randn(5, 2), torch.randn(5, 3)), r"shape"),
    ("normal equation width", lambda: pce.NormalEquations(3, 2).add(torch.randn(5, 4), torch.randn(5, 2)),
     r"\(B, 3\)"),
    ("distillation shapes", lambda: finetuning.distillation_loss(torch.randn(4, 3), torch.randn(4, 5),
                                                             torch.zeros(4, dtype=torch.long), alpha=0.5,
                                                             temperature=2.0), r"shape"),
    ("asnet rank above neurons", lambda: asnet.build_asnet(*lenet()[:1], "conv2", lenet()[1:], rank=801), r"rank"),
    ("attack lengths", lambda: attacks.as_attack(*problem()[:2], problem()[2][:5], 1.0), r"shape \(5,\).*b=6"),
    ("attack ratio vector shape", lambda: attacks.attack_ratio(*problem(), torch.zeros(5)), r"shape"),
    ("fooling rate vector shape", lambda: attacks.fooling_rate(problem()[0], problem()[1], torch.zeros(2, 4)),
     r"shape"),
    ("random perturbation shape", lambda: attacks.random_perturbation((), 1.0), r"shape"),
    ("dominant direction of a vector", lambda: attacks.dominant_direction(torch.randn(5)),
     r"shape \(m, d\), got a float32 tensor of shape \(5,\)"),
    ("paired lengths", lambda: stats.paired_difference([0.1, 0.2, 0.3], [0.1, 0.2]), r"3 .* 2"),
    ("estimate of nothing", lambda: stats.estimate([]), r"at least|empty|no values"),
    ("widget directions", lambda: widgets.noise_slider(*lenet()[:1], torch.rand(1, 28, 28), torch.zeros(3, 32, 32),
                                                       [str(i) for i in range(10)], to_display=lambda t: t),
     r"shape"),
    ("widget classes", lambda: widgets.noise_slider(*lenet()[:1], torch.rand(1, 28, 28), torch.ones(1, 28, 28),
                                                    ["a", "b"], to_display=lambda t: t), r"classes"),
    ("spectrum browser of nothing", lambda: widgets.spectrum_browser({}, interactive=False), r"empty|no "),
    ("complexity input shape", lambda: counts.complexity(models.build("lenet"), (28, 28)), r"input_shape"),
    ("reduction keys", lambda: counts.reduction({"params": 10}, {"macs": 5}), r"params|macs"),
    ("float64 images, float32 vector", lambda: attacks.attack_ratio(problem()[0], problem()[1].double(), problem()[2],
                                                                    torch.zeros(4, dtype=torch.float64)), r"dtype"),
    ("float64 images of a float32 model", lambda: attacks.as_attack(problem()[0], problem()[1].double(), problem()[2],
                                                                     1.0), r"dtype"),
    ("sweep images and labels", lambda: studies.noise_sweep(problem()[0], (torch.randn(40, 4), problem()[2][:5]),
                                                            problem()[1:], xis=[1.0], n_samples=5),
     r"40 images but 5 labels"),
]

VALUES = [
    ("NaN gradients", lambda: subspace.ActiveSubspace().fit(torch.full((5, 3), math.nan)), r"NaN"),
    ("complex gradients", lambda: subspace.ActiveSubspace().fit(torch.randn(5, 3, dtype=torch.cfloat)), r"real"),
    ("NaN features", lambda: pce.NormalEquations(2, 1).add(torch.full((5, 2), math.nan), torch.randn(5, 1)), r"NaN"),
    ("NaN targets", lambda: pce.NormalEquations(2, 1).add(torch.randn(5, 2), torch.full((5, 1), math.inf)), r"NaN"),
    ("NaN images", lambda: inference.evaluate(problem()[0], (torch.full((6, 4), math.nan), problem()[2])), r"NaN"),
    ("float labels", lambda: inference.evaluate(problem()[0], (problem()[1], problem()[2].float() + 0.5)), r"labels"),
    ("NaN attack images", lambda: attacks.as_attack(problem()[0], torch.full((6, 4), math.nan), problem()[2], 1.0),
     r"NaN"),
    ("NaN vector in attack ratio", lambda: attacks.attack_ratio(*problem(), torch.full((4,), math.nan)), r"NaN"),
    ("NaN vector in fooling rate", lambda: attacks.fooling_rate(*problem()[:2], torch.full((4,), math.nan)), r"NaN"),
    ("NaN vector in project", lambda: attacks.project(torch.full((3,), math.nan), 1.0), r"NaN"),
    ("NaN estimate", lambda: stats.estimate([0.1, math.nan]), r"finite"),
    ("NaN claim", lambda: recording.record_claim("nb", CLAIM, measured=math.nan, preset="smoke"), r"measured"),
    ("NaN distillation logits", lambda: finetuning.distillation_loss(torch.full((4, 3), math.nan), torch.randn(4, 3),
                                                                 torch.zeros(4, dtype=torch.long), alpha=0.5,
                                                                 temperature=2.0), r"NaN"),
    ("NaN model weights", lambda: next(gradients.layer_gradients(_nan_lenet(), "conv1", lenet()[1:])), r"NaN"),
    ("string images", lambda: list(data.batches(("abc", torch.zeros(3)))), r"tensor"),
    ("integer images", lambda: inference.evaluate(problem()[0], (problem()[1].round().long(), problem()[2])),
     r"floating|dtype"),
    ("labels out of range",
     lambda: inference.evaluate(problem()[0], (problem()[1], torch.tensor([0, 1, 2, 0, 1, 12]))),
     r"labels must lie in \[0, 2\]"),
]


def _nan_lenet() -> nn.Module:
    model = models.build("lenet")
    with torch.no_grad():
        next(model.parameters()).fill_(math.nan)
    return model


def _files(tmp: Path) -> list[tuple[str, object, str]]:
    bad = tmp / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    archive = tmp / "fashion_mnist.npz"
    archive.write_bytes(b"PK\x03\x04 truncated")
    return [
        ("missing checkpoint", lambda: zoo.load_checkpoint(tmp / "nope.pt"), r"nope.pt"),
        ("checkpoint of garbage", lambda: zoo.load_checkpoint(bad), r"bad.pt is not a readable"),
        ("missing weights for resolve", lambda: zoo.resolve(str(tmp / "nope.pt")), r"nope.pt"),
        ("ship a missing file", lambda: zoo.ship("x", tmp / "nope.pt", {}, "cmd"), r"nope.pt"),
        ("truncated archive", lambda: data.load("fashion_mnist", root=tmp), r"fashion_mnist.npz is not a readable"),
        ("missing data root", lambda: data.load("mnist", root=tmp / "nowhere"), r"nowhere"),
        ("missing notebook", lambda: report.execute([tmp / "nope.ipynb"], tmp / "out"), r"nope.ipynb"),
        ("checkpoint phase of a folder", lambda: finetuning.phase_checkpoint(tmp, "distill"), r"file|folder|\.pt"),
    ]




class TupleOut(nn.Module):
    """A model whose forward returns (logits, features), as many detection or multi-head models do."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        return self.fc(x), x


class DictOut(TupleOut):
    def forward(self, x):
        return {"logits": self.fc(x)}


MODELS = [
    ("no batch axis", lambda: inference.predict_logits(lenet()[0], lenet()[1][0]),
     r"failed on inputs of shape \(1, 28, 28\)"),
    ("another dataset's images", lambda: inference.evaluate(models.build("vgg19_bn", width=0.25), lenet()[1:]),
     r"failed on inputs of shape \(6, 1, 28, 28\).*dataset the model was made for"),
    ("uint8 images in DeepFool", lambda: attacks.deepfool(lenet()[0], (lenet()[1] * 255).to(torch.uint8)),
     r"x must be a floating-point tensor.*got a uint8 tensor"),
    ("float64 perturbation", lambda: attacks.attack_ratio(*lenet(), torch.zeros(1, 28, 28, dtype=torch.float64)),
     r"perturbation is torch.float64"),
    ("tuple output, gradients", lambda: list(gradients.layer_gradients(TupleOut(), ["fc"], problem()[1:])),
     r"returned tuple"),
    ("dict output, evaluate", lambda: inference.evaluate(DictOut(), problem()[1:]), r"returned dict"),
    ("dict output, attack", lambda: attacks.attack_ratio(DictOut(), *problem()[1:], torch.zeros(4)), r"returned dict"),
    ("fractional rank", lambda: subspace.active_variables(subspace.ActiveSubspace("exact").fit(torch.randn(20, 5)),
                                                          torch.randn(3, 5), rank=2.5),
     r"active_variables: rank must be a whole number >= 1 or None, got float 2.5"),
    ("fractional max_iter", lambda: attacks.as_attack(*lenet(), 1.0, max_iter=2.5), r"max_iter must be a whole number >= 1, got float 2.5"),
    ("check without a tolerance", lambda: reproduction.Check("accuracy", 0.9, 0.91, -0.01, "why"), r"tolerance"),
    ("check of a NaN", lambda: reproduction.Check("accuracy", math.nan, 0.91, 0.01, "why"), r"recomputed"),
    ("absent GPU for tensors", lambda: data.tensors("fashion_mnist", "test", n=4, device="cuda:99"),
     r"not on this machine"),
    ("pixels of a list", lambda: data.to_pixels([[0.5]], "cifar10"),
     r"images must be a floating-point tensor of shape \(\*batch, c, h, w\), got list"),
    ("uint8 pixels", lambda: data.from_pixels(torch.zeros(3, 2, 2, dtype=torch.uint8), "cifar10"),
     r"x.float\(\) / 255"),
    ("incomplete record", lambda: vectors.recraft({"model": "lenet_fashion_mnist", "method": "as"}),
     r"lacks the field\(s\) \['id', 'dataset'"),
    ("record not a dict", lambda: vectors.crafting_set(["as"]), r"record must be a dict with string keys, got list"),
    ("classes as an int", lambda: vectors.shipped_vectors("lenet_fashion_mnist", "as", 5.0, classes=1),
     r"list of class indices"),
    ("ragged rows", lambda: tables.aggregate([{"method": "a", "xi": 1, "v": 1.0}, {"method": "a", "xi": 1}]),
     r"row 1 has no column \['v'\]"),
]

TABLES = {"names": NAMES, "ranges": RANGES, "shapes": SHAPES, "values": VALUES, "models": MODELS}


def bn_network():
    """A small VGG in train mode whose first batch norm is frozen in eval mode, 8 CIFAR-shaped images."""
    torch.manual_seed(0)
    model = models.build("vgg11_bn", width=0.125).train()
    model.conv1[1].eval()
    return model, torch.randn(8, 3, 32, 32), torch.randint(0, 10, (8,))


def _tiny_images() -> data.ImageDataset:
    return data.ImageDataset(torch.randint(0, 256, (8, 3, 32, 32), dtype=torch.uint8), torch.arange(8) % 10,
                             mean=(0.5,) * 3, std=(0.25,) * 3, classes=[str(i) for i in range(10)], name="cifar10",
                             split="train", source="test")


STATE = [
    ("evaluate", lambda m, x, y: inference.evaluate(m, (x, y))),
    ("predict_logits", lambda m, x, y: inference.predict_logits(m, x)),
    ("layer_gradients", lambda m, x, y: list(gradients.layer_gradients(m, "conv2", (x, y), train_mode=True))),
    ("input_gradients", lambda m, x, y: gradients.input_gradients(m, x, y)),
    ("layer_subspaces", lambda m, x, y: layer_analysis.layer_subspaces(m, ["conv2"], (x, y), train_mode=True)),
    ("as_attack", lambda m, x, y: attacks.as_attack(m, x, y, 1.0, max_iter=2)),
    ("uap", lambda m, x, y: attacks.uap(m, x, y, 1.0, max_passes=1, df_max_iter=2)),
    ("sgd_uap", lambda m, x, y: attacks.sgd_uap(m, x, y, 1.0, epochs=1)),
    ("deepfool", lambda m, x, y: attacks.deepfool(m, x, max_iter=2)),
    ("attack_ratio", lambda m, x, y: attacks.attack_ratio(m, x, y, torch.ones(3, 32, 32))),
    ("complexity", lambda m, x, y: counts.complexity(m, (3, 32, 32))),
    ("build_asnet", lambda m, x, y: asnet.build_asnet(m, "conv4", (x, y), rank=2, degree=1)),
    ("finetune (the teacher)", lambda m, x, y: finetuning.finetune(
        asnet.build_asnet(models.build("vgg11_bn", width=0.125).eval(), "conv4", (x, y), rank=2, degree=1)[0], m,
        _tiny_images(), (x, y),
        finetuning.FinetuneConfig(kd_epochs=1, sparse_epochs=0, batch_size=4, precision="float32"),
        progress=False, input_shape=(3, 32, 32))),
    ("a rejected call", lambda m, x, y: assert_clear(lambda: attacks.as_attack(m, x, y, 1.0, step_max=math.nan),
                                                     "step_max")),
]


@pytest.mark.parametrize("case, call", STATE, ids=[c[0] for c in STATE])
def test_the_model_passed_in_is_left_as_it_was(case, call):
    """Every submodule's mode, every parameter and buffer (batch-norm statistics) and the hooks."""
    model, x, y = bn_network()
    modes = {name: m.training for name, m in model.named_modules()}
    before = {k: v.clone() for k, v in model.state_dict().items()}
    call(model, x, y)
    assert {name: m.training for name, m in model.named_modules()} == modes
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert not any(m._forward_hooks or m._forward_pre_hooks or m._backward_hooks for m in model.modules())
    assert all(p.grad is None for p in model.parameters())


CLI = [
    (["attack-study", "--model", "lenet_fashion_mnst"], "did you mean 'lenet_fashion_mnist'"),
    (["attack-study", "--model", "lenet_fashion_mnist", "--xis", "-1", "--repeats", "1"],
     "xis must be a non-empty list of finite numbers > 0"),
    (["attack-study", "--model", "lenet_fashion_mnist", "--samples", "0", "--repeats", "1"],
     "n_samples must be a whole number >= 1"),
    (["layer-study", "--model", "lenet_fashion_mnist", "--layers", "conv9"], "unknown layer 'conv9'"),
    (["layer-study", "--model", "lenet_fashion_mnist", "--images", "0"], "n must be a whole number >= 1"),
    (["asnet", "--model", "lenet_fashion_mnist", "--layer", "conv9"], "unknown cut point 'conv9'"),
    (["asnet", "--model", "lenet_fashion_mnist", "--rank", "0"], "rank"),
    (["report", "--preset", "smok", "--out", "unused-report"], "did you mean 'smoke'"),
    (["student", "--nbgrader", "--preset", "smok", "--out", "unused-course"], "did you mean 'smoke'"),
    (["student", "--preset", "smoke", "--out", "unused-student"], "--preset applies to --nbgrader"),
    (["layer-study", "--model", "lenet_fashion_mnist", "--device", "cuda:99"], "is not on this machine"),
    (["layer-study", "--model", "lenet_fashion_mnist", "--device", "gpu"], "is not a device"),
    (["train", "--recipe", "lenet_fashion_mnist", "--device", "cuda:99", "--out", "unused.pt"],
     "is not on this machine"),
    (["asnet", "--model", "lenet_fashion_mnist", "--max-batches", "-1"], "max_batches"),
]


@pytest.mark.parametrize("args, message", CLI, ids=[" ".join(c[0][:3]) for c in CLI])
def test_the_command_line_answers_one_line_and_status_2(args, message, capsys):
    from aslib import cli

    assert cli.main(args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err and "Traceback" not in err, err


def test_a_resumed_run_of_another_configuration_names_the_folder_and_the_way_out(tmp_path, capsys):
    from aslib import cli

    if not data.available("fashion_mnist"):
        pytest.skip("needs Fashion-MNIST")
    args = ["asnet", "--model", "lenet_fashion_mnist", "--layer", "conv2", "--images", "200", "--test-images", "100",
            "--kd-epochs", "1", "--sparse-epochs", "0", "--max-batches", "1", "--batch-size", "50",
            "--out", str(tmp_path / "run")]
    assert cli.main(args + ["--rank", "4"]) == 0
    capsys.readouterr()
    assert cli.main(args + ["--rank", "3"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "holds a run of another configuration" in err and str(tmp_path) in err, err
    assert "--out DIR" in err


ROWS = [(table, *row) for table, rows in TABLES.items() for row in rows]


@pytest.mark.parametrize("table, case, call, message", ROWS, ids=[f"{r[0]}: {r[1]}" for r in ROWS])
def test_bad_input_gets_a_clear_error_from_aslib(table, case, call, message):
    assert_clear(call, message)


def test_files_name_the_file_and_what_was_expected(tmp_path):
    for case, call, message in _files(tmp_path):
        assert_clear(call, message)


def test_checkpoints_that_are_not_the_kits_name_the_file_and_never_suggest_unpickling(tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="bad.pt is not a readable aslib checkpoint") as info:
        zoo.load_checkpoint(bad)
    assert "weights_only=False" not in str(info.value)
    torch.save({"weights": torch.ones(2)}, tmp_path / "other.pt")
    assert_clear(lambda: zoo.load_checkpoint(tmp_path / "other.pt"), "not an aslib checkpoint")
    zoo.save_checkpoint(models.build("lenet"), {"arch": "lenet", "arch_kwargs": {}}, tmp_path / "lenet.pt")
    state = torch.load(tmp_path / "lenet.pt", weights_only=True)
    state["meta"]["arch_kwargs"] = {"num_classes": 5}
    torch.save(state, tmp_path / "mismatch.pt")
    assert_clear(lambda: zoo.load_checkpoint(tmp_path / "mismatch.pt"), "do not fit the architecture 'lenet'")


def test_an_archive_without_a_split_names_the_missing_arrays(tmp_path):
    import numpy as np

    good = tmp_path / "fashion_mnist.npz"
    np.savez(good, x_train=np.zeros((4, 28, 28, 1), np.uint8), y_train=np.zeros(4, np.int64),
             classes=np.array([str(i) for i in range(10)]))
    assert len(data.load("fashion_mnist", "train", root=tmp_path)) == 4
    assert_clear(lambda: data.load("fashion_mnist", "test", root=tmp_path),
                 r"lacks the arrays \['x_test or x_test_jpeg', 'y_test'\]")


def test_every_table_is_counted(tmp_path, capsys):
    tried = {name: len(rows) for name, rows in TABLES.items()} | {
        "files": len(_files(tmp_path)), "state": len(STATE), "cli": len(CLI)}
    with capsys.disabled():
        print(f"\nbad inputs tried: {sum(tried.values())} ({tried})")
    assert min(tried.values()) >= 8


bad_reals = st.one_of(st.floats(max_value=0.0), st.just(math.nan), st.just(math.inf), st.just(-math.inf))


@settings(max_examples=40, deadline=None)
@given(xi=bad_reals)
def test_any_bad_noise_level_is_rejected(xi):
    for call in (lambda: attacks.project(torch.ones(3), xi), lambda: attacks.random_perturbation((3,), xi),
                 lambda: attacks.as_attack(*problem(), xi)):
        assert_clear(call, "xi must be a finite number > 0")


@settings(max_examples=40, deadline=None)
@given(delta=st.one_of(st.floats(max_value=0.0), st.floats(min_value=1.0), st.just(math.nan)))
def test_any_threshold_outside_the_unit_interval_is_rejected(delta):
    assert_clear(lambda: subspace.count_active(torch.ones(3), 3.0, delta=delta),
                 "delta must be a number strictly between 0 and 1")


@settings(max_examples=30, deadline=None)
@given(n_images=st.integers(1, 12), n_labels=st.integers(0, 12))
def test_any_length_mismatch_is_named(n_images, n_labels):
    if n_images != n_labels:
        assert_clear(lambda: inference.evaluate(nn.Linear(4, 3), (torch.randn(n_images, 4),
                                                                 torch.zeros(n_labels, dtype=torch.long))),
                     f"{n_images} inputs but {n_labels} labels")


@settings(max_examples=30, deadline=None)
@given(m=st.integers(1, 30), n=st.integers(1, 12), method=st.sampled_from(["exact", "frequent_directions"]))
def test_integer_gradients_of_any_shape_give_the_float_result(m, n, method):
    grads = torch.randint(-4, 5, (m, n), generator=torch.Generator().manual_seed(m * 100 + n))
    kwargs = {"sketch_size": max(2, n)} if method == "frequent_directions" else {}
    as_int = subspace.ActiveSubspace(method, **kwargs).fit(grads)
    as_float = subspace.ActiveSubspace(method, **kwargs).fit(grads.to(torch.get_default_dtype()))
    assert torch.allclose(as_int.eigenvalues, as_float.eigenvalues)


def test_an_error_in_the_models_own_forward_is_not_blamed_on_the_inputs():
    from aslib._utils import forward_logits

    class Broken(torch.nn.Module):
        def forward(self, x):
            raise RuntimeError("a bug in the user's forward")

    with pytest.raises(ValueError, match="if they do, the error is in the model's forward") as caught:
        forward_logits(Broken(), torch.zeros(2, 3))
    assert isinstance(caught.value.__cause__, RuntimeError) and "a bug" in str(caught.value.__cause__)
