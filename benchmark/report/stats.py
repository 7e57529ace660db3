"""Statistics for comparisons over seeds, chosen for GAN runs, which either train or collapse: a cell of runs
is summarized by its median, interquartile mean and success rate (not a mean +- t, which describes neither the
runs that trained nor those that collapsed); two cells are compared by an exact test, corrected for the
comparisons made, with the probability of improvement as the effect size; every undecided comparison says how
many seeds would decide it. scipy does the statistics; what is written here, it lacks:

- The exact Mann-Whitney p-value with ties (``mw_p_less``). scipy's exact distribution assumes no ties, and
  its permutation test enumerates C(n_a + n_b, n_a) splits (184,756 at 10 vs 10, 40 ms a pair) or samples
  them. Diverged runs (FID +inf) tie with each other, so ties are common here. The permutation distribution of
  the rank sum is a sum over tie groups of (runs of A in the group) x (its midrank), so it is counted exactly
  by a dynamic programme over the groups in O(groups x n_a x n_a N): microseconds at 10 vs 10.
- Power by simulation (``Power``): the exact test's rejection rate for a shift of the median FID by a factor,
  with noise from the observed cells themselves (their log-FID residuals about each cell's median, pooled, so
  collapse and its bimodality are in it), smoothed (a normal kernel of Silverman's bandwidth) so that
  simulated runs do not tie.
- Budget curves from each setting's distribution (``expected_best``): the expected best FID when k settings
  are tried at random with one run each, exact over all k-subsets through elementary symmetric polynomials
  of the settings' survival functions.
"""
from __future__ import annotations

import math
from functools import lru_cache
from itertools import combinations, product

import numpy as np
from scipy import stats

CONFIDENCE = 0.95
ALPHA = 0.05  # a comparison is "separated" when its p-value, corrected for its family, is at most this
BOOTSTRAP_RESAMPLES = 2000
POWER_TARGET = 0.8
POWER_SIMULATIONS = 2000
MAX_SEEDS = 100  # seeds-needed searches stop here ("more than 100")
EXACT_MAX_PAIRS = 2500  # n_a * n_b up to which p-values are exact (50 vs 50); beyond, normal with tie correction

# the least value a score can take: a t interval is symmetric, and FID, KID (>= 0) and IS (>= 1) are not
FLOORS = {"fid": 0.0, "kid_mean": 0.0, "inception_score_mean": 1.0}


def _values(values) -> np.ndarray:
    """Scores as floats; NaN (no score: a diverged run) as +inf, the worst FID."""
    x = np.asarray([math.inf if v is None else v for v in values], dtype=float)
    return np.where(np.isnan(x), math.inf, x)


def mean_ci(values, floor: float | None = None) -> tuple[float, float, float]:
    """(mean, low, high) of the finite values: Student's t interval, its low end clipped at ``floor`` (a score
    that cannot go lower); NaN bounds with fewer than 2 values. Kept for scores.csv, not for verdicts."""
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


def median_ci(values, confidence: float = CONFIDENCE) -> tuple[float, float, float, float]:
    """(median, low, high, coverage): the distribution-free interval [x_(j), x_(n+1-j)] between order
    statistics, whose coverage 1 - 2 P(Binomial(n, 1/2) < j) holds whatever the distribution (collapse
    included). j is the largest with coverage >= ``confidence``; below 6 runs none reaches 95%, so the
    interval is the range and ``coverage`` says what it covers (3 runs: 75%, 5: 94%). NaN scores count +inf."""
    x = np.sort(_values(values))
    n = len(x)
    if n == 0:
        return math.nan, math.nan, math.nan, math.nan
    median = float(np.median(x))
    if n < 2:
        return median, math.nan, math.nan, math.nan
    j, coverage = _order_statistic(n, confidence)
    return median, float(x[j - 1]), float(x[n - j]), coverage


def _order_statistic(n: int, confidence: float = CONFIDENCE) -> tuple[int, float]:
    """(j, coverage) of median_ci's interval [x_(j), x_(n+1-j)] for n >= 2 runs."""
    cover = [1 - 2 * stats.binom.cdf(j - 1, n, 0.5) for j in range(1, n // 2 + 1)]
    j = max([i + 1 for i, c in enumerate(cover) if c >= confidence - 1e-12] or [1])
    return j, float(cover[j - 1])


def median_coverage(n: int, confidence: float = CONFIDENCE) -> float:
    """What median_ci's interval over n runs covers (NaN below 2 runs): 0.75 at 3, >= 0.95 from 6."""
    return _order_statistic(n, confidence)[1] if n >= 2 else math.nan


def iqm_ci(values, *, seed: int = 0) -> tuple[float, float, float]:
    """(IQM, low, high): the interquartile mean (the mean of the middle half: ``scipy.stats.trim_mean`` at
    0.25, as rliable; it cuts floor(n/4) runs at each end, so up to 3 runs it is the mean) with a percentile
    bootstrap interval. A diverged run (+inf) kept in the middle half makes it +inf."""
    x = _values(values)
    if len(x) == 0:
        return math.nan, math.nan, math.nan
    iqm = float(stats.trim_mean(x, 0.25))
    if len(x) < 2:
        return iqm, math.nan, math.nan
    if np.all(x == x[0]):  # nothing to resample
        return iqm, iqm, iqm
    with np.errstate(invalid="ignore"):  # inf - inf between two diverged runs: the bound is +inf
        res = stats.bootstrap((x,), lambda s, axis: stats.trim_mean(s, 0.25, axis=axis), vectorized=True,
                              confidence_level=CONFIDENCE, n_resamples=BOOTSTRAP_RESAMPLES, method="percentile",
                              rng=np.random.default_rng(seed))
    low, high = (float(v) for v in (res.confidence_interval.low, res.confidence_interval.high))
    return iqm, (math.inf if math.isnan(low) else low), (math.inf if math.isnan(high) else high)


def success_rate(values, threshold: float) -> dict:
    """The share of runs whose FID is below ``threshold`` (trained, not collapsed or diverged), with its Wilson
    95% interval (``scipy.stats.binomtest``)."""
    x = _values(values)
    k, n = int((x < threshold).sum()), len(x)
    if n == 0:
        return {"successes": 0, "n": 0, "rate": math.nan, "low": math.nan, "high": math.nan}
    ci = stats.binomtest(k, n).proportion_ci(confidence_level=CONFIDENCE, method="wilson")
    return {"successes": k, "n": n, "rate": k / n, "low": float(ci.low), "high": float(ci.high)}


@lru_cache(maxsize=4096)
def _rank_sum_distribution(groups: tuple[int, ...], n_a: int) -> np.ndarray:
    """Under the permutation null: the probability of each value of twice A's midrank sum (the index), for
    tie groups of the given sizes, in ascending order of their values."""
    sizes = np.asarray(groups)
    starts = np.cumsum(sizes) - sizes
    two_mid = 2 * starts + sizes + 1  # twice the midrank of each group: an integer
    width = int(2 * n_a * sizes.sum()) + 1
    ways = np.zeros((n_a + 1, width))
    ways[0, 0] = 1.0
    for m, t in zip(sizes, two_mid):
        new = np.zeros_like(ways)
        for j in range(min(m, n_a) + 1):  # j of A's runs in this group
            shift = j * t
            new[j:, shift:] += math.comb(m, j) * ways[:n_a + 1 - j, :width - shift]
        ways = new
    return ways[n_a] / math.comb(int(sizes.sum()), n_a)


def mw_p_less(a, b) -> float:
    """The exact one-sided Mann-Whitney p-value for H1: A's scores are stochastically smaller (better FIDs)
    than B's: the share of the C(n_a + n_b, n_a) relabellings of the pooled runs whose midrank sum for A is at
    most the observed one. Ties (diverged runs, +inf, tie with each other) are handled exactly. Beyond
    ``EXACT_MAX_PAIRS`` pairs, the normal approximation with tie correction (accurate there)."""
    a, b = _values(a), _values(b)
    if len(a) == 0 or len(b) == 0:
        return math.nan
    if len(a) * len(b) > EXACT_MAX_PAIRS:
        finite = np.nan_to_num(np.concatenate([a, b]), posinf=np.finfo(float).max)
        return float(stats.mannwhitneyu(finite[:len(a)], finite[len(a):], alternative="less",
                                        method="asymptotic").pvalue)
    pooled = np.concatenate([a, b])
    _, inverse, counts = np.unique(pooled, return_inverse=True, return_counts=True)
    two_mid = 2 * (np.cumsum(counts) - counts) + counts + 1
    observed = int(two_mid[inverse[:len(a)]].sum())
    pmf = _rank_sum_distribution(tuple(int(c) for c in counts), len(a))
    return float(min(1.0, pmf[:observed + 1].sum()))


def mw_p_two_sided(a, b) -> float:
    """Twice the smaller exact one-sided p-value (at most 1)."""
    p = min(mw_p_less(a, b), mw_p_less(b, a))
    return math.nan if math.isnan(p) else min(1.0, 2 * p)


def mw_p_brute_force(a, b) -> float:
    """mw_p_less by enumerating every relabelling, for the tests."""
    pooled = np.concatenate([_values(a), _values(b)])
    ranks = stats.rankdata(pooled)
    observed = ranks[:len(a)].sum()
    sums = [ranks[list(c)].sum() for c in combinations(range(len(pooled)), len(a))]
    return float(np.mean(np.asarray(sums) <= observed + 1e-9))


def holm(pvalues) -> np.ndarray:
    """Holm's step-down correction of a family of p-values (NaN stays NaN, outside the family): the i-th
    smallest times (m - i + 1), made non-decreasing, at most 1. Five lines rather than statsmodels'
    ``multipletests``, which calls ``gc.collect`` on every call (0.35 s each: minutes over a big report's
    families); the tests check the two agree."""
    p = np.asarray(pvalues, dtype=float)
    out = np.full(len(p), math.nan)
    known = np.flatnonzero(~np.isnan(p))
    order = known[np.argsort(p[known], kind="stable")]
    scaled = p[order] * (len(order) - np.arange(len(order)))
    out[order] = np.minimum(1.0, np.maximum.accumulate(scaled)) if len(order) else scaled
    return out


def probability_of_improvement(a, b, *, seed: int = 0) -> dict:
    """P(a run of A scores lower than a run of B) over all run pairs (ties half: the Mann-Whitney U over
    n_a n_b, Agarwal et al. 2021) with its 95% interval (``p_better_interval``), and the exact one-sided
    p-values of both directions. Non-finite scores (a diverged run) count as the worst."""
    a, b = _values(a), _values(b)
    p = float(((a[:, None] < b[None, :]) + 0.5 * (a[:, None] == b[None, :])).mean()) if len(a) and len(b) else math.nan
    out = {"p_a_better": p, "ci_low": math.nan, "ci_high": math.nan, "p_less": mw_p_less(a, b),
           "p_greater": mw_p_less(b, a), "n_a": len(a), "n_b": len(b)}
    if len(a) < 2 or len(b) < 2:
        return out
    out["ci_low"], out["ci_high"] = p_better_interval(p, len(a), len(b))
    return out


def p_better_interval(theta: float, n_a: int, n_b: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Newcombe's (2006) method 5 for the Mann-Whitney probability: the Wilson-style inversion of Hanley and
    McNeil's variance, V(t) = t (1 - t) / (n_a n_b) x [1 + (N - 1)(1 - t) / (2 - t) + (N - 1) t / (1 + t)] with
    N = (n_a + n_b) / 2 - 1: the interval is every t with |theta - t| <= z sqrt(V(t)). Unlike the percentile
    bootstrap, which collapses to [1, 1] when every pair favours A, it keeps its coverage near 0 and 1
    (tests/test_comparisons.py simulates it at 10 v 10). scipy has no interval for this statistic."""
    from scipy.optimize import brentq

    z = stats.norm.ppf(0.5 + confidence / 2)
    big_n = (n_a + n_b) / 2 - 1

    def gap(t):  # > 0 inside the interval, < 0 outside
        v = t * (1 - t) / (n_a * n_b) * (1 + big_n * (1 - t) / (2 - t) + big_n * t / (1 + t))
        return z * math.sqrt(max(v, 0.0)) - abs(theta - t)

    low = 0.0 if theta <= 0 else brentq(gap, 0.0, min(theta, 1 - 1e-12))
    high = 1.0 if theta >= 1 else brentq(gap, max(theta, 1e-12), 1.0)
    return float(low), float(high)


def smallest_p(n_a: int, n_b: int) -> float:
    """The smallest one-sided p-value n_a vs n_b runs can give: 1 / C(n_a + n_b, n_a) (0.05 at 3 vs 3)."""
    return 1 / math.comb(n_a + n_b, n_a)


def log_residuals(cells) -> np.ndarray:
    """Log-FID residuals about each cell's median, pooled over cells with 2 runs or more (finished runs: a
    diverged run is counted by the success rate, not by the spread)."""
    out = []
    for cell in cells:
        x = _values(cell)
        x = np.log(x[np.isfinite(x) & (x > 0)])
        if len(x) >= 2:
            out.append(x - np.median(x))
    return np.concatenate(out) if out else np.zeros(0)


class Power:
    """The exact one-sided test's power against a shift of B's median log FID above A's, simulated with noise
    drawn from ``residuals`` (log_residuals of the observed cells) by a smoothed bootstrap. The same draws for
    every shift (common random numbers), so power grows with the shift and a bisection finds the smallest
    detectable one."""

    def __init__(self, residuals, *, simulations: int = POWER_SIMULATIONS, seed: int = 0):
        r = np.asarray(residuals, dtype=float)
        self.residuals = r if len(r) >= 2 else np.zeros(2)
        spread = min(np.std(r, ddof=1), stats.iqr(r) / 1.349) if len(r) >= 2 else 0.0
        self.bandwidth = 0.9 * (spread or (np.std(r) if len(r) else 0.0) or 1e-3) * max(len(r), 2) ** -0.2
        self.simulations, self.seed = simulations, seed
        self._draws: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}

    def _noise(self, n_a: int, n_b: int):
        if (n_a, n_b) not in self._draws:
            rng = np.random.default_rng([self.seed, n_a, n_b])
            draw = lambda n: (rng.choice(self.residuals, (self.simulations, n))  # noqa: E731
                              + rng.normal(0.0, self.bandwidth, (self.simulations, n)))
            self._draws[(n_a, n_b)] = (draw(n_a), draw(n_b))
        return self._draws[(n_a, n_b)]

    def power(self, n_a: int, n_b: int, log_shift: float, alpha: float) -> float:
        critical = _critical_rank_sum(n_a, n_b, alpha)
        if critical is None:
            return 0.0
        a, b = self._noise(n_a, n_b)
        ranks = np.argsort(np.argsort(np.concatenate([a, b + log_shift], axis=1), axis=1), axis=1) + 1
        return float((ranks[:, :n_a].sum(axis=1) <= critical).mean())

    def smallest_detectable(self, n_a: int, n_b: int, alpha: float, target: float = POWER_TARGET) -> float:
        """The least factor between the medians that n_a vs n_b runs detect with ``target`` power (inf when
        none does: too few runs for any p-value this small)."""
        high = 12.0  # e^12: past any FID ratio
        if self.power(n_a, n_b, high, alpha) < target:
            return math.inf
        low = 0.0
        for _ in range(30):
            mid = (low + high) / 2
            low, high = (mid, high) if self.power(n_a, n_b, mid, alpha) < target else (low, mid)
        return float(math.exp(high))

    def seeds_needed(self, log_shift: float, alpha: float, target: float = POWER_TARGET,
                     most: int = MAX_SEEDS) -> int | None:
        """The least n (runs a side) whose power against ``log_shift`` reaches ``target``; None when the
        observed effect points the other way (no number of seeds decides for it), ``most + 1`` past ``most``."""
        if not log_shift > 0:
            return None
        if self.power(most, most, log_shift, alpha) < target:
            return most + 1
        low, high = 1, most  # power(low) < target <= power(high)
        while high - low > 1:
            mid = (low + high) // 2
            low, high = (mid, high) if self.power(mid, mid, log_shift, alpha) < target else (low, mid)
        return high


@lru_cache(maxsize=1024)
def _critical_rank_sum(n_a: int, n_b: int, alpha: float) -> float | None:
    """The largest rank sum of A (ranks 1..N, no ties) at which the exact one-sided test rejects at
    ``alpha``; None when no rank sum can (too few runs)."""
    if n_a * n_b > EXACT_MAX_PAIRS:  # normal approximation of the rank sum
        mean, sd = n_a * (n_a + n_b + 1) / 2, math.sqrt(n_a * n_b * (n_a + n_b + 1) / 12)
        return mean + sd * stats.norm.ppf(alpha)
    pmf = _rank_sum_distribution((1,) * (n_a + n_b), n_a)  # over 2S
    cdf = np.cumsum(pmf)
    ok = np.nonzero(cdf <= alpha + 1e-12)[0]
    return None if len(ok) == 0 else ok[-1] / 2


def expected_best_curve(cells, weights=None) -> np.ndarray:
    """The expected best (least) FID when k of the settings are picked at random (every k-subset alike) and one
    run is drawn from each setting's runs, for k = 1..m: E[min] is the integral of P(min > t), and the mean over
    k-subsets of the product of the settings' survival functions is e_k(S_1(t), .., S_m(t)) / C(m, k).
    ``weights``: per cell, (resamples, n_s) how often each run was drawn (a bootstrap); returns (resamples, m)
    then, else (m,)."""
    cells = [np.asarray(c, dtype=float) for c in cells]
    m = len(cells)
    t = np.unique(np.concatenate(cells))
    batch = weights is not None
    weights = weights or [np.ones((1, len(c))) for c in cells]
    e = np.zeros((m + 1, len(weights[0]), len(t)))
    e[0] = 1.0
    for c, w in zip(cells, weights):
        survival = (w @ (c[:, None] > t[None, :])) / w.sum(axis=1, keepdims=True)  # P(X_s > t), every t at once
        e[1:] = e[1:] + e[:-1] * survival
    tails = e[1:] / np.array([math.comb(m, k) for k in range(1, m + 1)])[:, None, None]  # P(min > t_i)
    curve = (t[0] + (tails[..., :-1] * np.diff(t)).sum(axis=-1)).T  # (resamples, m)
    return curve if batch else curve[0]


def expected_best(cells, k: int) -> float:
    m = len(cells)
    if not 1 <= k <= m:
        raise ValueError(f"k must be in 1..{m}, got {k}")
    return float(expected_best_curve(cells)[k - 1])


def expected_best_brute_force(cells, k: int) -> float:
    """The same by enumerating every k-subset of settings and every choice of one run from each."""
    means = [np.mean([min(choice) for choice in product(*subset)]) for subset in combinations(cells, k)]
    return float(np.mean(means))


def _binom_tails(n: int) -> tuple[np.ndarray, np.ndarray]:
    """For k = 1..n: P(Bin(n, 1/2) <= k - 1) and P(Bin(n, 1/2) >= k)."""
    k = np.arange(1, n + 1)
    return stats.binom.cdf(k - 1, n, 0.5), stats.binom.sf(k - 1, n, 0.5)


def median_ratio_p(a, b, factor: float) -> tuple[float, float]:
    """One-sided p-values for the medians' ratio against ``factor``: (p for H1 median(A) < factor x median(B),
    p for H1 median(A) > factor x median(B)). Distribution-free: an order statistic X_(k) bounds A's median from
    above with probability P(Bin(n_a, 1/2) <= k - 1), Y_(j) bounds B's from below with P(Bin(n_b, 1/2) >= j),
    and the two errors add (Bonferroni), so a claim on the ratio holds at level alpha when some X_(k) / Y_(j)
    lies below ``factor`` with errors summing to alpha; the p-value is the least such sum. This tests what a
    non-inferiority finding states (a ratio of medians), where a Mann-Whitney test of A against factor x B
    tests P(A < factor B) > 1/2, which differs when cells are bimodal, as GAN cells are."""
    x, y = np.sort(_values(a)), np.sort(_values(b))
    if len(x) == 0 or len(y) == 0:
        return math.nan, math.nan
    below_a, above_a = _binom_tails(len(x))  # X_(k) >= median(A) w.p. below_a[k-1]; X_(k) <= median(A): above_a
    below_b, above_b = _binom_tails(len(y))
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = x[:, None] / y[None, :]  # inf / inf: NaN, decides nothing
    err_for = (1 - below_a)[:, None] + (1 - above_b)[None, :]
    err_against = (1 - above_a)[:, None] + (1 - below_b)[None, :]
    p_for = err_for[ratio < factor].min(initial=1.0)
    p_against = err_against[ratio > factor].min(initial=1.0)
    return float(min(1.0, p_for)), float(min(1.0, p_against))


def median_ratio_ci(a, b, confidence: float = CONFIDENCE) -> tuple[float, float, float]:
    """(median(A) / median(B), low, high): the distribution-free bounds that median_ratio_p inverts, each
    one-sided at error (1 - confidence) / 2 (so 0 and inf where no order statistics reach it)."""
    x, y = np.sort(_values(a)), np.sort(_values(b))
    if len(x) == 0 or len(y) == 0:
        return math.nan, math.nan, math.nan
    err = (1 - confidence) / 2
    below_a, above_a = _binom_tails(len(x))
    below_b, above_b = _binom_tails(len(y))
    with np.errstate(invalid="ignore", divide="ignore"):
        point = float(np.median(x) / np.median(y))
        ratio = x[:, None] / y[None, :]
    highs = ratio[(((1 - below_a)[:, None] + (1 - above_b)[None, :]) <= err) & ~np.isnan(ratio)]
    lows = ratio[(((1 - above_a)[:, None] + (1 - below_b)[None, :]) <= err) & ~np.isnan(ratio)]
    return point, float(lows.max()) if len(lows) else 0.0, float(highs.min()) if len(highs) else math.inf


def _ratio_p_for_batch(x: np.ndarray, y: np.ndarray, factor: float) -> np.ndarray:
    """median_ratio_p's first p-value for each row of sorted (sims, n_a) and (sims, n_b) samples at once."""
    below_a, _ = _binom_tails(x.shape[1])
    _, above_b = _binom_tails(y.shape[1])
    err = (1 - below_a)[:, None] + (1 - above_b)[None, :]
    with np.errstate(invalid="ignore", divide="ignore"):
        ok = x[:, :, None] / y[:, None, :] < factor
    return np.where(ok, err[None], 1.0).reshape(len(x), -1).min(axis=1)


def resampled_power(a, b, n: int, alpha: float, *, factor: float = 1.0, simulations: int = 400,
                    seed: int = 0) -> float:
    """The chance that n vs n runs drawn from the observed cells themselves (with replacement: their collapsed
    and diverged runs included, their bimodality kept) reproduce the claim at ``alpha``: the exact test's
    normal approximation with tie correction (scipy) for superiority, median_ratio_p for a ratio."""
    a, b = _values(a), _values(b)
    rng = np.random.default_rng([seed, n])
    x = np.sort(rng.choice(a, (simulations, n)), axis=1)
    y = np.sort(rng.choice(b, (simulations, n)), axis=1)
    if factor != 1:
        return float((_ratio_p_for_batch(x, y, factor) <= alpha).mean())
    big = np.finfo(float).max
    p = stats.mannwhitneyu(np.minimum(x, big), np.minimum(y, big), alternative="less", axis=1,
                           method="asymptotic").pvalue
    return float((np.nan_to_num(p, nan=1.0) <= alpha).mean())


def seeds_needed_resampled(a, b, alpha: float, *, factor: float = 1.0, target: float = POWER_TARGET,
                           most: int = MAX_SEEDS) -> int | None:
    """The least n (runs a side) at which resampled_power reaches ``target``; None when not even ``most`` do
    (the observed cells do not support the claim enough: more seeds are not expected to reproduce it)."""
    if resampled_power(a, b, most, alpha, factor=factor) < target:
        return None
    low, high = 1, most  # power(low) < target <= power(high), power taken as growing with n
    while high - low > 1:
        mid = (low + high) // 2
        low, high = (mid, high) if resampled_power(a, b, mid, alpha, factor=factor) < target else (low, mid)
    return high
