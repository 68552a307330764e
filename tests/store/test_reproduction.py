"""Reproduction checks: fingerprints, data identity, tolerances derived from the quantity, and their verdicts."""
import math
import os
import subprocess
import sys

import numpy as np
import pytest
import scipy.stats
import torch

from aslib import data
from aslib.store import reproduction


def test_the_fingerprint_names_what_decides_rounding_and_changes_with_the_threads():
    fingerprint = reproduction.platform_fingerprint()
    assert set(reproduction.FINGERPRINT_KEYS) <= set(fingerprint)
    assert fingerprint["cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    assert fingerprint["threads"] == torch.get_num_threads() and fingerprint["device"] == "cpu"
    assert reproduction.same_platform(fingerprint) and not reproduction.same_platform(None)
    assert not reproduction.same_platform({**fingerprint, "threads": fingerprint["threads"] + 1})
    assert not reproduction.same_platform({k: v for k, v in fingerprint.items() if k != "blas"})


def test_another_kernel_set_is_seen_by_a_fresh_process():
    other = reproduction.other_capability()
    assert other in ("avx2", "default") and other.upper() != torch.backends.cpu.get_cpu_capability()
    code = "import torch; print(torch.backends.cpu.get_cpu_capability())"
    seen = subprocess.run([sys.executable, "-c", code], env={**os.environ, "ATEN_CPU_CAPABILITY": other},
                          capture_output=True, text=True, check=True).stdout.strip()
    assert seen == other.upper()


def test_data_identity_is_the_pixels_and_labels():
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (5, 3, 4, 4), dtype=torch.uint8, generator=g)
    labels = torch.tensor([0, 1, 2, 3, 4])
    same = reproduction.data_identity(images.clone(), labels.clone())
    assert same == reproduction.data_identity(images, labels)
    changed = images.clone()
    changed[2, 1, 3, 3] ^= 1
    assert reproduction.data_identity(changed, labels) != same
    assert reproduction.data_identity(images, labels.flip(0)) != same
    with pytest.raises(ValueError, match="uint8"):
        reproduction.data_identity(images.float(), labels)


def test_the_prediction_interval_matches_scipy():
    values = [0.84, 0.9, 0.81, 0.88, 0.86, 0.79, 0.93, 0.85, 0.87, 0.88]
    n, s = len(values), float(np.std(values, ddof=1))
    expected = scipy.stats.t.ppf(0.995, n - 1) * s * math.sqrt(1 + 1 / n)
    assert reproduction.prediction_tolerance(values) == pytest.approx(expected, rel=1e-8)
    assert reproduction.prediction_tolerance(values, 0.9) < reproduction.prediction_tolerance(values)
    with pytest.raises(ValueError, match="at least 2 repeats"):
        reproduction.prediction_tolerance([0.5])


def test_flip_tolerance_counts_near_ties_only():
    logits = torch.tensor([[10.0, 9.9999, 0.0], [10.0, 5.0, 0.0], [-1.0, -1.0005, -3.0], [2.0, 0.0, 1.0]])
    assert reproduction.flip_tolerance(logits) == 0.5  # rows 0 and 2 are within 1e-3 of their largest |logit|
    assert reproduction.flip_tolerance(logits, relative=1e-6) == 0.0
    with pytest.raises(ValueError, match=r"logits must be a floating-point tensor of shape \(n, k\)"):
        reproduction.flip_tolerance(torch.ones(4))


def test_checks_say_what_was_compared_and_only_binding_ones_are_required():
    exact = reproduction.Check("count", 3, 3, 0, "integers")
    close = reproduction.Check("ratio", 0.83, 0.82, 0.05, "spread of repeats")
    far = reproduction.Check("ratio", 0.5, 0.82, 0.05, "spread of repeats")
    other = reproduction.Check("accuracy", 0.88, 0.87, 0.001, "other data", binding=False)
    assert exact.passed and close.passed and not far.passed and not other.passed
    assert "exact" in str(exact) and "|difference| <= 0.05" in str(close) and "OUTSIDE" in str(far)
    assert "not asserted" in str(other)
    reproduction.require([exact, close, other])
    with pytest.raises(AssertionError, match="spread of repeats"):
        reproduction.require([exact, far])


def test_a_lossless_archive_of_ones_own_comes_before_the_kits_jpeg_one(tmp_path):
    g = torch.Generator().manual_seed(1)
    splits = {split: data.ImageDataset(torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8, generator=g),
                                       torch.arange(n) % 10, mean=data.CIFAR_MEAN, std=data.CIFAR_STD,
                                       classes=[str(i) for i in range(10)], name="cifar10", split=split, source="toy")
              for split, n in (("train", 20), ("test", 10))}
    data.write_archive(tmp_path / "cifar10_jpeg.npz", {"test": splits["test"]})  # raw pixels read the same way
    mine = data.write_archive(tmp_path / "cifar10.npz", splits)
    loaded = data.load("cifar10", "test", tmp_path)
    assert loaded.source == str(mine) and data.located("cifar10", tmp_path) == ("archive", mine)
    assert torch.equal(loaded.images, splits["test"].images) and torch.equal(loaded.targets, splits["test"].targets)
    assert loaded.classes == splits["test"].classes
    with pytest.raises(ValueError, match="splits must map"):
        data.write_archive(tmp_path / "x.npz", {"validation": splits["test"]})
