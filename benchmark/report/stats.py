"""Uncertainty for comparisons over seeds: confidence intervals of means, the probability of improvement
between two regularizers, and expected-best-score budget curves. scipy does the statistics; this module
only decides what is compared with what.

- A mean over seeds gets Student's t 95% interval (``scipy.stats.t``): with 3 seeds it is the mean
  +- 2.48 standard deviations (t = 4.30 over sqrt(3)), wide on purpose.
- P(A better than B) is the probability that a run of A scores better than a run of B, over all seed
  pairs (ties count half): the Mann-Whitney U statistic over n_a * n_b, as Agarwal et al. (2021) use it.
  Its interval is scipy's percentile bootstrap (``scipy.stats.bootstrap``, both samples resampled), as in
  their rliable library. With 3 seeds a side it is optimistic (every resample of a clean sweep is a clean
  sweep), so the exact one-sided Mann-Whitney p-value is reported beside it.
- A budget curve is the expected best score when k of a regularizer's settings are tried at random
  (Lucic et al. 2018; Kurach et al. 2019), computed exactly over all k-subsets.
"""
from __future__ import annotations

import math
from itertools import combinations

import numpy as np
from scipy import stats

CONFIDENCE = 0.95
BOOTSTRAP_RESAMPLES = 2000


# the least value a score can take: a t interval is symmetric, and FID, KID (>= 0) and IS (>= 1) are not
FLOORS = {"fid": 0.0, "kid_mean": 0.0, "inception_score_mean": 1.0}


def mean_ci(values, floor: float | None = None) -> tuple[float, float, float]:
    """(mean, low, high) of the finite values: Student's t interval, its low end clipped at ``floor`` (a score
    that cannot go lower); NaN bounds with fewer than 2 values."""
    x = np.asarray([v for v in values if v is not None and np.isfinite(v)], dtype=float)
    if len(x) == 0:
        return math.nan, math.nan, math.nan
    mean = float(x.mean())
    if len(x) < 2:
        return mean, math.nan, math.nan
    sem = float(stats.sem(x))
    if sem == 0:
        return mean, mean, mean
    low, high = stats.t.interval(CONFIDENCE, len(x) - 1, loc=mean, scale=sem)
    return mean, float(low if floor is None else max(low, floor)), float(high)


def _p_better(a, b, axis=-1):
    """P(a < b) over all pairs (lower is better), ties half; vectorised over bootstrap resamples."""
    a, b = np.asarray(a)[..., :, None], np.asarray(b)[..., None, :]
    return ((a < b) + 0.5 * (a == b)).mean(axis=(-2, -1))


def probability_of_improvement(a, b, *, seed: int = 0) -> dict:
    """P(a run of A scores lower than a run of B) with its bootstrap interval and the exact one-sided
    Mann-Whitney p-value (H1: A lower). Non-finite scores (a diverged run: inf) count as the worst."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    a, b = np.where(np.isnan(a), np.inf, a), np.where(np.isnan(b), np.inf, b)
    p = float(_p_better(a, b))
    out = {"p_a_better": p, "ci_low": math.nan, "ci_high": math.nan, "mw_p": math.nan, "n_a": len(a), "n_b": len(b)}
    if len(a) < 2 or len(b) < 2:
        return out
    if np.all(a == a[0]) and np.all(b == b[0]):  # nothing to resample: the interval is the point
        out.update(ci_low=p, ci_high=p)
    else:
        res = stats.bootstrap((a, b), _p_better, vectorized=True, paired=False, confidence_level=CONFIDENCE,
                              n_resamples=BOOTSTRAP_RESAMPLES, method="percentile", rng=np.random.default_rng(seed))
        out.update(ci_low=float(res.confidence_interval.low), ci_high=float(res.confidence_interval.high))
    finite = np.nan_to_num(np.concatenate([a, b]), posinf=np.finfo(float).max)
    out["mw_p"] = float(stats.mannwhitneyu(finite[: len(a)], finite[len(a):], alternative="less",
                                           method="exact" if not _ties(finite) else "asymptotic").pvalue)
    return out


def _ties(x: np.ndarray) -> bool:
    return len(np.unique(x)) < len(x)


def separated(row: dict) -> int:
    """+1 when A is better than B beyond the interval (its low bound above 0.5), -1 when worse, 0: a tie."""
    if not np.isfinite(row["ci_low"]):
        return 0
    return 1 if row["ci_low"] > 0.5 else -1 if row["ci_high"] < 0.5 else 0


def expected_best(values, k: int) -> float:
    """The expected minimum of k values drawn without replacement from ``values``: sorted ascending, the
    i-th smallest is the minimum of C(n - i, k - 1) of the C(n, k) subsets."""
    x = np.sort(np.asarray(values, dtype=float))
    n = len(x)
    if not 1 <= k <= n:
        raise ValueError(f"k must be in 1..{n}, got {k}")
    weights = np.array([math.comb(n - 1 - i, k - 1) for i in range(n)], dtype=float) / math.comb(n, k)
    return float(np.dot(weights, x))


def expected_best_brute_force(values, k: int) -> float:
    """The same by enumeration, for the tests."""
    subsets = list(combinations(values, k))
    return float(np.mean([min(s) for s in subsets]))
