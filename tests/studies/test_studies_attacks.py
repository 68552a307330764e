"""The attack-study tables and figures of notebooks 06 and 07 (aslib.studies.attacks, aslib.teach.plotting.attacks)."""
import math

import matplotlib
from conftest import needs, sweep_rows

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

from aslib import attacks, data, studies
from aslib.teach import plotting
from aslib.studies import tables  # noqa: E402
from aslib.nets.models import build  # noqa: E402
from aslib.linalg.subspace import ActiveSubspace  # noqa: E402

SHAPE = (1, 4, 4)  # one channel: the Fashion-MNIST normalisation applies


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(16, 8), nn.ReLU(), nn.Linear(8, 3)).eval()


@pytest.fixture(scope="module")
def pair():
    generator = torch.Generator().manual_seed(1)
    return torch.randn(30, *SHAPE, generator=generator), torch.randint(0, 3, (30,), generator=generator)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_noise_sweep_rows_and_aggregate(lenet, crafting, held_out):
    shared = studies.SweepSettings(repeats=2, method_kwargs={"as": {"max_iter": 2}, "uap": {"max_passes": 1}})
    rows = studies.noise_sweep(lenet, crafting, (held_out[0][:100], held_out[1][:100]), xis=(3.0, 4.0),
                               n_samples=20, settings=shared)
    assert len(rows) == 2 * 2 * len(attacks.METHODS)
    assert {"repeat", "method", "xi", "train_attack_ratio", "test_fooling_rate", "time_s"} <= set(rows[0])
    summary = tables.aggregate(rows, by=["method", "xi"])
    assert len(summary) == 2 * len(attacks.METHODS) and all(row["count"] == 2 for row in summary)
    assert {"test_attack_ratio_mean", "test_attack_ratio_std"} <= set(summary[0])
    one_class = studies.sample_sweep(lenet, crafting, held_out, ns=(5, 10), xi=3.0, settings=studies.SweepSettings(
        classes=[1], repeats=1, method_kwargs={"as": {"max_iter": 1}}))
    assert [row["n_samples"] for row in one_class] == [5, 10] and one_class[0]["classes"] == "1"


def test_live_sweeps_craft_with_the_seed_rule_of_the_shipped_vectors(pair):
    """A random vector depends only on its seed: each row's ratio is that of the vector seeded by attack_seed."""
    x, y = pair
    with torch.random.fork_rng():
        torch.manual_seed(3)
        model = nn.Sequential(nn.Flatten(), nn.Linear(16, 3)).eval()  # linear: every direction moves its predictions
    rows = studies.noise_sweep(model, (x, y), (x, y), xis=(6.0, 9.0), n_samples=10, methods=("random",),
                               settings=studies.SweepSettings(repeats=3, seed=7))

    def ratio(row: dict, seed: int) -> float:
        return attacks.attack_ratio(model, x, y, attacks.random_perturbation(SHAPE, row["xi"], seed=seed))

    assert all(row["test_attack_ratio"] == ratio(row, attacks.attack_seed(7, row["repeat"], row["xi"])) for row in rows)
    # the check can tell seeds apart: another rule (the repeat alone) gives other ratios
    assert any(row["test_attack_ratio"] != ratio(row, 7 + row["repeat"]) for row in rows)


def test_sweep_settings_check_their_options():
    with pytest.raises(ValueError, match="method_kwargs maps method names"):
        studies.SweepSettings(method_kwargs={"as_": {}})
    with pytest.raises(ValueError, match="norm must be one of 'l2', 'linf'"):
        studies.SweepSettings(norm="l1")
    assert studies.SweepSettings(method_kwargs={"as": {"max_iter": 2}}).options("as") == {"max_iter": 2}
    assert studies.SweepSettings().options("uap") == {}


def test_transfer_matrix_pivot(lenet, crafting, held_out):
    other = build("lenet").eval()
    rows = studies.transfer_matrix({"a": lenet, "b": other}, crafting, (held_out[0][:50], held_out[1][:50]),
                                   xi=3.0, n_samples=10,
                                   settings=studies.SweepSettings(repeats=1, method_kwargs={"as": {"max_iter": 1}}))
    assert len(rows) == 4
    table = tables.pivot(rows, index="target", columns="source")
    assert [row["target"] for row in table] == ["a", "b"] and set(table[0]) == {"target", "a", "b"}


def test_craft_methods_gives_one_vector_of_norm_xi_per_method(model, pair):
    results = studies.craft_methods(model, *pair, 2.0, method_kwargs={"as": {"max_iter": 2}})
    assert list(results) == list(attacks.METHODS)
    assert all(math.isclose(r.vector.norm().item(), 2.0, rel_tol=1e-4) for r in results.values())
    assert results["as"].iterations <= 2
    with pytest.raises(ValueError, match="method_kwargs"):
        studies.craft_methods(model, *pair, 2.0, method_kwargs={"as_": {}})


def test_demo_rows_match_the_measures(model, pair):
    results = studies.craft_methods(model, *pair, 2.0, methods=("random",))
    (row,) = studies.demo_rows(model, pair, pair, results, dataset="toy")
    v = results["random"].vector
    assert row["method"] == "random" and row["data"] == "toy"
    assert row["train_attack_ratio"] == row["test_attack_ratio"] == attacks.attack_ratio(model, *pair, v)
    assert row["test_fooling_rate"] == attacks.fooling_rate(model, pair[0], v)
    with pytest.raises(ValueError, match=r"crafting must be an \(x, y\) pair of tensors"):
        studies.demo_rows(model, pair[0], pair, results, dataset="toy")


def test_perturbation_size_rows_closed_form():
    v = torch.zeros(SHAPE)
    v[0, 0, 0] = 3.0
    x = torch.zeros(5, *SHAPE)
    (row,) = studies.perturbation_size_rows({"as": attacks.AttackResult(v)}, x, dataset="fashion_mnist")
    std = float(data.pixel_scale("fashion_mnist").flatten()[0])
    assert row["l2_normalised"] == row["linf_normalised"] == 3.0
    assert math.isclose(row["pixel_l2"], 3 * std * 255, rel_tol=1e-5)
    assert math.isclose(row["pixel_rms"], row["pixel_l2"] / 4, rel_tol=1e-6)
    image_l2 = (data.denormalize(x, "fashion_mnist") * 255).flatten(1).norm(dim=1).mean().item()
    assert math.isclose(row["relative_to_mean_image_l2"], row["pixel_l2"] / image_l2, rel_tol=1e-6)
    with pytest.raises(ValueError):
        studies.perturbation_size_rows({"as": attacks.AttackResult(v)}, x[:0], dataset="fashion_mnist")


def test_sweep_table_shows_mean_and_std_per_xi():
    table = studies.sweep_table(sweep_rows())
    assert [line["xi"] for line in table] == ["5", "10"]
    assert table[1]["AS train"] == "0.60 ± 0.00"
    assert table[1]["AS test"] == f"0.51 ± {math.sqrt(0.0002):.2f}"
    assert table[0]["AS time (s)"] == f"1.5 ± {math.sqrt(0.5):.1f}"
    assert "random time (s)" not in table[0]
    with pytest.raises(ValueError):
        studies.sweep_table([])


def test_wall_time_rows_leave_random_out():
    rows = studies.wall_time_rows({"k": sweep_rows()}, titles={"k": "Toy"})
    assert [(r["setting"], r["method"], r["vectors"]) for r in rows] == [("Toy", "AS", 4), ("Toy", "UAP", 4)]
    assert rows[0]["iterations_or_passes"] == f"4.0 ± {math.sqrt(4 / 3 * 1):.1f}"


def test_largest_xi_summary_and_claims():
    means = studies.mean_test_ratios(sweep_rows(), 10.0)
    assert means == pytest.approx({"as": 0.51, "uap": 0.41, "random": 0.31})
    assert studies.mean_test_ratios(sweep_rows(), 7.0) == {}
    (row,) = studies.largest_xi_rows({"k": means}, xi=10.0, titles={"k": "Toy"})
    assert row["setting"] == "Toy"
    assert row["AS - UAP"] == pytest.approx(0.1) and row["AS - random"] == pytest.approx(0.2)
    assert "AS - SGD-UAP" not in row
    (row,) = studies.largest_xi_rows({"k": {**means, "sgd_uap": 0.61}}, xi=10.0)
    assert row["SGD-UAP test"] == 0.61 and row["AS - SGD-UAP"] == pytest.approx(-0.1)
    assert list(row)[3:] == ["UAP test", "SGD-UAP test", "random test", "AS - UAP", "AS - SGD-UAP", "AS - random"]


def test_transfer_table_adds_the_baselines(model, pair):
    other = nn.Sequential(nn.Flatten(), nn.Linear(16, 3)).eval()
    models = {"a": model, "b": other}
    rows = [{"source": s, "target": t, "test_attack_ratio": 0.1 * i + 0.05 * r}
            for r in range(2) for i, (s, t) in enumerate((s, t) for s in models for t in models)]
    matrix = studies.transfer_table(rows, models, pair, xi=2.0, repeats=2)
    assert [row["target"] for row in matrix] == ["a", "b"]
    assert matrix[0]["a"] == pytest.approx(0.025) and matrix[0]["b"] == pytest.approx(0.225)
    x, y = pair
    for row in matrix:
        target = models[row["target"]]
        assert row["clean_error"] == attacks.attack_ratio(target, x, y, torch.zeros_like(x[0]))
        expected = sum(attacks.attack_ratio(target, x, y, attacks.random_perturbation(SHAPE, 2.0, seed=s))
                       for s in range(2)) / 2
        assert row["random"] == pytest.approx(expected)
    with pytest.raises(ValueError):
        studies.transfer_table(rows, {"a": model}, pair, xi=2.0, repeats=2)


def test_sample_sweep_table_per_classes_and_n():
    rows = [dict(r, classes=c, n_samples=n) for r in sweep_rows()[:1] for c in ("1", "all") for n in (10, 20)]
    table = studies.sample_sweep_table(rows)
    assert [(t["classes"], t["n_samples"]) for t in table] == [("1", 10), ("1", 20), ("all", 10), ("all", 20)]
    assert table[0]["train_minus_test"] == pytest.approx(0.1)
    assert table[0]["time_s"] == "1.0"  # one repeat: a value, no spread


def test_linf_budgets_and_table():
    xis = studies.linf_budgets([8.0, 4.0], "cifar10")
    largest = float(data.pixel_scale("cifar10").max())
    assert xis == pytest.approx([8 / 255 / largest, 4 / 255 / largest])
    assert (data.pixel_scale("cifar10") * xis[0] * 255 <= 8 + 1e-6).all()
    with pytest.raises(ValueError):
        studies.linf_budgets([0.0], "cifar10")
    table = studies.linf_table(sweep_rows(), {5.0: 4.0, 10.0: 8.0})
    assert [(t["eps_255"], t["method"]) for t in table][:3] == [("4", "AS"), ("4", "random"), ("4", "UAP")]
    assert table[0]["test_fooling_rate"] == "0.24 ± 0.00"


def test_bound_rows_pair_each_row_with_its_clean_error():
    rows = studies.bound_rows({"s": sweep_rows()[:2], "t": sweep_rows()[2:3]}, {"all": 0.3})
    assert [(r["sweep"], r["method"]) for r in rows] == [("s", "AS"), ("s", "UAP"), ("t", "random")]
    assert all(r["clean_error"] == 0.3 and r["ratio_minus_fooling"] == pytest.approx(0.01) for r in rows)
    with pytest.raises(KeyError):
        studies.bound_rows({"s": sweep_rows()}, {"1": 0.3})


def test_clipping_rows_never_enlarge_the_perturbation(model, pair):
    v = attacks.random_perturbation(SHAPE, 3.0, seed=0)
    x = pair[0]
    tight = (x.min().view(1, 1, 1), x.max().view(1, 1, 1))  # the smallest box that contains every x
    (row,) = studies.clipping_rows(model, pair, {"random": v}, bounds=tight)
    assert 0 < row["clip_norm_ratio"] < 1
    wide = (torch.full((1, 1, 1), -1e3), torch.full((1, 1, 1), 1e3))
    (loose,) = studies.clipping_rows(model, pair, {"random": v}, bounds=wide)
    assert loose["clip_norm_ratio"] == pytest.approx(1.0)
    assert loose["test_attack_ratio_clipped"] == loose["test_attack_ratio_unclipped"]


def test_spectrum_rows_closed_form():
    gradients = torch.zeros(4, 10, dtype=torch.float64)
    gradients[:, :4] = torch.diag(torch.tensor([3.0, 2.0, 1.0, 1.0], dtype=torch.float64))  # C: 9, 4, 1, 1 / 4
    (row,) = studies.spectrum_rows({"toy": ActiveSubspace("exact").fit(gradients)})
    assert (row["d"], row["m"]) == (10, 4)
    assert row["lambda_1_share"] == pytest.approx(9 / 15)
    assert row["lambda_1_d_share"] == pytest.approx(90 / 15)
    assert (row["directions for 50%"], row["directions for 90%"], row["directions for 99%"]) == (1, 3, 4)
    assert row["active (delta=0.95, code)"] == 3  # the code convention: energy > delta ** 2


def test_eigen_directions_of_a_known_vector(model, pair):
    gradients = torch.randn(40, 16, generator=torch.Generator().manual_seed(2))
    subspace = ActiveSubspace("exact").fit(gradients)
    v1 = 2.0 * subspace.components[:, 0].float().view(SHAPE)
    study = studies.eigen_directions(model, subspace, pair, v1, xi=2.0, top_k=3, n_random=2)
    assert len(study.eigen) == 3 and study.random.shape == (2,) and study.dim == 16 and study.n_eval == 30
    assert study.cosine == pytest.approx(1.0, abs=1e-5)
    assert study.captured[0] == pytest.approx(1.0, abs=1e-5)
    assert study.eigen[0] >= study.recursive  # the better sign of the same vector
    assert study.clean == attacks.attack_ratio(model, *pair, torch.zeros(SHAPE))
    rows = studies.eigen_direction_rows(study)
    assert [r["direction"] for r in rows] == ["v_1", "v_2", "v_3", "random (mean of 2)", "recursive AS vector",
                                              "none (clean error)"]
    assert rows[3]["lambda_k_share"] == 1 / 16
    with pytest.raises(ValueError, match="top_k"):
        studies.eigen_directions(model, subspace, pair, v1, xi=2.0, top_k=0, n_random=2)


def test_attack_figures(model, pair):
    rows = sweep_rows()
    fig = plotting.attack_ratio_grid({"a": rows, "b": rows}, titles={"a": "A"}, floors={"a": 0.1, "b": 0.2})
    assert len(fig.axes) == 4 and fig.axes[0].get_title() == "A\ntrain"
    with pytest.raises(ValueError):
        plotting.attack_ratio_grid({}, titles={}, floors={})
    results = studies.craft_methods(model, *pair, 2.0, method_kwargs={"as": {"max_iter": 2}, "uap": {"max_passes": 1}})
    fig = plotting.attack_histories({"toy": results}, clean_error={"toy": 0.5}, titles={}, xi=2.0)
    assert len(fig.axes[0].lines) == 4  # AS, UAP, SGD-UAP and the clean error
    assert len(plotting.perturbation_grid(results, title="toy", xi=2.0).axes) == len(results)
    vectors = {"clean": torch.zeros(SHAPE), "AS": results["as"].vector}
    fig = plotting.attacked_images(model, pair[0][:4], pair[1][:4], vectors, class_names=["a", "b", "c"],
                                   to_display=lambda x: x.clamp(0, 1))
    assert len(fig.axes) == 8 and fig.axes[0].get_title().startswith("clean: ")
    with pytest.raises(ValueError):
        plotting.attacked_images(model, pair[0][:4], pair[1][:3], vectors, class_names=["a", "b", "c"],
                                 to_display=lambda x: x)


def test_study_figures(model, pair):
    from aslib.studies.tables import aggregate

    rows = [dict(r, classes=c, n_samples=n) for r in sweep_rows()[:1] for c in ("1", "all") for n in (10, 20)]
    fig = plotting.sample_sweep_panels(aggregate(rows, by=("classes", "n_samples")), floors={"1": 0.1, "all": 0.2},
                                       class_names=["zero", "one"])
    assert [ax.get_title() for ax in fig.axes] == ["one-class (one)", "all-class"]
    with pytest.raises(ValueError):
        plotting.sample_sweep_panels([], floors={}, class_names=[])
    fig = plotting.ratio_vs_fooling({"s": sweep_rows(), "t": sweep_rows()[:2]}, clean_error=0.2)
    assert len(fig.axes[0].collections) == 2
    subspace = ActiveSubspace("exact").fit(torch.randn(20, 16, generator=torch.Generator().manual_seed(3)))
    study = studies.eigen_directions(model, subspace, pair, attacks.random_perturbation(SHAPE, 2.0), xi=2.0, top_k=2,
                                     n_random=2)
    assert len(plotting.eigen_direction_figure(study).axes) == 2


def test_paired_gaps_use_only_common_repeats_and_the_gap_table():
    rows = [{"method": m, "repeat": r, "test_attack_ratio": v} for m, r, v in
            [("as", 0, 0.5), ("as", 1, 0.6), ("as", 2, 0.7), ("uap", 0, 0.3), ("uap", 1, 0.5), ("random", 2, 0.1)]]
    gaps = studies.paired_gaps(rows, against=("uap", "random", "sgd_uap"))
    assert set(gaps) == {"uap", "random"}
    assert gaps["uap"].n == 2 and gaps["uap"].mean == pytest.approx(0.15)
    assert gaps["random"].n == 1 and gaps["random"].low is None
    table = studies.gap_table(gaps)
    assert table[0]["difference"] == "AS - UAP" and table[1]["ci95"] == "n < 2"


@needs("fashion_mnist")
def test_shipped_study_evaluates_every_shipped_repeat(lenet, held_out):
    from aslib.store import vectors

    if not vectors.records("lenet_fashion_mnist", method="as", xi=10.0):
        pytest.skip("no shipped LeNet vectors at xi=10")
    rows = studies.shipped_study(lenet, "lenet_fashion_mnist", held_out, xi=10.0)
    shipped = vectors.shipped_vectors("lenet_fashion_mnist", "as", 10.0)
    as_rows = [r for r in rows if r["method"] == "as"]
    assert len(as_rows) == len(shipped)
    assert as_rows[0]["test_attack_ratio"] == pytest.approx(attacks.attack_ratio(lenet, *held_out, shipped[0]))
    table = studies.shipped_table(rows)
    assert {row["method"] for row in table} <= {"AS", "UAP", "SGD-UAP", "random", "checkerboard"} and table[0]["n"] == len(shipped)


@pytest.fixture
def store(tmp_path, monkeypatch):
    from aslib.store import vectors

    monkeypatch.setattr(vectors, "STORE", tmp_path)
    return tmp_path


@needs("fashion_mnist")
def test_shipped_transfer_evaluates_each_source_vector_on_every_target(store, lenet, small_lenet, held_out):
    from aslib.store import vectors

    vectors.craft_vectors("lenet_fashion_mnist", xis=[3.0], repeats=2, experiment="transfer",
                          methods=["sgd_uap", "random"], device="cpu", progress=False)
    models = {"shipped": lenet, "quick": small_lenet}
    rows = studies.shipped_transfer(models, {"shipped": "lenet_fashion_mnist"}, held_out, xi=3.0)
    assert len(rows) == 2 * 2 * 2 and {r["target"] for r in rows} == {"shipped", "quick"}
    v = vectors.shipped_vectors("lenet_fashion_mnist", "sgd_uap", 3.0, experiment="transfer")[1]
    row = next(r for r in rows if (r["method"], r["repeat"], r["target"]) == ("sgd_uap", 1, "quick"))
    assert row["test_attack_ratio"] == pytest.approx(attacks.attack_ratio(small_lenet, *held_out, v))
    table = studies.shipped_transfer_table(rows)
    assert sorted((t["target"], t["method"]) for t in table) == [("quick", "SGD-UAP"), ("quick", "random"),
                                                                 ("shipped", "SGD-UAP"), ("shipped", "random")]
    assert all(t["n"] == 2 and "±" in t["from shipped"] for t in table)
    with pytest.raises(ValueError, match="source labels"):
        studies.shipped_transfer(models, {"other": "lenet_fashion_mnist"}, held_out, xi=3.0)
    with pytest.raises(ValueError, match="no shipped transfer vectors"):
        studies.shipped_transfer_table([])


@needs("fashion_mnist")
def test_search_diagnostics_read_the_history_of_each_shipped_as_vector(store, lenet, held_out):
    from aslib.store import vectors

    (record,) = vectors.craft_vectors("lenet_fashion_mnist", xis=[3.0], repeats=1, experiment="oneclass",
                                      methods=["as"], device="cpu", progress=False)
    (row,) = studies.search_diagnostics(lenet, "lenet_fashion_mnist", held_out, xi=3.0, experiment="oneclass")
    history = record["history"]
    assert row["iterations"] == len(history) == record["iterations"]
    assert history[row["best_iteration"] - 1] == max(history) and row["first_step"] == history[0]
    assert 1 <= row["improvements"] <= row["best_iteration"]
    # the AS attack stops after 10 non-improving iterations, after 100 iterations, or when all are fooled
    expected = ("all fooled" if history[-1] >= 1 else "max_iter" if len(history) == 100 else "patience")
    assert row["stop"] == expected
    if expected == "patience":
        assert len(history) - row["best_iteration"] == 10
    shipped = vectors.shipped_vectors("lenet_fashion_mnist", "as", 3.0, classes=[1])[0]
    assert row["test_attack_ratio"] == pytest.approx(attacks.attack_ratio(lenet, *held_out, shipped))
    with pytest.raises(ValueError, match="search histories"):
        studies.search_diagnostics(lenet, "lenet_fashion_mnist", held_out, xi=3.0, solver="authors")


def test_vector_cosines_is_the_gram_matrix_of_unit_vectors():
    a, b = torch.tensor([[3.0, 0.0]]), torch.tensor([[1.0, 1.0]])
    cos = studies.vector_cosines([a, b, -a])
    expected = torch.tensor([[1, 2 ** -0.5, -1], [2 ** -0.5, 1, -(2 ** -0.5)], [-1, -(2 ** -0.5), 1]],
                            dtype=torch.float64)
    assert torch.allclose(cos, expected)
    with pytest.raises(ValueError, match="same shape"):
        studies.vector_cosines([a, torch.zeros(3)])


def test_shipped_sweep_table_has_one_row_per_noise_level_with_paired_gaps():
    rows = [{"method": m, "repeat": r, "xi": xi, "train_attack_ratio": 0.1 * r + base + 0.1,
             "test_attack_ratio": 0.1 * r + base}
            for xi in (5.0, 10.0) for r in range(3)
            for m, base in (("as", 0.4 + xi / 100), ("uap", 0.2), ("random", 0.1))]
    table = studies.shipped_sweep_table(rows)
    assert [t["xi"] for t in table] == [5.0, 10.0] and all(t["n"] == 3 for t in table)
    # AS - UAP is the same on every repeat: mean 0.25 at xi = 5 with a zero-width interval
    assert table[0]["AS - UAP (test)"] == "+0.250 [+0.250, +0.250]"
    assert table[1]["AS - random (test)"].startswith("+0.400") and "SGD-UAP test" not in table[1]
    assert table[1]["AS test"] == "0.600 ± 0.100"
    with pytest.raises(ValueError, match="no shipped vectors"):
        studies.shipped_sweep_table([])


def test_as_start_study_pairs_the_two_sgd_uap_runs_and_measures_shares(model, pair):
    x, y = pair
    sets = [(x[:15], y[:15]), (x[15:], y[15:])]
    starts = [attacks.as_attack(model, *s, 2.0, max_iter=2).vector for s in sets]
    rows = studies.as_start_study(model, sets, starts, pair, xi=2.0, rank=2, epochs=2)
    assert [r["set"] for r in rows] == [0, 1] and all(r["dim"] == 16 and r["rank"] == 2 for r in rows)
    for r in rows:
        assert all(0 <= r[k] <= 1 for k in ("as_share", "sgd_uap_share", "sgd_uap_from_as_share", "as_test"))
    # the run from zero is plain SGD-UAP with the set's seed
    plain = attacks.sgd_uap(model, *sets[1], 2.0, seed=1, epochs=2).vector
    assert rows[1]["sgd_uap_test"] == attacks.attack_ratio(model, *pair, plain)
    # with every input direction in the subspace each share is 1
    full = studies.as_start_study(model, sets[:1], starts[:1], pair, xi=2.0, rank=15, epochs=1)
    assert full[0]["as_share"] <= 1 + 1e-9
    table = studies.as_start_table(rows)
    assert len(table) == 7 and table[-1]["mean"] == pytest.approx(2 / 16)
    assert table[0]["n"] == 2 and table[0]["mean"] == pytest.approx(
        sum(r["sgd_uap_from_as_test"] - r["sgd_uap_test"] for r in rows) / 2)
    for bad, match in [(dict(as_vectors=starts[:1]), "one AS vector"), (dict(rank=40), "rank")]:
        kwargs = dict(crafting_sets=sets, as_vectors=starts, test=pair, xi=2.0, rank=2, epochs=1) | bad
        with pytest.raises(ValueError, match=match):
            studies.as_start_study(model, **kwargs)
    with pytest.raises(ValueError, match="no rows"):
        studies.as_start_table([])


def test_strongest_rival_names_the_best_other_method_and_the_right_interval():
    from aslib.linalg.stats import difference_of_proportions, paired_difference

    one = [{"method": m, "xi": 0.1, "repeat": 0, "test_attack_ratio": v}
           for m, v in (("as", 0.17), ("uap", 0.18), ("checkerboard", 0.16))] + \
          [{"method": "uap", "xi": 0.05, "repeat": 0, "test_attack_ratio": 0.9}]  # another budget: ignored
    rival = studies.strongest_rival(one, 0.1, 1000)
    assert (rival["rival"], rival["basis"], rival["n"]) == ("UAP", "test images", 1)
    assert (rival["low"], rival["high"]) == pytest.approx(difference_of_proportions(0.17, 0.18, 1000, 1000))
    assert rival["verdict"] == "cannot be told apart"
    repeated = [{"method": m, "xi": 1.0, "repeat": k, "test_attack_ratio": v}
                for m, values in (("as", (0.50, 0.55, 0.52)), ("sgd_uap", (0.60, 0.66, 0.61)),
                                  ("random", (0.1, 0.1, 0.1))) for k, v in enumerate(values)]
    rival = studies.strongest_rival(repeated, 1.0, 1000)
    expected = paired_difference([0.50, 0.55, 0.52], [0.60, 0.66, 0.61])
    assert (rival["rival"], rival["basis"], rival["n"]) == ("SGD-UAP", "crafting sets", 3)
    assert (rival["low"], rival["high"]) == pytest.approx((expected.low, expected.high))
    assert rival["verdict"] == "SGD-UAP ahead" and rival["difference"] == pytest.approx(expected.mean)
    with pytest.raises(ValueError, match="need 'as' and another method"):
        studies.strongest_rival(repeated, 2.0, 1000)
