"""The zoo: checkpoints round-trip with weights_only, shipped checkpoints reproduce their manifest."""
import dataclasses

import pytest
import torch
from conftest import needs

from aslib import data, studies
from aslib.fitting import recipes
from aslib.nets.counts import nonzero_weights
from aslib.nets.models import build
from aslib.store import reproduction, zoo


def test_checkpoint_round_trip_weights_only(tmp_path):
    model = build("resnet20", width=0.5).eval()
    meta = {"arch": "resnet20", "arch_kwargs": {"width": 0.5}, "test_accuracy": 0.1}
    zoo.save_checkpoint(model, meta, tmp_path / "m.pt")
    loaded, loaded_meta = zoo.load_checkpoint(tmp_path / "m.pt")
    x = torch.randn(2, 3, 32, 32)
    assert torch.equal(loaded(x), model(x)) and loaded_meta == meta and not loaded.training
    with pytest.raises(ValueError, match="arch"):
        zoo.save_checkpoint(model, {}, tmp_path / "bad.pt")


@pytest.mark.reproduction
@pytest.mark.parametrize("entry", zoo.entries(), ids=lambda e: e["name"])
def test_shipped_checkpoints_reproduce_their_accuracy(entry):
    """The file bitwise (sha256); the accuracy on the record's data to the share of near-tie predictions."""
    if not data.available(entry["dataset"]):
        pytest.skip(f"{entry['dataset']} not available")
    path = zoo.CHECKPOINT_DIR / f"{entry['name']}.pt"
    assert zoo.sha256(path) == entry["sha256"]
    assert path.stat().st_size < 10 * 2**20
    model = zoo.pretrained(entry["name"])
    assert not model.training
    test = data.load(entry["dataset"], "test")
    if not zoo.same_data(entry, test):
        pytest.skip(f"{test.source} holds other {entry['dataset']} test images than the record's")
    check = studies.recorded_accuracy(model, test, entry)
    assert check.tolerance < 0.005, str(check)  # near ties are rare: a check that can fail
    reproduction.require([check])
    if "nonzero_params" in entry:  # an ASNet or a pruned network: its sparsity is part of the claim
        assert nonzero_weights(model) == entry["nonzero_params"]
        assert entry["nonzero_params_x"] == pytest.approx(
            zoo.entry(entry["base_model"])["parameters"] / entry["nonzero_params"], abs=1e-3)


def test_unknown_names_and_entries():
    with pytest.raises(ValueError, match="unknown shipped model 'does_not_exist'; choose one of"):
        zoo.pretrained("does_not_exist")
    assert zoo.entry(zoo.entries()[0]["name"]) == zoo.entries()[0]


def test_metadata_is_the_checkpoint_meta_without_the_model():
    name = next(e["name"] for e in zoo.entries() if "asnet" in e["name"])
    _, meta = zoo.load_checkpoint(zoo.CHECKPOINT_DIR / f"{name}.pt")
    assert zoo.metadata(name) == meta and "history" in meta
    with pytest.raises(ValueError, match="unknown shipped model"):
        zoo.metadata("does_not_exist")


def test_shipped_rows_evaluate_the_compressed_networks_live():
    compressed = [e["name"] for e in zoo.entries() if "nonzero_params" in e]
    if not compressed or not data.available("cifar10"):
        pytest.skip("no compressed network shipped, or no CIFAR-10")
    test = data.tensors("cifar10", "test", n=300, seed=0)
    rows = studies.shipped_rows(compressed[:2], test, input_shape=(3, 32, 32))
    for row in rows:
        entry = zoo.entry(row["name"])
        assert row["nonzero_params"] == entry["nonzero_params"] and row["method"] == entry["method"]
        assert row["nonzero_params_x"] == pytest.approx(entry["nonzero_params_x"], abs=1e-3)
        assert abs(row["accuracy"] - entry["test_accuracy"]) < 0.1  # 300 of the 10,000 test images
    with pytest.raises(ValueError, match="is a network, not a compressed one"):
        studies.shipped_rows(["vgg19_bn_w025_cifar10"], test, input_shape=(3, 32, 32))


@needs("cifar10")
def test_baseline_comparison_pairs_the_asnet_with_each_baseline():
    names = recipes.BASELINES[:3]
    test = data.tensors("cifar10", "test", n=200, seed=0)
    comparison = studies.baseline_comparison(names, test, input_shape=(3, 32, 32))
    assert [r["name"] for r in comparison["rows"]] == names
    reference = zoo.pretrained(names[0])
    for d, name in zip(comparison["differences"], names[1:], strict=True):
        alone = studies.accuracy_difference(reference, zoo.pretrained(name), test)
        assert d["asnet_minus"] == name and d["mean"] == alone.mean and (d["low"], d["high"]) == (alone.low, alone.high)
        assert d["verdict"] == ("ASNet better" if alone.low > 0 else "baseline better" if alone.high < 0
                                else "indistinguishable")
        assert d["claim"] == studies.BASELINE_CLAIMS.get(zoo.entry(name)["method"])
    for t in comparison["targets"]:
        recipe = recipes.RECIPES[t["name"]]
        target = recipe.target_reduction or zoo.entry(names[0])["macs_x"]
        assert t["target_x"] == target and t["reached_x"] >= target - 1e-3
    with pytest.raises(ValueError, match="at least one baseline"):
        studies.baseline_comparison(names[:1], test, input_shape=(3, 32, 32))


@needs("cifar10")
def test_frontier_rows_pair_each_network_with_the_original():
    names = recipes.BASELINES[:3]
    test = data.tensors("cifar10", "test", n=200, seed=0)
    original = zoo.pretrained(zoo.entry(names[0])["base_model"])
    rows = studies.frontier_rows({"first": names[:1], "rest": names[1:]}, original, test, input_shape=(3, 32, 32))
    assert [(r["family"], r["name"]) for r in rows] == [("first", names[0]), ("rest", names[1]), ("rest", names[2])]
    for row, shipped in zip(rows, studies.shipped_rows(names, test, input_shape=(3, 32, 32)), strict=True):
        drop = studies.accuracy_difference(original, zoo.pretrained(row["name"]), test)
        assert {k: row[k] for k in shipped} == shipped
        assert (row["drop"], row["drop_low"], row["drop_high"], row["n"]) == (drop.mean, drop.low, drop.high, 200)
        recipe = recipes.RECIPES[row["name"]]
        assert (row["target_params_x"], row["target_macs_x"]) == (recipe.target_reduction, recipe.macs_reduction)
    with pytest.raises(ValueError, match="one or more zoo names"):
        studies.frontier_rows({"empty": []}, original, test, input_shape=(3, 32, 32))


def test_the_compared_networks_share_one_validation_split_and_the_chosen_cut():
    """The first of BASELINES is the one `aslib select` recorded as the best on the validation split, and every
    network of the comparison held out the same images and (where it has one) sits at the chosen cut."""
    entries = [zoo.entry(name) for name in recipes.BASELINES]
    record = entries[0]["selection"]
    scores = record["validation_accuracy"]
    assert record["chosen"] == recipes.BASELINES[0] == max(scores, key=scores.get)
    assert recipes.RECIPES[record["chosen"]].layer == recipes.CHOSEN_CUT
    assert {e["validation"]["indices_sha256"] for e in entries} == {record["validation"]["indices_sha256"]}
    for name in recipes.BASELINES:
        recipe = recipes.RECIPES[name]
        assert getattr(recipe, "layer", None) in (None, recipes.CHOSEN_CUT), name
        assert getattr(recipe, "cut", None) in (None, recipes.CHOSEN_CUT), name
        assert recipe.finetune == recipes.BASELINE_FINETUNE, name


def test_selection_rows_read_the_choice_from_the_manifest(monkeypatch):
    candidates = [n for n in recipes.RECIPES if n.endswith("_val14") and "_asnet_" in n]
    record = {"split": "validation", "validation": {"images": 5000}, "rule": "r", "chosen": candidates[1],
              "validation_accuracy": {candidates[0]: 0.5, candidates[1]: 0.75}}
    entries = {"chosen": {"name": "chosen", "selection": record}, "plain": {"name": "plain"}}
    monkeypatch.setattr(zoo, "entry", entries.__getitem__)
    rows = studies.selection_rows("chosen")
    assert [(r["candidate"], r["validation_accuracy"], r["chosen"]) for r in rows] == [
        (candidates[0], 0.5, False), (candidates[1], 0.75, True)]
    assert [r["cut"] for r in rows] == [recipes.RECIPES[c].layer for c in candidates[:2]]
    with pytest.raises(ValueError, match="no selection"):
        studies.selection_rows("plain")


def test_same_data_tells_copies_apart_and_recorded_accuracy_reports_other_data():
    entry = {"name": "net", "test_accuracy": 0.5}
    images = torch.randint(0, 256, (40, 1, 4, 4), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    labels = torch.arange(40) % 2
    test = data.ImageDataset(images, labels, mean=(0.5,), std=(0.25,), classes=["a", "b"], name="toy", split="test",
                             source="toy")
    assert not zoo.same_data(entry, test), "an entry without data_sha256 matches no data"
    entry["data_sha256"] = {"test": reproduction.data_identity(images, labels)}
    assert zoo.same_data(entry, test)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 2))
    check = studies.recorded_accuracy(model, test, entry)
    assert "the record's data" in check.basis and check.tolerance < 1
    flipped = data.ImageDataset(images, 1 - labels, mean=(0.5,), std=(0.25,), classes=["a", "b"], name="toy",
                                split="test", source="toy copy")
    assert not zoo.same_data(entry, flipped)
    other = studies.recorded_accuracy(model, flipped, entry)
    assert other.basis.startswith("OTHER data") and not other.binding
    assert other.tolerance == pytest.approx(1.96 * (2 * 0.25 / 40) ** 0.5, rel=0.3)
    with pytest.raises(ValueError, match="test split"):
        studies.recorded_accuracy(model, data.ImageDataset(images, labels, mean=(0.5,), std=(0.25,), classes=["a", "b"],
                                                           name="toy", split="train", source="toy"), entry)


def test_the_long_conv6_asnets_schedule_was_chosen_on_the_validation_split():
    """The shipped conv6 ASNet carries the record of `aslib select` between its two schedules: it is the one with the
    higher validation accuracy, the candidates differ only in their fine-tuning, and all held out the same images."""
    chosen = recipes.SCHEDULE_CANDIDATES[0]
    entry = zoo.entry(chosen)
    record = entry["selection"]
    scores = record["validation_accuracy"]
    assert record["chosen"] == chosen == max(scores, key=scores.get)
    assert sorted(scores) == sorted(recipes.SCHEDULE_CANDIDATES)
    assert entry["validation"] == record["validation"]
    assert zoo.metadata(chosen)["history"][-1]["validation_accuracy"] == scores[chosen]
    candidates = [recipes.RECIPES[name] for name in recipes.SCHEDULE_CANDIDATES]
    rest = [{k: v for k, v in dataclasses.asdict(r).items() if k != "finetune"} for r in candidates]
    assert rest[0] == rest[1]  # same cut, rank, degree, target, validation split and seed
    assert [r.finetune for r in candidates] == [recipes.GRADUAL_FINETUNE, recipes.RECIPE_FINETUNE]
