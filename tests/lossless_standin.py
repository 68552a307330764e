"""A data root that stands in for a user's own lossless CIFAR-10 (``python tests/lossless_standin.py DIR``).

A student's CIFAR-10 is torchvision's lossless copy, not the kit's JPEG-derived archive that the shipped
networks and vectors were made on. No complete lossless copy exists offline here, so DIR gets a
``cifar10.npz`` (which :func:`aslib.data.load` prefers to the JPEG archive) holding the exact pixels of the
lossless subset where it has them (train images 0-3,999, test images 0-999) and the JPEG-derived pixels
elsewhere: complete, with the official order and labels, and with a data identity that differs from every
record's. The other archives of ``$ASLIB_DATA`` are linked beside it. ``make test`` runs the student
notebooks on it.
"""
from __future__ import annotations

import sys
from pathlib import Path

import torch

from aslib import data


def build(out: Path) -> Path:
    """Write the stand-in data root ``out``; returns the path of its ``cifar10.npz``."""
    source = data.data_root()
    out.mkdir(parents=True, exist_ok=True)
    for archive in sorted(source.glob("*.npz")):
        link = out / archive.name
        if not link.exists() and archive.name != "cifar10.npz":
            link.symlink_to(archive.resolve())
    splits = {}
    for split in data.SPLITS:
        jpeg, lossless = data.load("cifar10", split), data.load("cifar10_lossless", split)
        n = len(lossless)
        if not torch.equal(jpeg.targets[:n], lossless.targets):
            raise ValueError(f"the lossless subset's {split} labels differ from the archive's first {n}")
        images = jpeg.images.clone()
        images[:n] = lossless.images
        splits[split] = data.ImageDataset(images, jpeg.targets, mean=jpeg.mean, std=jpeg.std, classes=jpeg.classes,
                                          name="cifar10", split=split, source="lossless stand-in")
    return data.write_archive(out / "cifar10.npz", splits)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python tests/lossless_standin.py DIR  (reads $ASLIB_DATA, writes DIR)")
    print(build(Path(sys.argv[1])))
