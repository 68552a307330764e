"""Shipped universal vectors: crafted resumably, loaded by model/method/xi, reproducible from their record."""
import pytest
import torch
from conftest import needs

from aslib import data
from aslib.attacks import attack_seed
from aslib.store import reproduction, vectors


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setattr(vectors, "STORE", tmp_path)
    return tmp_path


def test_paper_settings_per_experiment():
    assert vectors.EXPERIMENTS["allclass"] == {"classes": None, "n_samples": 200}
    assert vectors.EXPERIMENTS["oneclass"]["n_samples"] == 100
    assert vectors.experiment_options("cifar10", "oneclass", "as") == {"step_max": 3.0}
    assert vectors.experiment_options("cifar10", "allclass", "as") == {}
    assert vectors.experiment_options("fashion_mnist", "oneclass", "as") == {}
    with pytest.raises(ValueError, match="experiment must be one of 'allclass', 'oneclass', 'transfer'"):
        vectors.experiment_options("cifar10", "twoclass", "as")
    assert attack_seed(0, 2, 7.5) == 2750


@needs("fashion_mnist")
def test_craft_vectors_is_resumable_and_loads_in_repeat_order(store, capsys):
    kwargs = dict(xis=[4.0], experiment="oneclass", methods=["sgd_uap", "random"], device="cpu")
    first = vectors.craft_vectors("lenet_fashion_mnist", repeats=2, **kwargs)
    assert [(r["method"], r["repeat"]) for r in first] == [("sgd_uap", 0), ("random", 0), ("sgd_uap", 1),
                                                           ("random", 1)]
    assert all(r["classes"] == [1] and len(r["crafting_indices"]) == 100 for r in first)
    assert first[0]["crafting_indices"] != first[2]["crafting_indices"]  # a new crafting set per repeat
    capsys.readouterr()
    again = vectors.craft_vectors("lenet_fashion_mnist", repeats=3, **kwargs)
    assert again[:4] == first and capsys.readouterr().out.count("[vectors]") == 2  # only repeat 2 is new
    shipped = vectors.shipped_vectors("lenet_fashion_mnist", "sgd_uap", 4.0, classes=[1])
    assert len(shipped) == 3 and all(v.shape == (1, 28, 28) and v.dtype == torch.float32 for v in shipped)
    assert shipped[0].norm().item() == pytest.approx(4.0, rel=1e-3)
    with pytest.raises(ValueError, match="no shipped 'as' vectors"):
        vectors.shipped_vectors("lenet_fashion_mnist", "as", 4.0, classes=[1])


@pytest.mark.reproduction
@needs("fashion_mnist")
def test_a_shipped_vector_is_reproduced_from_its_record():
    """On any machine: the re-crafted LeNet AS vector attacks its crafting set and held-out images as the
    shipped one does, within the 99 % prediction interval of the 10 shipped repeats (the vector's bits are
    not compared: the record predates fingerprints, and the search is bitwise only on its own platform)."""
    chosen = [r for r in vectors.records("lenet_fashion_mnist", method="as", xi=10.0, experiment="allclass")
              if r["repeat"] == 0]
    if not chosen:
        pytest.skip("no shipped LeNet AS vector at xi=10")
    test = data.tensors("fashion_mnist", "test", n=2000, seed=0)
    checks = vectors.reproduce(chosen[0], test)
    assert [c.quantity for c in checks] == ["crafting-set attack ratio", "test attack ratio (2000 images)"]
    assert all(0 < c.tolerance < 0.25 for c in checks), [str(c) for c in checks]  # a check that can fail
    reproduction.require(checks)


@pytest.mark.reproduction
@needs("fashion_mnist")
def test_a_vector_is_bitwise_reproduced_on_the_platform_that_crafted_it(store):
    (record,) = vectors.craft_vectors("lenet_fashion_mnist", xis=[4.0], experiment="transfer", methods=["as"],
                                      repeats=1, device="cpu", progress=False)
    assert record["platform"] == reproduction.platform_fingerprint("cpu")
    test = data.tensors("fashion_mnist", "test", n=300, seed=0)
    with pytest.raises(ValueError, match="at least 2 repeats"):  # one repeat gives no spread to compare with
        vectors.reproduce(record, test)
    vectors.craft_vectors("lenet_fashion_mnist", xis=[4.0], experiment="transfer", methods=["as"], repeats=2,
                          device="cpu", progress=False)
    checks = vectors.reproduce(record, test)
    assert checks[-1].quantity.startswith("largest element difference") and checks[-1].tolerance == 0
    reproduction.require(checks)
    record = {**record, "platform": {**record["platform"], "cpu_capability": "another"}}
    assert len(vectors.reproduce(record, test)) == 2, "no bitwise claim on another platform"


@needs("fashion_mnist")
def test_the_authors_solver_ships_as_a_variant_of_the_as_records(store):
    kwargs = dict(xis=[4.0], experiment="oneclass", methods=["as"], device="cpu", repeats=1)
    (record,) = vectors.craft_vectors("lenet_fashion_mnist", solver="authors", **kwargs)
    assert record["id"].endswith("/as-authors/l2/xi4/r0") and record["variant"] == "authors"
    assert record["options"]["solver"] == "authors"
    assert len(record["history"]) == record["iterations"] >= 1 and max(record["history"]) <= 1
    with pytest.raises(ValueError, match="no shipped 'as' vectors"):
        vectors.shipped_vectors("lenet_fashion_mnist", "as", 4.0, classes=[1])
    (exact,) = vectors.craft_vectors("lenet_fashion_mnist", **kwargs)
    assert "variant" not in exact and exact["crafting_indices"] == record["crafting_indices"]
    (authors_vector,) = vectors.shipped_vectors("lenet_fashion_mnist", "as", 4.0, classes=[1], solver="authors")
    (exact_vector,) = vectors.shipped_vectors("lenet_fashion_mnist", "as", 4.0, classes=[1])
    assert not torch.equal(authors_vector, exact_vector)
    with pytest.raises(ValueError, match="AS attack only"):
        vectors.craft_vectors("lenet_fashion_mnist", solver="authors", **{**kwargs, "methods": ["as", "uap"]})
    with pytest.raises(ValueError, match="solver must be one of 'exact', 'authors'"):
        vectors.craft_vectors("lenet_fashion_mnist", solver="power", **kwargs)


@needs("fashion_mnist")
def test_crafting_cost_sums_every_record(store):
    kwargs = dict(xis=[4.0], experiment="oneclass", device="cpu", repeats=1, progress=False)
    records = vectors.craft_vectors("lenet_fashion_mnist", methods=["sgd_uap", "random"], **kwargs)
    records += vectors.craft_vectors("lenet_fashion_mnist", methods=["as"], solver="authors", **kwargs)
    cost = vectors.crafting_cost()
    assert cost["vectors"] == 3
    assert cost["hours"] == pytest.approx(sum(r["wall_time_s"] for r in records) / 3600)
    assert cost["machines"] == [f"cpu, {torch.get_num_threads()} threads"]
