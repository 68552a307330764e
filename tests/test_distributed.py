"""Two CPU processes in a gloo group: merged subspaces, DDP fine-tuning and a spread-out attack study
agree with one process."""
import copy
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from conftest import random_images

from aslib.linalg.frequent_directions import frequent_directions_bound
from aslib.nets.gradients import layer_gradients
from aslib.nets.layer_analysis import layer_subspaces
from aslib.nets.models import build


def _data():
    g = torch.Generator().manual_seed(0)
    return torch.randn(96, 1, 28, 28, generator=g), torch.randint(0, 10, (96,), generator=g)


def _model():
    torch.manual_seed(0)
    return build("lenet").eval()


@contextmanager
def _gloo_group(rank, world, init_file, timeout_s=600):
    """One single-threaded rank of a gloo process group, destroyed on exit."""
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world,
                            timeout=timedelta(seconds=timeout_s))
    try:
        yield
    finally:
        dist.destroy_process_group()


def _worker(rank, world, init_file, out_file):
    with _gloo_group(rank, world, init_file):
        result = layer_subspaces(_model(), ["fc1"], _data(), sketch_size=16, batch_size=16)
        est = result["fc1"]
        if rank == 0:
            torch.save({"sketch": est.store.sketch, "n": est.n_samples, "trace": est.trace,
                        "eig": est.eigenvalues}, out_file)
        others = [None] * world
        dist.all_gather_object(others, est.eigenvalues)
        assert all(torch.equal(o, est.eigenvalues) for o in others), "ranks disagree"


def test_two_ranks_merge_within_the_frequent_directions_bound(tmp_path):
    out = tmp_path / "rank0.pt"
    mp.spawn(_worker, args=(2, str(tmp_path / "init"), str(out)), nprocs=2, join=True)
    merged = torch.load(out, weights_only=True)
    grads = torch.cat([g["fc1"] for g in layer_gradients(_model(), ["fc1"], _data(), batch_size=16)]).double()
    assert merged["n"] == 96
    assert abs(merged["trace"] - float(grads.pow(2).sum()) / 96) < 1e-6 * merged["trace"]
    sketch = merged["sketch"].double()
    error = float(torch.linalg.matrix_norm(grads.T @ grads - sketch.T @ sketch, 2))
    assert error <= frequent_directions_bound(grads, 16, 0) * (1 + 1e-5)
    single = layer_subspaces(_model(), ["fc1"], _data(), sketch_size=16, batch_size=16)["fc1"]
    assert torch.allclose(merged["eig"][:3], single.eigenvalues[:3], rtol=0.05)


# ------------------------------------------------------------------ DDP fine-tuning and studies

FINETUNE = dict(kd_epochs=1, sparse_epochs=1, batch_size=30, max_batches=3, augment=False,
                kd_lr=(1e-3, 1e-3, 1e-3), sparse_lr=(1e-2, 1e-2, 1e-2), l1=0.05, l1_pre=0.05)


def _asnet():
    from aslib.nets.asnet import build_asnet

    train = random_images(120, seed=1)
    net, _ = build_asnet(_model(), "conv2", train.batch(torch.arange(120)), rank=3, degree=2, method="exact")
    return net


def _finetune(net, checkpoint):
    from aslib.fitting.finetuning import FinetuneConfig, finetune

    test = random_images(50, seed=2).batch(torch.arange(50))
    return finetune(net, _model(), random_images(120, seed=1), test, FinetuneConfig(**FINETUNE),
                    checkpoint=checkpoint, progress=False)


def _finetune_worker(rank, world, init_file, net, checkpoint, out_file):
    net = copy.deepcopy(net)  # spawn shares tensor storage between processes; each rank needs its own
    with _gloo_group(rank, world, init_file):
        history = _finetune(net, checkpoint)
        if rank == 0:
            torch.save({"state": net.state_dict(), "history": history}, out_file)


ADAM_STEP_BOUND = 0.1 / 0.001 ** 0.5
"""Adam's largest step per element in units of the learning rate, (1 - beta1) / sqrt(1 - beta2) with torch's
default betas (0.9, 0.999) (Kingma & Ba, section 2.1)."""


@pytest.mark.reproduction
def test_ddp_finetune_matches_one_process_with_the_same_global_batch(tmp_path):
    """Two gloo ranks of half the batch each against one process with the whole batch.

    The all-reduce sums the two halves' gradients in another order than one process sums the batch, so
    gradients differ in the last places. Adam divides by the gradient's running size, so an element whose
    gradient is itself at rounding level can take a step of up to ADAM_STEP_BOUND * lr in another direction:
    every element lies within that bound summed over the distillation steps (SGD's steps and the 1-Lipschitz
    proximal step do not amplify differences), and such elements are rare. Elsewhere the two runs agree to
    rounding (1e-4 of the weight plus 1e-3 of the tensor's largest move). Without the gradient all-reduce
    most elements would differ.
    """
    net = _asnet()
    single = _asnet()
    single_history = _finetune(single, None)
    out, checkpoint = tmp_path / "ddp.pt", tmp_path / "asnet_ckpt.pt"
    mp.spawn(_finetune_worker, args=(2, str(tmp_path / "init"), net, str(checkpoint), str(out)), nprocs=2, join=True)
    ddp = torch.load(out, weights_only=True)
    assert checkpoint.exists(), "rank 0 must write the resumable checkpoint"
    assert [r["epoch"] for r in ddp["history"]] == [r["epoch"] for r in single_history] == [0, 1, 1]
    for a, b in zip(ddp["history"], single_history):  # 50 test images: rounding may flip at most one
        assert abs(a["test_accuracy"] - b["test_accuracy"]) <= 1 / 50 + 1e-9, (a, b)
    start = _asnet().state_dict()
    adam_steps = FINETUNE["kd_epochs"] * FINETUNE["max_batches"]
    bound = 2 * adam_steps * max(FINETUNE["kd_lr"]) * ADAM_STEP_BOUND
    for name, value in single.state_dict().items():
        difference, moved = (ddp["state"][name] - value).abs(), (value - start[name]).abs().max()
        assert float(difference.max()) <= bound, f"{name}: {float(difference.max()):.2e} beyond Adam's {bound:.2e}"
        beyond = difference > 1e-4 * value.abs() + 1e-3 * moved
        assert float(beyond.float().mean()) <= 0.01, f"{name}: {int(beyond.sum())} of {value.numel()} elements differ"
    moved = max((single.state_dict()[k] - start[k]).abs().max().item() for k in start)
    assert moved > 1e-3, "fine-tuning should change the weights by much more than rounding"


def _nan_on_rank_one_worker(rank, world, init_file, net, out_dir):
    import aslib.fitting.finetuning

    net = copy.deepcopy(net)
    if rank == 1:
        aslib.fitting.finetuning.distillation_loss = lambda *args, **kwargs: torch.tensor(float("nan"), requires_grad=True)
    with _gloo_group(rank, world, init_file, timeout_s=60):
        try:
            _finetune(net, None)
        except FloatingPointError as err:
            (Path(out_dir) / f"rank{rank}.txt").write_text(str(err))
        dist.barrier()  # both ranks are done with the group before either tears it down


def test_a_non_finite_loss_on_one_rank_stops_every_rank(tmp_path):
    mp.spawn(_nan_on_rank_one_worker, args=(2, str(tmp_path / "init"), _asnet(), str(tmp_path)), nprocs=2,
             join=True)
    for rank in (0, 1):
        assert "non-finite loss in distill epoch 1" in (tmp_path / f"rank{rank}.txt").read_text()


def _study(progress=False):
    from aslib.studies import SweepSettings, noise_sweep

    g = torch.Generator().manual_seed(5)
    train = (torch.randn(60, 1, 28, 28, generator=g), torch.randint(0, 10, (60,), generator=g))
    test = (torch.randn(40, 1, 28, 28, generator=g), torch.randint(0, 10, (40,), generator=g))
    shared = SweepSettings(repeats=3, method_kwargs={"as": {"max_iter": 3}}, progress=progress)
    return noise_sweep(_model(), train, test, xis=(2.0, 4.0), n_samples=20, methods=("as", "random"), settings=shared)


def _study_worker(rank, world, init_file, out_file):
    with _gloo_group(rank, world, init_file):
        rows = _study()
        gathered = [None] * world
        dist.all_gather_object(gathered, rows)
        assert all(g == rows for g in gathered), "every rank must hold the whole table"
        if rank == 0:
            torch.save(rows, out_file)


def test_distributed_study_gives_the_single_process_table(tmp_path):
    out = tmp_path / "rows.pt"
    mp.spawn(_study_worker, args=(2, str(tmp_path / "init"), str(out)), nprocs=2, join=True)
    rows = torch.load(out, weights_only=False)
    single = _study()
    assert len(rows) == len(single) == 3 * 2 * 2
    drop = lambda r: {k: v for k, v in r.items() if k != "time_s"}  # noqa: E731
    assert [drop(r) for r in rows] == [drop(r) for r in single]


def test_one_sharding_concept_shares_samples_batches_and_settings():
    from aslib.data import BatchLoader, ImageDataset, local_share
    from aslib.distributed import share, share_of_iterable

    items = list(range(10))
    shares = [share(items, (rank, 3)) for rank in range(3)]
    assert shares == [[0, 3, 6, 9], [1, 4, 7], [2, 5, 8]]
    assert sorted(sum(shares, [])) == items and share(items) == items
    assert list(share_of_iterable(iter("abcdefg"), (1, 2))) == ["b", "d", "f"]
    x, y = _data()
    part_x, part_y = local_share((x, y), shard=(1, 4))
    assert torch.equal(part_x, x[1::4]) and torch.equal(part_y, y[1::4])
    images = (x[:10] * 40 + 128).clamp(0, 255).to(torch.uint8)
    ds = ImageDataset(images, y[:10], mean=(0.5,), std=(0.5,), classes=[str(i) for i in range(10)], name="mnist",
                      split="train", source="test")
    loader = local_share(ds, batch_size=4, shard=(0, 2))
    assert isinstance(loader, BatchLoader) and loader.indices.tolist() == [0, 2, 4, 6, 8]
    assert list(local_share([1, 2, 3, 4, 5], shard=(0, 2))) == [1, 3, 5]
    try:
        share(items, (3, 3))
    except ValueError as err:
        assert "0 <= process_rank < world" in str(err)
    else:
        raise AssertionError("an invalid shard must be rejected")
