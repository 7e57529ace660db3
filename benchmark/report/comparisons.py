"""The comparisons a report makes over seeds: scores with intervals, pairwise probabilities of improvement,
ranks that tie where the data do not separate, and tuning-budget curves (statistics: stats.py).

Scores are read from a runs frame (tables.runs_frame). A run that diverged has no score: in comparisons it
counts as worse than any run that finished (FID +inf); a run that failed (a bug, a crash) says nothing
about its regularizer and is left out.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .stats import FLOORS, expected_best, mean_ci, probability_of_improvement, separated

METRICS = {"fid": "fid", "is": "inception_score_mean", "kid": "kid_mean"}  # prefix -> result column


def settings_of(df: pd.DataFrame) -> list[str]:
    return sorted(df["setting"].unique())


def regularizers_of(df: pd.DataFrame) -> list[str]:
    return [str(r) for r in df["regularizer"].cat.categories if (df["regularizer"] == r).any()]


def fid_scores(df: pd.DataFrame, reg: str, setting: str) -> np.ndarray:
    """The FIDs of a regularizer's runs at a setting: diverged runs as +inf, failed runs left out."""
    runs = df[(df["regularizer"] == reg) & (df["setting"] == setting) & df["status"].isin(["ok", "diverged"])]
    return np.where(runs["status"] == "ok", runs["fid"].astype(float).fillna(np.inf), np.inf)


def scores_table(df: pd.DataFrame) -> pd.DataFrame:
    """One row per regularizer and setting: how many runs finished, and each score's mean over them with its
    95% interval (fid_, is_, kid_ mean / ci_low / ci_high)."""
    rows = []
    for reg in regularizers_of(df):
        for setting in settings_of(df):
            runs = df[(df["regularizer"] == reg) & (df["setting"] == setting)]
            if runs.empty:
                continue
            ok = runs[runs["status"] == "ok"]
            row = {"regularizer": reg, "setting": setting, "runs": len(runs), "ok": len(ok),
                   "diverged": int((runs["status"] == "diverged").sum()), "failed": int((runs["status"] == "failed").sum())}
            for prefix, col in METRICS.items():
                mean, low, high = mean_ci(ok[col].astype(float), FLOORS.get(col))
                row.update({f"{prefix}_mean": mean, f"{prefix}_ci_low": low, f"{prefix}_ci_high": high})
            rows.append(row)
    return pd.DataFrame(rows)


def pairwise_table(df: pd.DataFrame) -> pd.DataFrame:
    """For every setting and ordered pair of regularizers (a, b): P(a run of a has a lower FID than a run of
    b) over seed pairs, its 95% interval, the one-sided Mann-Whitney p-value and the runs compared."""
    rows = []
    for setting in settings_of(df):
        present = [r for r in regularizers_of(df) if len(fid_scores(df, r, setting))]
        for a in present:
            for b in present:
                if a != b:
                    rows.append({"setting": setting, "a": a, "b": b,
                                 **probability_of_improvement(fid_scores(df, a, setting), fid_scores(df, b, setting))})
    columns = ["setting", "a", "b", "p_a_better", "ci_low", "ci_high", "mw_p", "n_a", "n_b"]
    return pd.DataFrame(rows, columns=columns).astype({"p_a_better": float, "ci_low": float, "ci_high": float,
                                                       "mw_p": float, "n_a": int, "n_b": int})


def best_settings(df: pd.DataFrame) -> dict[str, str]:
    """Each regularizer's best setting: the lowest mean FID over its seeds (a setting where any run diverged
    ranks below every setting where all finished)."""
    best = {}
    for reg in regularizers_of(df):
        means = {s: float(np.mean(x)) for s in settings_of(df) if len(x := fid_scores(df, reg, s))}
        if means:
            best[reg] = min(means, key=lambda s: (means[s], s))
    return best


def tied_ranks(df: pd.DataFrame) -> dict[str, int]:
    """A rank per regularizer at its best setting: 1 + the number of regularizers whose best runs beat its
    best runs beyond the interval (P(b better) with its low bound above 0.5). Regularizers the data do not
    separate share a rank; with one seed nothing separates and every regularizer ranks 1."""
    best = best_settings(df)
    ranks = {}
    for a, sa in best.items():
        ahead = 0
        for b, sb in best.items():
            if b != a and separated(probability_of_improvement(fid_scores(df, b, sb), fid_scores(df, a, sa))) == 1:
                ahead += 1
        ranks[a] = 1 + ahead
    return ranks


def budget_table(df: pd.DataFrame) -> pd.DataFrame:
    """Expected best FID when k of a regularizer's settings are tried at random, k = 1..number of settings
    (Kurach et al. 2019), per seed, then mean and 95% interval over seeds. A diverged run counts as the worst
    FID of the comparison (it produced nothing better); a seed missing a setting (failed, not run) is left out."""
    finite = df.loc[df["status"] == "ok", "fid"].astype(float)
    worst = float(finite.max()) if len(finite) else math.nan
    rows = []
    for reg in regularizers_of(df):
        runs = df[(df["regularizer"] == reg) & df["status"].isin(["ok", "diverged"])]
        settings = settings_of(df[df["regularizer"] == reg])
        curves = []
        for _, seed_runs in runs.groupby("seed"):
            by_setting = {s: (r["fid"] if r["status"] == "ok" and pd.notna(r["fid"]) else worst)
                          for s, r in seed_runs.drop_duplicates("setting").set_index("setting").iterrows()}
            if set(by_setting) == set(settings):
                vals = [by_setting[s] for s in settings]
                curves.append([expected_best(vals, k) for k in range(1, len(vals) + 1)])
        for k in range(1, len(settings) + 1):
            mean, low, high = mean_ci([c[k - 1] for c in curves], FLOORS["fid"])
            rows.append({"regularizer": reg, "k": k, "settings": len(settings), "expected_best_fid": mean,
                         "ci_low": low, "ci_high": high, "seeds": len(curves)})
    return pd.DataFrame(rows, columns=["regularizer", "k", "settings", "expected_best_fid", "ci_low", "ci_high",
                                       "seeds"])
