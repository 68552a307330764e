"""Tests of aslib.studies.layers: estimator checks on known spectra and active neurons across layers."""
import pytest
import torch

from aslib import studies
from aslib.linalg import subspace
from aslib.linalg.subspace import ActiveSubspace
from aslib.nets.layer_analysis import LayerAnalysis
from aslib.nets.models import build, cut_points


def ridge_gradients(m=300, n=20, rank=2, seed=0):
    """Gradients (m, n) lying in a known rank-dimensional subspace A (n, rank), with distinct weights."""
    g = torch.Generator().manual_seed(seed)
    a = torch.linalg.qr(torch.randn(n, rank, generator=g, dtype=torch.float64))[0]
    weights = torch.arange(rank, 0, -1, dtype=torch.float64)
    return (torch.randn(m, rank, generator=g, dtype=torch.float64) * weights) @ a.T, a


def isotropic(m=300, n=20, seed=1):
    return torch.randn(m, n, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def test_stability_table_separates_gap_from_no_gap():
    grads, _ = ridge_gradients(rank=1)
    rows = studies.stability_table({"ridge": ActiveSubspace("exact").fit(grads),
                                    "flat": ActiveSubspace("exact").fit(isotropic())}, ranks=(1, 2), n_boot=20)
    assert [(r["function"], r["rank"]) for r in rows] == [("ridge", 1), ("ridge", 2), ("flat", 1), ("flat", 2)]
    assert rows[0]["median_bootstrap_distance"] < 1e-8  # rank-one gradients: every resample spans the line
    assert rows[2]["median_bootstrap_distance"] > 0.3  # no gap: the leading direction is not identifiable
    assert rows[0]["lambda_r"] >= rows[0]["lambda_r_plus_1"]
    with pytest.raises(ValueError, match="rank"):
        studies.stability_table({"ridge": ActiveSubspace("exact").fit(grads)}, ranks=(20,))


def test_compare_estimators_reference_against_itself():
    grads, a = ridge_gradients()
    exact = ActiveSubspace("exact").fit(grads)
    fd = ActiveSubspace("frequent_directions", sketch_size=5).fit(grads)
    rows = studies.compare_estimators({"exact": exact, "fd": fd}, exact, a, rank=2, seconds={"exact": 1.0, "fd": 2.0})
    assert rows[0]["numbers_stored"] == grads.numel()
    assert rows[1]["numbers_stored"] == fd.store.sketch.numel() <= 2 * 5 * 20  # at most 2 l rows of n numbers
    assert rows[0]["distance to exact (top k)"] < 1e-10 and rows[0]["max rel. error of lambda_1..k"] == 0
    assert rows[0]["distance to population (top k)"] < 1e-10  # gradients lie exactly in span(A)
    assert rows[1]["seconds"] == 2.0
    assert "seconds" not in studies.compare_estimators({"exact": exact}, exact, a, rank=2)[0]
    with pytest.raises(ValueError, match="rank"):
        studies.compare_estimators({"exact": exact}, exact, a, rank=3)


def test_fd_bound_table_holds_and_rejects_exact():
    grads = isotropic(m=200, n=30)
    sketches = [ActiveSubspace("frequent_directions", sketch_size=ell).fit(grads) for ell in (6, 10)]
    rows = studies.fd_bound_table(grads, sketches)
    assert [(r["l"], r["k"]) for r in rows] == [(6, 0), (6, 3), (10, 0), (10, 5)]
    assert all(r["holds"] and 0 < r["error_over_bound"] <= 1 for r in rows)
    with pytest.raises(ValueError, match="frequent_directions"):
        studies.fd_bound_table(grads, [ActiveSubspace("exact").fit(grads)])


def test_count_conventions_closed_form_for_a_flat_spectrum():
    # C = I in n = 100 dimensions: E_r = r / n, so the code convention needs r > 90.25, the paper r >= 95
    flat = torch.ones(100, dtype=torch.float64)
    est = ActiveSubspace("exact").fit(torch.eye(100, dtype=torch.float64) * 10)
    rows = studies.count_conventions(flat, {"exact": est}, deltas=(0.95,), authors="exact")
    assert rows == [{"delta": 0.95, "population (code)": 91, "exact (code)": 91, "population (paper)": 95,
                     "exact (paper)": 95, "authors' index (exact)": 90}]
    with pytest.raises(ValueError, match="authors"):
        studies.count_conventions(flat, {"exact": est}, authors="fd")


def test_cut_neurons_matches_the_pre_model_and_restores_mode():
    model = build("lenet").train()
    cuts = studies.cut_neurons(model, (1, 28, 28))
    assert list(cuts) == cut_points(model)
    assert model.training and all(m.training for m in model.modules()), "the model's mode is restored"
    names = [name for name, _ in model.named_children()]
    with torch.no_grad():
        for layer, (shape, neurons) in cuts.items():
            out = model.eval()[:names.index(layer) + 1](torch.zeros(1, 1, 28, 28))
            assert tuple(out.shape[1:]) == shape and neurons == out[0].numel()
    assert cuts["conv1"] == ((20, 12, 12), 2880)  # 5x5 conv: 28 -> 24, then 2x2 max-pool: 12
    with pytest.raises(ValueError, match="image_shape"):
        studies.cut_neurons(model, ())


def test_layer_table_adds_kept_directions_and_leading_fraction():
    grads, _ = ridge_gradients(rank=1)
    analysis = LayerAnalysis(line=ActiveSubspace("exact").fit(grads), flat=ActiveSubspace("exact").fit(isotropic()))
    rows = studies.layer_table(analysis)
    assert [r["layer"] for r in rows] == ["line", "flat"]
    assert rows[0]["lambda_1_share"] == pytest.approx(1.0) and rows[0]["active@0.95"] == 1
    assert 0 < rows[1]["lambda_1_share"] < 0.5
    assert all(r["directions kept"] == 20 for r in rows)
    with pytest.raises(ValueError, match="empty"):
        studies.layer_table({})


def test_count_reliability_rank_cap_and_unshrunk_sketch():
    grads, _ = ridge_gradients(m=64, n=30, rank=3)
    rows = studies.count_reliability(grads, sizes=[8, 16, 64], sketch_sizes=[32, 4])
    assert [r["images_m"] for r in rows] == [8, 16, 64]
    for row in rows:
        assert row["exact"] <= 3 and row["exact"] <= row["exact_paper_convention"]
        assert row["FD l=32"] == row["exact"]  # 2 l >= m: no shrinkage, the sketch is exact
        assert row["FD l=32, authors"] == row["FD l=32"] - 1
        assert row["FD l=4"] >= row["exact"] or row["FD l=4"] == row["FD l=4 kept"]
    with pytest.raises(ValueError, match="sizes"):
        studies.count_reliability(grads, sizes=[65], sketch_sizes=[4])


def test_count_by_images_stops_on_a_ridge_and_grows_on_isotropic_gradients():
    # rows in a 3-dimensional subspace: once m >= 3 the count is that of the fixed spectrum, whatever the images
    grads, _ = ridge_gradients(m=200, n=30, rank=3)
    ridge = studies.count_by_images(grads, sizes=[50, 100, 200], draws=10)
    assert [r["images_m"] for r in ridge["rows"]] == [50, 100, 200]
    assert [r["subsets"] for r in ridge["rows"]] == [10, 10, 1]
    assert ridge["rows"][-1]["count_std"] == 0  # every order holds all 200 images
    assert ridge["rows"][-1]["count_mean"] == ActiveSubspace("exact").fit(grads).n_active(0.95)
    assert all(r["count_high"] <= 3 for r in ridge["rows"])
    assert ridge["growth"]["verdict"] == "stopped growing" and ridge["growth"]["factor_high"] < 1.1
    # isotropic rows in 400 dimensions: the count is capped by the rank m and nearly doubles with it
    flat = studies.count_by_images(isotropic(m=120, n=400), sizes=[30, 60, 120], draws=8, seed=3)
    for row in flat["rows"]:
        assert row["count_low"] <= row["count_mean"] <= row["count_high"] <= row["images_m"]
    assert flat["growth"]["verdict"] == "still growing" and flat["growth"]["factor_low"] > 1.5
    assert flat["rows"][-1]["count_mean"] == ActiveSubspace("exact").fit(isotropic(m=120, n=400)).n_active(0.95)
    for bad, match in [(dict(sizes=[100, 50]), "ascending"), (dict(sizes=[50, 201]), "sizes"),
                       (dict(sizes=[50]), "two"), (dict(sizes=[50, 100], draws=1), "draws"),
                       (dict(sizes=[50, 100], level=1.5), "level")]:
        with pytest.raises(ValueError, match=match):
            studies.count_by_images(grads, **bad)


def test_captured_energy_extremes_and_monotone():
    grads, a = ridge_gradients(rank=2)
    est = ActiveSubspace("exact").fit(grads)
    assert studies.captured_energy(grads, est, 2) == pytest.approx(1.0)
    flat = ActiveSubspace("exact").fit(isotropic())
    energies = [studies.captured_energy(isotropic(), flat, k) for k in (1, 5, 20)]
    assert 0 < energies[0] < energies[1] < energies[2] == pytest.approx(1.0)
    orth = ActiveSubspace("exact").fit(isotropic() - isotropic() @ a @ a.T)  # gradients orthogonal to span(A)
    assert studies.captured_energy(grads, orth, 5) < 1e-20
    with pytest.raises(ValueError, match="rank"):
        studies.captured_energy(grads, est, 0)


def test_compare_subspaces_reference_row_and_noise_row():
    grads, _ = ridge_gradients(rank=3)
    ref = ActiveSubspace("exact").fit(grads)
    other = ActiveSubspace("exact").fit(isotropic())
    boots = {k: subspace.bootstrap(ref, n_boot=5, rank=k) for k in (1, 2)}
    rows = studies.compare_subspaces({"ref": ref, "other": other}, ref, grads, ranks=(1, 2), rank=3,
                                     bootstraps=boots, noise_label="noise")
    assert [r["variant"] for r in rows] == ["ref", "other", "noise (5 resamples)"]
    assert rows[0]["distance k=1"] < 1e-10 and rows[0]["eval energy in top 3"] == pytest.approx(1.0)
    assert rows[1]["eval energy in top 3"] < 1 and rows[1]["distance k=2"] > 0.1
    assert rows[2]["trace"] == "-" and rows[2]["distance k=1"] == float(boots[1]["distances"].median())
    assert len(studies.compare_subspaces({"ref": ref}, ref, grads, ranks=(1,), rank=1)) == 1


def test_authors_counts_is_the_off_by_one_of_the_sketch_count():
    grads = isotropic(m=200, n=40)
    analysis = {"a": ActiveSubspace("frequent_directions", sketch_size=8).fit(grads)}
    (row,) = studies.authors_counts(analysis)
    assert row["n_active_authors"] == row["count_on_sketch_energy"] - 1
    assert row["count_on_sketch_energy"] <= row["n_active_exact_trace"]  # the sketch's own energy is smaller
    assert 0 < row["sketch_energy_share"] < 1 and row["neurons"] == 40
