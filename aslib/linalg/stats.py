"""Uncertainty of the kit's claims: means with their standard deviation and Student-t confidence intervals,
and paired differences (two methods measured on the same crafting sets).

Plain Python floats in and out (a claim is computed from a handful of repeats). The Student-t
quantile comes from the regularised incomplete beta function (continued fraction, Lentz's method)
inverted by bisection, accurate to about 1e-10.
"""
from __future__ import annotations

import math
import numbers
import random
from dataclasses import dataclass
from typing import Sequence

from aslib.contracts import Count, Fraction, NonNegativeReal, PositiveReal, Proportion, contract


@contract
@dataclass(frozen=True)
class Estimate:
    """A mean over ``n`` repeats with its sample standard deviation (ddof 1) and a two-sided
    confidence interval ``(low, high)`` at ``level`` (None when ``n < 2``)."""

    mean: float
    std: NonNegativeReal
    n: Count
    low: float | None
    high: float | None
    level: Fraction

    def __str__(self) -> str:
        ci = "" if self.low is None else f", {100 * self.level:g} % CI [{self.low:.3f}, {self.high:.3f}]"
        return f"{self.mean:.3f} ± {self.std:.3f} (n = {self.n}{ci})"


def _betacf(a: float, b: float, x: float) -> float:
    tiny, eps = 1e-300, 1e-15
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1)
    d = 1 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 300):
        for numerator in (m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
                          -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))):
            d = 1 + numerator * d
            d = 1 / (d if abs(d) > tiny else tiny)
            c = 1 + numerator / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1) < eps:
            break
    return h


@contract
def incomplete_beta(a: PositiveReal, b: PositiveReal, x: Proportion) -> float:
    """Regularised incomplete beta function ``I_x(a, b)`` for ``a, b > 0`` and ``0 <= x <= 1``."""
    if x in (0.0, 1.0):
        return x
    log_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    if x < (a + 1) / (a + b + 2):
        return math.exp(log_front) * _betacf(a, b, x) / a
    return 1 - math.exp(log_front) * _betacf(b, a, 1 - x) / b


@contract
def t_cdf(t: numbers.Real, df: PositiveReal) -> float:
    """Cumulative distribution function of Student's t with ``df > 0`` degrees of freedom."""
    square = t * t
    if square < df:  # small |t|: the complementary form keeps the precision near the median
        tail = 0.5 * (1 - incomplete_beta(0.5, df / 2, square / (df + square)))
    else:
        tail = 0.5 * incomplete_beta(df / 2, 0.5, df / (df + square))
    return 1 - tail if t > 0 else tail


@contract
def t_quantile(p: Fraction, df: PositiveReal) -> float:
    """The ``p``-quantile of Student's t with ``df`` degrees of freedom (``0 < p < 1``), by bisection."""
    low, high = -1.0, 1.0
    while t_cdf(low, df) > p:
        low *= 2
    while t_cdf(high, df) < p:
        high *= 2
    for _ in range(200):
        mid = (low + high) / 2
        if t_cdf(mid, df) < p:
            low = mid
        else:
            high = mid
        if high - low < 1e-12 * max(1.0, abs(mid)):
            break
    return (low + high) / 2


@contract
def beta_quantile(p: Fraction, a: PositiveReal, b: PositiveReal) -> float:
    """The ``p``-quantile of the Beta(``a``, ``b``) distribution (``0 < p < 1``), by bisection on
    :func:`incomplete_beta`. The squared length of the projection of a random unit vector of ``R^d`` onto a
    fixed ``k``-dimensional subspace is Beta(k/2, (d-k)/2): its quantiles say what share of a direction
    lying in a subspace chance alone gives."""
    low, high = 0.0, 1.0
    for _ in range(200):
        mid = (low + high) / 2
        if incomplete_beta(a, b, mid) < p:
            low = mid
        else:
            high = mid
        if high - low < 1e-14:
            break
    return (low + high) / 2


@contract
def estimate(values: Sequence[numbers.Real], level: Fraction = 0.95) -> Estimate:
    """Mean, sample standard deviation and the Student-t confidence interval of the mean of ``values``."""
    xs = [float(v) for v in values]
    if not xs:
        raise ValueError("no values: an estimate needs at least one repeat")
    if not all(math.isfinite(v) for v in xs):
        raise ValueError(f"values must be finite, got {xs}")
    n, mean = len(xs), sum(xs) / len(xs)
    if n < 2:
        return Estimate(mean, 0.0, n, None, None, level)
    std = math.sqrt(sum((v - mean) ** 2 for v in xs) / (n - 1))
    half = t_quantile(0.5 + level / 2, n - 1) * std / math.sqrt(n)
    return Estimate(mean, std, n, mean - half, mean + half, level)


@contract
def paired_difference(a: Sequence[numbers.Real], b: Sequence[numbers.Real], level: Fraction = 0.95) -> Estimate:
    """The mean of ``a[i] - b[i]`` over paired repeats (the same crafting set ``i``) with its interval."""
    if len(a) != len(b):
        raise ValueError(f"paired values need the same number of repeats, got {len(a)} and {len(b)}")
    return estimate([x - y for x, y in zip(a, b)], level)


@contract
def normal_quantile(p: Fraction) -> float:
    """The ``p``-quantile of the standard normal distribution (``0 < p < 1``), by bisection on ``erf``."""
    low, high = -40.0, 40.0
    for _ in range(200):
        mid = (low + high) / 2
        if 0.5 * (1 + math.erf(mid / math.sqrt(2))) < p:
            low = mid
        else:
            high = mid
    return (low + high) / 2


@contract
def proportion_interval(successes, n: Count, level: Fraction = 0.95) -> tuple[float, float]:
    """Wilson score interval of a proportion ``successes / n`` (e.g. an accuracy on ``n`` test images)."""
    if isinstance(successes, bool) or not isinstance(successes, numbers.Integral):  # not declared: its own hint
        raise ValueError(f"successes is a count and must be an int, got {successes!r} (an accuracy? pass "
                         "round(accuracy * n) correct of n)")
    if not 0 <= successes <= n:
        raise ValueError(f"need 0 <= successes <= n and n >= 1, got {successes} of {n}")
    z, p = normal_quantile(0.5 + level / 2), successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


@contract
def difference_of_proportions(p1: Proportion, p2: Proportion, n1: Count, n2: Count,
                              level: Fraction = 0.95) -> tuple[float, float]:
    """Normal (Wald) interval of ``p1 - p2`` for independent proportions on ``n1`` and ``n2`` samples.

    On the same test images (paired) the true interval is narrower, so this one is conservative.
    """
    z = normal_quantile(0.5 + level / 2)
    half = z * math.sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2)
    return p1 - p2 - half, p1 - p2 + half


@contract
def random_share_p_value(shares: Sequence[Proportion], rank: Count, dim: Count, *, draws: Count = 100_000,
                         seed: int = 0) -> float:
    """One-sided p-value of the mean of ``shares`` (each ``||V_k^T v||^2 / ||v||^2`` of one vector ``v`` in a
    ``rank``-dimensional subspace ``V_k`` of R^``dim``) against directions drawn uniformly on the sphere.

    A uniform unit vector's share of a fixed ``rank``-dimensional subspace is Beta(rank / 2, (dim - rank) / 2)
    (mean ``rank / dim``) whatever the subspace; the p-value is the fraction of ``draws`` means of ``len(shares)``
    such independent shares that reach the observed mean, ``(hits + 1) / (draws + 1)`` (Monte Carlo with a seeded
    ``random.Random``; its standard error is about ``sqrt(p / draws)``)."""
    if not shares:
        raise ValueError("shares is empty: pass the share of each vector (one per crafting set)")
    if rank >= dim:
        raise ValueError(f"rank ({rank}) must be below dim ({dim}): a subspace of every direction holds all of v")
    generator = random.Random(seed)
    a, b, n = rank / 2, (dim - rank) / 2, len(shares)
    observed = sum(shares) / n
    hits = sum(sum(generator.betavariate(a, b) for _ in range(n)) / n >= observed for _ in range(draws))
    return (hits + 1) / (draws + 1)
