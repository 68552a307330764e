"""Confidence intervals of the claims, checked against SciPy."""
import math

import pytest
from scipy import special, stats as sp

from aslib.linalg import stats


@pytest.mark.parametrize("a, b, x", [(0.5, 0.5, 0.3), (2.0, 3.0, 0.9), (10.0, 0.5, 0.99), (4.5, 0.5, 0.01)])
def test_incomplete_beta_matches_scipy(a, b, x):
    assert stats.incomplete_beta(a, b, x) == pytest.approx(special.betainc(a, b, x), rel=1e-10, abs=1e-14)


@pytest.mark.parametrize("df", [1, 2, 4, 9, 30, 200])
@pytest.mark.parametrize("p", [0.025, 0.5, 0.9, 0.975, 0.999])
def test_t_quantile_matches_scipy(p, df):
    assert stats.t_quantile(p, df) == pytest.approx(sp.t.ppf(p, df), rel=1e-8, abs=1e-9)
    assert stats.t_cdf(sp.t.ppf(p, df), df) == pytest.approx(p, rel=1e-9)


@pytest.mark.parametrize("a, b", [(0.5, 0.5), (2.0, 1534.0), (5.0, 1531.0), (3.0, 7.0)])
@pytest.mark.parametrize("p", [0.05, 0.5, 0.95, 0.99])
def test_beta_quantile_matches_scipy(p, a, b):
    assert stats.beta_quantile(p, a, b) == pytest.approx(sp.beta.ppf(p, a, b), rel=1e-8, abs=1e-12)


def test_beta_quantile_rejects_bad_arguments():
    with pytest.raises(ValueError, match="p must be a number strictly between 0 and 1"):
        stats.beta_quantile(1.0, 1.0, 1.0)
    with pytest.raises(ValueError, match="a must be a finite number > 0"):
        stats.beta_quantile(0.5, 0.0, 1.0)


def test_estimate_and_paired_difference():
    values = [0.41, 0.45, 0.38, 0.50, 0.43]
    est = stats.estimate(values)
    sem = sp.sem(values)
    low, high = sp.t.interval(0.95, len(values) - 1, loc=sum(values) / 5, scale=sem)
    assert est.n == 5 and est.mean == pytest.approx(0.434)
    assert est.std == pytest.approx(sem * math.sqrt(5))
    assert (est.low, est.high) == (pytest.approx(low), pytest.approx(high))
    diff = stats.paired_difference([0.5, 0.6, 0.55], [0.3, 0.45, 0.3])
    assert diff.mean == pytest.approx(0.2) and diff.low > 0
    single = stats.estimate([0.3])
    assert single.low is None and single.std == 0.0 and "n = 1" in str(single)
    with pytest.raises(ValueError, match="same number of repeats"):
        stats.paired_difference([1.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="at least one repeat"):
        stats.estimate([])


def test_normal_quantile_and_proportion_intervals_match_scipy():
    for p in (0.025, 0.5, 0.975, 0.9995):
        assert stats.normal_quantile(p) == pytest.approx(sp.norm.ppf(p), abs=1e-9)
    low, high = stats.proportion_interval(871, 1000)
    from scipy.stats import binomtest

    wilson = binomtest(871, 1000).proportion_ci(0.95, method="wilson")
    assert (low, high) == (pytest.approx(wilson.low), pytest.approx(wilson.high))
    low, high = stats.difference_of_proportions(0.87, 0.75, 1000, 1000)
    half = 1.959963984540054 * math.sqrt(0.87 * 0.13 / 1000 + 0.75 * 0.25 / 1000)
    assert (low, high) == (pytest.approx(0.12 - half), pytest.approx(0.12 + half))
    with pytest.raises(ValueError, match="successes"):
        stats.proportion_interval(5, 3)


@pytest.mark.parametrize("share", [0.001, 0.002, 0.004])
def test_random_share_p_value_of_one_share_is_the_beta_tail(share):
    """A uniform unit vector's share of a fixed 4-dimensional subspace of R^3072 is Beta(2, 1534)."""
    p = stats.random_share_p_value([share], 4, 3072, draws=100_000)
    assert p == pytest.approx(sp.beta.sf(share, 2, 1534), abs=0.005)  # Monte Carlo standard error <= 0.0016


def test_random_share_p_value_of_several_shares_and_its_floor():
    draws = 20_000
    assert stats.random_share_p_value([0.009, 0.002, 0.016], 4, 3072, draws=draws) == 1 / (draws + 1)
    # shares at the null mean: the mean of three random shares reaches it about half the time
    assert 0.3 < stats.random_share_p_value([4 / 3072] * 3, 4, 3072, draws=draws) < 0.6
    with pytest.raises(ValueError, match="shares is empty"):
        stats.random_share_p_value([], 4, 3072)
    with pytest.raises(ValueError, match="must be below dim"):
        stats.random_share_p_value([0.5], 4, 4)
