"""Two CPU processes in a gloo group: the merged subspace matches the single-process estimate."""
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from aslib.gradients import layer_gradients
from aslib.models import build
from aslib.subspace import frequent_directions_bound, layer_subspaces


def _data():
    g = torch.Generator().manual_seed(0)
    return torch.randn(96, 1, 28, 28, generator=g), torch.randint(0, 10, (96,), generator=g)


def _model():
    torch.manual_seed(0)
    return build("lenet").eval()


def _worker(rank, world, init_file, out_file):
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    try:
        result = layer_subspaces(_model(), ["fc1"], _data(), sketch_size=16, batch_size=16)
        est = result["fc1"]
        if rank == 0:
            torch.save({"sketch": est.sketch, "n": est.n_samples, "trace": est.trace,
                        "eig": est.eigenvalues}, out_file)
        others = [None] * world
        dist.all_gather_object(others, est.eigenvalues)
        assert all(torch.equal(o, est.eigenvalues) for o in others), "ranks disagree"
    finally:
        dist.destroy_process_group()


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
