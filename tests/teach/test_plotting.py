"""Tests of aslib.teach.plotting: every function returns a figure whose artists hold the data it was given."""
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from aslib.teach import plotting  # noqa: E402
from aslib.linalg.subspace import ActiveSubspace  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def line_data(ax):
    return {line.get_label(): (list(line.get_xdata()), list(line.get_ydata())) for line in ax.get_lines()}


def test_error_and_bound_plots_both_columns():
    rows = [{"r": r, "err": 10.0 ** -r, "tail": 2 * 10.0 ** -r} for r in range(3)]
    fig = plotting.error_and_bound(rows, "r", "err", "tail", labels=("error", "bound"))
    ax = fig.axes[0]
    assert ax.get_yscale() == "log"
    assert line_data(ax) == {"error": ([0, 1, 2], [1.0, 0.1, 0.01]), "bound": ([0, 1, 2], [2.0, 0.2, 0.02])}
    with pytest.raises(ValueError, match="no rows"):
        plotting.error_and_bound([], "r", "err", "tail")


def test_counts_vs_images_one_line_per_estimator_in_column_order():
    rows = [{"images_m": m, "exact": m // 2, "exact_paper_convention": m, "FD l=4": m // 2 + 1, "FD l=4, authors": 1,
             "FD l=4 kept": 4} for m in (8, 16)]
    ax = plotting.counts_vs_images(rows, title="t").axes[0]
    assert line_data(ax) == {"exact": ([8, 16], [4, 8]), "FD l=4": ([8, 16], [5, 9]),
                             "FD l=4, authors' index": ([8, 16], [1, 1])}
    assert ax.get_title() == "t" and ax.get_ylabel() == "active neurons"
    with pytest.raises(ValueError, match="no rows"):
        plotting.counts_vs_images([])


def test_sufficient_summary_2d_scatters_and_checks_shapes():
    z, values = torch.randn(50, 3), torch.randn(50)
    fig = plotting.sufficient_summary_2d(z, values)
    assert len(fig.axes) == 3  # two panels and the colour bar
    left, right = fig.axes[0].collections[0].get_offsets(), fig.axes[1].collections[0].get_offsets()
    assert torch.allclose(torch.as_tensor(left[:, 0]), z[:, 0].double()) and torch.allclose(
        torch.as_tensor(left[:, 1]), values.double())
    assert torch.allclose(torch.as_tensor(right), z[:, :2].double())
    with pytest.raises(ValueError, match="z"):
        plotting.sufficient_summary_2d(z[:, 0], values)


def test_sufficient_summary_and_eigenvalue_decay():
    ax = plotting.sufficient_summary(torch.arange(4.0), torch.arange(4.0) ** 2).axes[0]
    assert ax.collections[0].get_offsets()[:, 1].tolist() == [0, 1, 4, 9]
    est = ActiveSubspace("exact").fit(torch.diag(torch.tensor([4.0, 2.0, 1.0], dtype=torch.float64)))
    ax = plotting.eigenvalue_decay({"d": est}, top=2).axes[0]
    x, y = line_data(ax)["d"]
    assert x == [1, 2] and y == pytest.approx([16 / 21, 4 / 21])  # eigenvalues g^2 / m over the trace


def test_active_neurons_clips_zero_counts_to_one():
    rows = [{"layer": "a", "neurons": 100, "active@0.95": 0}, {"layer": "b", "neurons": 10, "active@0.95": 3}]
    lines = line_data(plotting.active_neurons(rows).axes[0])
    assert lines["neurons"][1] == [100, 10] and lines["active neurons (active@0.95)"][1] == [1, 3]


def test_curves_and_image_helpers():
    rows = [{"x": 1, "y": 2.0, "g": "a"}, {"x": 0, "y": 1.0, "g": "a"}, {"x": 0, "y": 5.0, "g": "b"}]
    assert line_data(plotting.curves(rows, "x", "y", "g").axes[0]) == {"a": ([0, 1], [1.0, 2.0]), "b": ([0], [5.0])}
    fig = plotting.image_grid(torch.rand(5, 3, 4, 4), [str(i) for i in range(5)], ncols=3)
    assert len(fig.axes) == 6 and sum(bool(ax.images) for ax in fig.axes) == 5
    shown = plotting.perturbation_image(torch.tensor([[[-2.0, 0.0, 1.0]]]))
    assert shown.tolist() == [[[0.0, 0.5, 0.75]]]


def test_deepfool_paths_end_across_a_boundary_and_the_toy_figure_draws_them():
    from aslib import studies
    from aslib.teach.plotting import deepfool_toy

    torch.manual_seed(1)
    toy = torch.nn.Sequential(torch.nn.Linear(2, 16), torch.nn.Tanh(), torch.nn.Linear(16, 3)).eval()
    points = torch.randn(6, 2)
    paths = studies.deepfool_paths(toy, points, steps=3)
    assert paths.shape == (4, 6, 2) and torch.equal(paths[0], points)
    with torch.no_grad():
        assert bool((toy(paths[-1]).argmax(1) != toy(points).argmax(1)).all())
    fig = deepfool_toy(toy, paths, universal={"v": torch.tensor([0.5, 0.0])})
    assert len(fig.axes[0].lines) >= 3 * 6 and fig.axes[0].get_legend() is not None
    with pytest.raises(ValueError, match=r"paths must be a floating-point tensor of shape \(s, b, 2\), .*its axis 2 "
                                         "must have size 2, not 1"):
        deepfool_toy(toy, paths[:, :, :1])


def test_softened_probabilities_one_bar_group_per_temperature():
    from aslib.teach.plotting import softened_probabilities

    fig = softened_probabilities(torch.tensor([3.0, 1.0, -2.0]), [1, 4], ["a", "b", "c"])
    assert len(fig.axes[0].patches) == 6
    with pytest.raises(ValueError, match="class names"):
        softened_probabilities(torch.zeros(3), [1], ["a", "b"])


def test_projection_curves_need_the_unprojected_row():
    from aslib.teach.plotting import projection_curves

    rows = [{"directions": "none", "rank": 10, "accuracy": 0.9},
            {"directions": "PCA", "rank": 1, "accuracy": 0.3}, {"directions": "PCA", "rank": 5, "accuracy": 0.7}]
    fig = projection_curves(rows, layer="conv5")
    assert len(fig.axes[0].lines) == 2
    with pytest.raises(ValueError, match="none"):
        projection_curves(rows[1:], layer="conv5")


def test_frontier_curves_plot_the_drop_in_points_against_both_reductions_with_the_papers_marks():
    rows = [{"family": family, "nonzero_params_x": x, "sparse_macs_x": x / 3, "drop": d, "drop_low": d - 0.01,
             "drop_high": d + 0.02}
            for family, points in (("asnet", ((11, 0.01), (24, 0.05))), ("pruned", ((11, 0.0),))) for x, d in points]
    fig = plotting.frontier_curves(rows, paper=(23.98, 7.3))
    for ax, key, mark in zip(fig.axes, ("nonzero_params_x", "sparse_macs_x"), (23.98, 7.3), strict=True):
        bars = {c.get_label(): c for c in ax.containers}
        assert set(bars) == {"asnet", "pruned"}
        line, _, (whiskers,) = bars["asnet"].lines
        assert list(line.get_xdata()) == pytest.approx([row[key] for row in rows[:2]])
        assert list(line.get_ydata()) == pytest.approx([1.0, 5.0])  # points, not fractions
        assert [tuple(seg[:, 1]) for seg in whiskers.get_segments()] == [pytest.approx((0.0, 3.0)),
                                                                       pytest.approx((4.0, 7.0))]
        assert any(k.startswith("paper") and list(v[0]) == [mark, mark] for k, v in line_data(ax).items())
    with pytest.raises(ValueError, match="no frontier rows"):
        plotting.frontier_curves([], paper=(23.98, 7.3))
