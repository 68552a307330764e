import hashlib
import time
from pathlib import Path

import numpy as np
import platformdirs
import pytest
import torch
from conftest import needs, random_images

from aslib import data


@needs("mnist")
def test_mnist_shapes_ranges_and_normalisation():
    ds = data.load("mnist", "train")
    assert ds.images.shape == (60000, 1, 28, 28) and ds.images.dtype == torch.uint8
    assert torch.bincount(ds.targets).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    x, y = ds.batch(torch.arange(60000))
    assert abs(float(x.mean())) < 1e-3 and abs(float(x.std()) - 1) < 1e-3
    assert ds.classes[7] == "7"


@needs("fashion_mnist")
def test_fashion_mnist_checksum_and_classes():
    ds = data.load("fashion_mnist", "test")
    nhwc = ds.images.permute(0, 2, 3, 1).contiguous().numpy()
    assert hashlib.sha256(nhwc.tobytes()).hexdigest() == \
        "c867c93ff95360594e8ec3287995350b824dd110b11595c0e13d5423f621867a"
    assert torch.bincount(ds.targets).tolist() == [1000] * 10
    assert ds.classes[1] == "Trouser"


@needs("cifar10")
def test_cifar10_jpeg_decodes_and_caches():
    data.load("cifar10", "test")
    start = time.time()
    ds = data.load("cifar10", "test")
    assert time.time() - start < 1.0
    assert ds.images.shape == (10000, 3, 32, 32)
    nhwc = ds.images.permute(0, 2, 3, 1).contiguous().numpy()
    assert hashlib.sha256(nhwc.tobytes()).hexdigest() == \
        "b7018a062865e9348a704e72416eb53c816b43cc8ac42ab43276a2b967508ab6"
    assert torch.bincount(ds.targets).tolist() == [1000] * 10


@needs("cifar10_lossless")
def test_cifar10_lossless_subset():
    ds = data.load("cifar10_lossless", "train")
    assert ds.images.shape == (4000, 3, 32, 32)
    assert torch.bincount(ds.targets).tolist() == [396, 366, 420, 384, 422, 393, 414, 385, 407, 413]
    pixels = torch.cat([ds.images, data.load("cifar10_lossless", "test").images]).float().div(255)
    assert torch.allclose(pixels.mean((0, 2, 3)), torch.tensor([0.4926, 0.4827, 0.4459]), atol=1e-3)


@needs("fashion_mnist")
def test_tensors_seeded_subset_without_replacement():
    x1, y1 = data.tensors("fashion_mnist", "test", n=50, classes=[1, 3], seed=3)
    x2, y2 = data.tensors("fashion_mnist", "test", n=50, classes=[1, 3], seed=3)
    x3, _ = data.tensors("fashion_mnist", "test", n=50, classes=[1, 3], seed=4)
    assert torch.equal(x1, x2) and torch.equal(y1, y2) and not torch.equal(x1, x3)
    assert set(y1.tolist()) <= {1, 3}
    idx = data.subset_indices(data.load("fashion_mnist", "test").targets, 50, [1, 3], seed=3)
    assert len(set(idx.tolist())) == 50
    with pytest.raises(ValueError, match="only 1000 match"):
        data.tensors("fashion_mnist", "test", n=1001, classes=[1])
    x4, y4 = data.tensors("fashion_mnist", "test", n=50, classes=[1, 3], seed=3, device="meta")
    assert x4.device.type == "meta" and y4.device.type == "meta" and x4.shape == x1.shape  # the same draw, moved


def test_augmentation_crops_and_flips():
    images = torch.arange(2 * 3 * 8 * 8, dtype=torch.uint8).view(2, 3, 8, 8)
    out = data.augment_batch(images, torch.Generator().manual_seed(0), padding=0)
    for i in range(2):
        assert torch.equal(out[i], images[i]) or torch.equal(out[i], images[i].flip(-1))
    padded = data.augment_batch(images, torch.Generator().manual_seed(1), padding=2)
    assert padded.shape == images.shape


def test_loader_batches_and_epochs():
    ds = data.ImageDataset(torch.randint(0, 255, (10, 1, 4, 4), dtype=torch.uint8), torch.arange(10) % 2,
                           mean=(0.5,), std=(0.25,), classes=["a", "b"], name="mnist", split="train", source="t")
    loader = data.BatchLoader(ds, 4, shuffle=True, seed=0)
    assert len(loader) == 3
    labels = torch.cat([y for _, y in loader])
    assert sorted(labels.tolist()) == sorted(ds.targets.tolist())
    first = [y.tolist() for _, y in loader]
    loader.set_epoch(1)
    assert [y.tolist() for _, y in loader] != first
    x, _ = next(iter(data.BatchLoader(ds, 10)))
    assert torch.allclose(x, (ds.images.float() / 255 - 0.5) / 0.25)


def test_a_subset_keeps_the_datasets_statistics_and_names():
    ds = random_images(12, (3, 4, 4), name="cifar10", split="test")
    part = ds.subset(torch.tensor([3, 0, 7]))
    assert torch.equal(part.images, ds.images[[3, 0, 7]]) and torch.equal(part.targets, ds.targets[[3, 0, 7]])
    assert (part.mean, part.std, part.classes) == (ds.mean, ds.std, ds.classes)
    assert (part.name, part.split) == ("cifar10", "test")
    assert part.source == "random (subset)" and len(ds.subset(slice(0, 5))) == 5
    assert torch.equal(part.batch(torch.arange(3))[0], ds.batch(torch.tensor([3, 0, 7]))[0])


def test_a_validation_split_is_balanced_disjoint_seeded_and_recorded():
    ds = random_images(400, (1, 4, 4), num_classes=4)
    fit, held, record = data.validation_split(ds, 40, seed=3)
    assert len(fit) + len(held) == len(ds) and held.split == "validation" and fit.split == "train"
    assert torch.bincount(held.targets, minlength=4).tolist() == [10, 10, 10, 10]
    rows = {tuple(image.flatten().tolist()) + (int(label),) for image, label in zip(ds.images, ds.targets)}
    split_rows = [tuple(image.flatten().tolist()) + (int(label),) for part in (fit, held)
                  for image, label in zip(part.images, part.targets)]
    assert set(split_rows) == rows and len(split_rows) == len(rows)  # every image once, in one part only
    again = data.validation_split(ds, 40, seed=3)
    assert torch.equal(again[1].images, held.images) and again[2] == record
    other = data.validation_split(ds, 40, seed=4)
    assert other[2]["indices_sha256"] != record["indices_sha256"]
    assert record == {"images": 40, "of": 400, "seed": 3, "per_class": 10, "indices_sha256": record["indices_sha256"]}
    for bad, words in ((42, "multiple of the 4 classes"), (2, "multiple"), (400, "smallest class")):
        with pytest.raises(ValueError, match=words):
            data.validation_split(ds, bad)


def test_sharded_augmented_loaders_interleave_to_the_single_loader():
    ds = data.ImageDataset(torch.randint(0, 255, (40, 3, 8, 8), dtype=torch.uint8), torch.arange(40) % 10,
                           mean=(0.5,) * 3, std=(0.25,) * 3, classes=list("abcdefghij"), name="cifar10",
                           split="train", source="t")
    single = list(data.BatchLoader(ds, 12, shuffle=True, augment=True, seed=3))
    shards = [list(data.BatchLoader(ds, 12, shuffle=True, augment=True, seed=3, shard=(r, 3))) for r in range(3)]
    for b, (x, y) in enumerate(single):
        for r in range(3):
            assert torch.equal(shards[r][b][0], x[r::3]) and torch.equal(shards[r][b][1], y[r::3])
    plain = [x for x, _ in data.BatchLoader(ds, 12, shuffle=True, seed=3)]
    assert not torch.equal(plain[0], single[0][0]), "augmentation should change the images"


def test_errors_for_unknown_and_missing(tmp_path):
    with pytest.raises(ValueError, match="unknown dataset"):
        data.load("imagenet")
    with pytest.raises(ValueError, match="split must be one of 'train', 'test'"):
        data.load("mnist", "val")
    with pytest.raises(FileNotFoundError, match="mnist.npz.*ASLIB_DATA.*download=True"):
        data.load("mnist", "test", root=tmp_path)


def test_cifar100_absent_error_or_loads(tmp_path):
    with pytest.raises(FileNotFoundError, match="cifar100.*download=True"):
        data.load("cifar100", "test", root=tmp_path)


@pytest.mark.skipif(not data.available("cifar100"), reason="CIFAR-100 is not available offline here")
def test_cifar100_when_present():
    ds = data.load("cifar100", "test")
    assert ds.num_classes == 100 and ds.images.shape[1:] == (3, 32, 32)


def test_denormalize_roundtrip():
    pixels = torch.rand(2, 3, 4, 4)
    mean = torch.tensor(data.CIFAR_MEAN).view(-1, 1, 1)
    std = torch.tensor(data.CIFAR_STD).view(-1, 1, 1)
    assert torch.allclose(data.denormalize((pixels - mean) / std, "cifar10"), pixels, atol=1e-6)
    assert np.allclose(data.pixel_scale("cifar10").flatten().numpy(), data.CIFAR_STD)
    outside = torch.rand(2, 3, 4, 4) * 3 - 1  # pixel values outside [0, 1]: to_pixels does not clamp
    assert torch.allclose(data.to_pixels(data.from_pixels(outside, "cifar10"), "cifar10"), outside, atol=1e-6)
    assert torch.equal(data.from_pixels(pixels, "cifar10"), (pixels - mean) / std)
    with pytest.raises(ValueError, match="channel"):
        data.to_pixels(torch.rand(2, 1, 4, 4), "cifar10")


def test_the_data_root_does_not_depend_on_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.delenv("ASLIB_DATA", raising=False)
    monkeypatch.chdir(tmp_path)
    assert data.data_root() == data.DEFAULT_DATA and data.DEFAULT_DATA.is_absolute()
    # the per-user data folder, not a path inside the package or a checkout (an installed kit has none)
    assert data.DEFAULT_DATA == Path(platformdirs.user_data_dir("aslib", appauthor=False))
    assert Path(data.__file__).resolve().parents[2] not in data.DEFAULT_DATA.parents  # aslib/data/__init__.py
    monkeypatch.setenv("ASLIB_DATA", str(tmp_path))
    assert data.data_root() == tmp_path and data.data_root("elsewhere") == Path("elsewhere")


def test_located_reads_the_files_alone(tmp_path):
    assert data.located("cifar10", tmp_path) == ("missing", tmp_path)
    (tmp_path / "cifar-10-batches-py").mkdir()
    assert data.located("cifar10", tmp_path) == ("missing", tmp_path), "an empty folder is not the dataset"
    (tmp_path / "cifar-10-batches-py" / "data_batch_1").write_bytes(b"x")
    assert data.located("cifar10", tmp_path) == ("torchvision", tmp_path / "cifar-10-batches-py")
    (tmp_path / "cifar10_jpeg.npz").write_bytes(b"x")
    assert data.located("cifar10", tmp_path) == ("archive", tmp_path / "cifar10_jpeg.npz")
    assert data.expected_files("fashion_mnist") == ["fashion_mnist.npz", "FashionMNIST/raw/"]
    assert data.expected_files("cifar100") == ["cifar-100-python/"]
    with pytest.raises(ValueError, match="unknown dataset"):
        data.located("imagenet", tmp_path)


def test_the_data_identity_changes_with_the_archive(tmp_path):
    archive = tmp_path / "toy.npz"
    archive.write_bytes(b"x" * 3_000_000)
    first = data.identity(tmp_path)
    assert first == data.identity(tmp_path) and first["toy.npz"]["bytes"] == 3_000_000
    archive.write_bytes(b"x" * 2_999_999 + b"y")  # same size, last byte changed
    assert data.identity(tmp_path) != first
